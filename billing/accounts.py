"""Substrate account identities: SS58 addresses <-> 32-byte public keys. Pure, no I/O.

Two addresses are the same account when their public keys are equal, whatever SS58 prefix they
were written with (generic 42, Polkadot 0, Kusama / Asset Hub 2, ...). Compare and index by
public key; show addresses in the connected chain's own format with :func:`to_ss58`.
"""

from __future__ import annotations

from scalecodec.utils.ss58 import ss58_decode, ss58_encode

PUBLIC_KEY_LENGTH = 32


def public_key(address: str) -> bytes:
    """The 32-byte public key of an SS58 address of any valid prefix.

    Raises ValueError for anything else (bad alphabet, checksum, length, reserved prefix, or an
    account index instead of an account id).
    """
    if not isinstance(address, str) or not address or address.startswith("0x"):
        raise ValueError(f"not an SS58 address: {address!r}")
    try:
        key = bytes.fromhex(ss58_decode(address))
    except (ValueError, IndexError) as exc:  # base58 and ss58 both signal with these
        raise ValueError(f"not an SS58 address: {address!r}: {exc}") from None
    if len(key) != PUBLIC_KEY_LENGTH:
        raise ValueError(f"not an account id address (key of {len(key)} bytes): {address!r}")
    return key


def to_ss58(address_or_pubkey: str | bytes, ss58_format: int) -> str:
    """Render an account in ``ss58_format``.

    Accepts an SS58 address of any prefix, a 32-byte public key, or its ``0x`` hex form.
    """
    address: str = ss58_encode(_key_of(address_or_pubkey), ss58_format=ss58_format)
    return address


def same_account(a: str | bytes, b: str | bytes) -> bool:
    """Whether two addresses / public keys designate the same account."""
    return _key_of(a) == _key_of(b)


def _key_of(address_or_pubkey: str | bytes) -> bytes:
    if isinstance(address_or_pubkey, bytes | bytearray):
        key = bytes(address_or_pubkey)
    elif isinstance(address_or_pubkey, str) and address_or_pubkey.startswith("0x"):
        try:
            key = bytes.fromhex(address_or_pubkey[2:])
        except ValueError:
            raise ValueError(f"malformed hex public key: {address_or_pubkey!r}") from None
    else:
        return public_key(address_or_pubkey)
    if len(key) != PUBLIC_KEY_LENGTH:
        raise ValueError(f"public key must be {PUBLIC_KEY_LENGTH} bytes, got {len(key)}")
    return key
