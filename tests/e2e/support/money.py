"""Amounts as the pages show them: planck in the chain's unit (ROC on the dev chain)."""

from __future__ import annotations

DECIMALS = 12


def in_units(planck: int, decimals: int = DECIMALS) -> str:
    """1500000000 → "0.0015": exact (integer arithmetic), trailing zeros dropped, like money.js."""
    whole, fraction = divmod(planck, 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)
