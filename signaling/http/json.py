"""JSON conventions: money as decimal strings of planck, ids as UUID strings, RFC 3339 UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal


def rfc3339_or_none(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def planck(amount: int | Decimal | None) -> str:
    """An amount as a decimal string of planck (u128 does not fit a JS number)."""
    return str(int(amount or 0))
