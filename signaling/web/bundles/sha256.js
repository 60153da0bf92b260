// Built into static/vendor/sha256.js by `make` (esbuild, from the npm registry's @noble/hashes).
// An incremental SHA-256: the upload page hashes a file of gigabytes piece by piece, where
// WebCrypto's digest() needs the whole file in memory and exists only on secure origins.
export { sha256 } from '@noble/hashes/sha2';
export { bytesToHex } from '@noble/hashes/utils';
