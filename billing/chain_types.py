"""Values and errors of the chain client: signed extrinsics, inclusions, transfers. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


class ChainError(Exception):
    """Base of the chain client's errors."""


class ChainTimeout(ChainError):
    """An extrinsic was not found on chain in time."""


class ChainExpired(ChainTimeout):
    """An extrinsic's mortal era has passed without it being included: it can never land."""


class ChainRejected(ChainError):
    """The node refused an extrinsic.

    ``kind`` is one of ``stale`` (its nonce is used by another extrinsic on chain: these bytes can
    never be included), ``future`` (nonce ahead of the account), ``priority`` (another extrinsic
    with the same nonce is pending), ``invalid`` (anything else: bad signature, no funds, ...).
    """

    def __init__(self, kind: str, detail: object) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class SignedExtrinsic:
    """A signed extrinsic, ready to persist and to (re-)submit as the same bytes.

    Its mortal era makes it valid in blocks ``era_start <= n < era_start + era_period``.
    """

    hex: str
    hash: str
    nonce: int
    era_start: int
    era_period: int
    signer: str

    def expired_at(self, block_number: int) -> bool:
        """Whether the extrinsic can no longer be included in block ``block_number`` or later."""
        return block_number >= self.era_start + self.era_period


@dataclass(frozen=True)
class Inclusion:
    """Where an extrinsic landed: (block_number, extrinsic_index) identifies it on chain."""

    block_number: int
    block_hash: str
    extrinsic_index: int
    success: bool
    error: str | None
    finalized: bool
    fee: int | None = None
    """What the signer paid for it (the block's TransactionFeePaid), paid even on failure."""


@dataclass(frozen=True)
class Transfer:
    """A ``Balances.Transfer`` event; (block_hash, event_index) identifies it."""

    block_hash: str
    block_number: int
    event_index: int
    from_address: str
    to_address: str
    amount: int


def extrinsic_hash(encoded_hex: str) -> str:
    """The hash a node reports for an encoded extrinsic (blake2-256 of its bytes), ``0x`` hex."""
    data = bytes.fromhex(encoded_hex.removeprefix("0x"))
    return "0x" + hashlib.blake2b(data, digest_size=32).hexdigest()


def era_birth(current: int, period: int) -> int:
    """First block of the mortal era built from block ``current`` (as the runtime computes it)."""
    quantize = max(period >> 12, 1)
    phase = current % period // quantize * quantize
    return (max(current, phase) - phase) // period * period + phase
