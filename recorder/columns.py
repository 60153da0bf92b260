"""Values fitted to the PostgreSQL columns that store them (migration 0001's video tables).

A figure a file claims must never fail the transaction that publishes its video: a frame
rate of 1000 in ``video_metadata.frame_rate DECIMAL(5, 2)`` failed every Chromium recording.
A number that does not fit is stored as NULL (unknown), never clamped into a wrong value;
text is cut to the column's length.
"""

from __future__ import annotations

import math
from decimal import Decimal

INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1


def integer(value: float | None, *, minimum: int = 0, maximum: int = INT4_MAX) -> int | None:
    """``value`` rounded, if it is finite and within [minimum, maximum]; else None."""
    if value is None or not math.isfinite(value):
        return None
    rounded = round(value)
    return rounded if minimum <= rounded <= maximum else None


def bigint(value: float | None, *, minimum: int = 0) -> int | None:
    """:func:`integer` for a BIGINT column."""
    return integer(value, minimum=minimum, maximum=INT8_MAX)


def numeric(value: float | None, precision: int, scale: int) -> Decimal | None:
    """``value`` for a NUMERIC(precision, scale) column, or None if it does not fit."""
    if value is None or not math.isfinite(value):
        return None
    fitted = round(Decimal(str(value)), scale)
    return fitted if abs(fitted) < Decimal(10) ** (precision - scale) else None


def varchar(value: str | None, length: int) -> str | None:
    """``value`` cut to a VARCHAR(length) column."""
    return None if value is None else value[:length]
