"""The metering ledger: a Redis Stream with one entry per charged batch.

`meter.lua` writes an entry (XADD, inside the same atomic script that moves the money) for every
call that charged at least one viewer-second. The settlement consumer reads the stream through a
consumer group, decodes entries with `decode_entry`, and can use the stream entry id as the
batch id of an idempotent apply (invariant 5).

Entry fields (keep in step with the XADD in `meter.lua`):
  count           number of charges the entry holds (charged lines)
  amount          Σ amount (viewer debits) of those charges, planck
  creator_amount  Σ creator amounts, planck
  fee             Σ platform fees, planck
  charges         the batch as the meter sent it, one line per charge, each ending in "\n":
                  "view_id viewer_id stream_id creator_id second amount fee"
  status          one digit per line: "1" charged; other digits (duplicate, insufficient,
                  overflow) mark lines that moved no money and are not ledger charges

A one-off payment (`Meter.pay`, e.g. a tip) is its own entry, told apart by a ``kind`` field:
  kind, payment_id, viewer_id, creator_id, ref (stream or video id), amount, creator_amount, fee
(see `decode_payment`; `decode_entry` is for charge batches only, `entry_sums` for either).

One entry per batch rather than per charge: an entry per charge cost the script about as much as
the rest of a charge, and the consumer settles whole batches anyway. Keeping the batch as sent
(with a status string) spares the script building a string per charge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

LEDGER_STREAM = "ledger"
"""Stream key, after the meter's key prefix (e.g. ``vk:ledger``)."""


@dataclass(frozen=True)
class LedgerEntry:
    """One charged viewer-second. Amounts are planck; ``amount == creator_amount + fee``."""

    view_id: str
    viewer_id: str
    stream_id: str
    creator_id: str
    second: int
    amount: int
    fee: int
    creator_amount: int


def ledger_key(prefix: str) -> str:
    """The full Redis key of the ledger stream for a meter key prefix."""
    return prefix + LEDGER_STREAM


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode_line(line: str) -> LedgerEntry:
    view_id, viewer_id, stream_id, creator_id, second, amount, fee = line.split(" ")
    entry = LedgerEntry(
        view_id,
        viewer_id,
        stream_id,
        creator_id,
        int(second),
        int(amount),
        int(fee),
        int(amount) - int(fee),
    )
    if min(entry.fee, entry.creator_amount) < 0:
        raise ValueError(f"ledger charge amounts do not add up: {line!r}")
    return entry


Fields = Mapping[str | bytes, str | bytes]
"""One stream entry's field map, as XREAD/XRANGE return it (bytes or str)."""


def decode_entry(fields: Fields | None) -> list[LedgerEntry]:
    """Decode the field map of one stream entry (as XREAD/XRANGE return it, bytes or str).

    Returns the charges the entry holds, in batch order. Raises ValueError when a field is
    missing or the charges do not match the entry's count and sums, so a corrupt entry stops the
    consumer instead of being settled; None (Redis's answer for a pending entry deleted since it
    was read) is malformed too.
    """
    if fields is None:
        raise ValueError("malformed ledger entry: no fields (deleted from the stream)")
    values = {_text(k): _text(v) for k, v in fields.items()}
    try:
        lines = values["charges"].split("\n")[:-1]  # every line ends in "\n"
        status = values["status"]
        if len(status) != len(lines):
            raise ValueError(f"{len(status)} statuses for {len(lines)} lines")
        entries = [_decode_line(line) for line, s in zip(lines, status, strict=True) if s == "1"]
        count = int(values["count"])
        sums = (int(values["amount"]), int(values["creator_amount"]), int(values["fee"]))
    except (KeyError, ValueError) as exc:
        raise ValueError(f"malformed ledger entry: {exc!r}") from exc
    found = (
        sum(e.amount for e in entries),
        sum(e.creator_amount for e in entries),
        sum(e.fee for e in entries),
    )
    if count != len(entries) or sums != found:
        raise ValueError(f"ledger entry totals {count}, {sums} != charges {len(entries)}, {found}")
    return entries


@dataclass(frozen=True)
class Payment:
    """A one-off payment from a viewer to a creator (kind ``tip``), about a stream or video:
    what `Meter.pay` is asked to move."""

    kind: str
    payment_id: str
    viewer_id: str
    creator_id: str
    ref: str
    """The stream or video id the payment is about."""
    amount: int


@dataclass(frozen=True)
class LedgerPayment(Payment):
    """A payment as the ledger holds it: with its split, ``amount == creator_amount + fee``."""

    creator_amount: int
    fee: int


def decode_payment(fields: Fields | None) -> LedgerPayment | None:
    """The payment a stream entry holds, or None when it is a charge batch (no ``kind``).

    Raises ValueError when a field is missing or the amounts do not add up.
    """
    values = {_text(k): _text(v) for k, v in (fields or {}).items()}
    if "kind" not in values:
        return None
    try:
        payment = LedgerPayment(
            values["kind"],
            values["payment_id"],
            values["viewer_id"],
            values["creator_id"],
            values["ref"],
            int(values["amount"]),
            int(values["creator_amount"]),
            int(values["fee"]),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"malformed ledger payment: {exc!r}") from exc
    if min(payment.fee, payment.creator_amount) < 0 or (
        payment.amount != payment.creator_amount + payment.fee
    ):
        raise ValueError(f"ledger payment amounts do not add up: {values!r}")
    return payment


def entry_sums(fields: Fields | None) -> tuple[int, int, int]:
    """(amount, creator_amount, fee) an entry moved, charge batch or payment alike."""
    payment = decode_payment(fields)
    if payment is not None:
        return payment.amount, payment.creator_amount, payment.fee
    charges = decode_entry(fields)
    return (
        sum(c.amount for c in charges),
        sum(c.creator_amount for c in charges),
        sum(c.fee for c in charges),
    )
