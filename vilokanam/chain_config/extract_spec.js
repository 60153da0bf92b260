// Print the raw chain spec (with runtime code) of one chain known to @substrate/connect-known-chains.
// Usage (cwd = repo root holding node_modules): node extract_spec.js rococo_v2_2_asset_hub > spec.json
const name = process.argv[2];
const known = require(require.resolve("@substrate/connect-known-chains", { paths: [process.cwd()] }));
const entry = known[name];
if (entry === undefined) {
  console.error(`unknown chain ${name}; known: ${Object.keys(known).join(", ")}`);
  process.exit(2);
}
// The export is the spec string itself in 1.10.x; older releases wrap it as { chainSpec }.
process.stdout.write(typeof entry === "string" ? entry : entry.chainSpec);
