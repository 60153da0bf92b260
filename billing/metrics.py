"""Prometheus metrics shared by the billing loops."""

from __future__ import annotations

from prometheus_client import Counter

CHAIN_ERRORS = Counter(
    "vilokanam_chain_errors_total", "Chain calls that failed, by billing loop", ["worker"]
)

PAYOUT_FEES = Counter(
    "vilokanam_payout_fees_planck_total",
    "Transaction fees the escrow paid for payouts (finalized, or failed in a block), planck",
    ["kind"],
)
