"""Prometheus metrics shared by the billing loops."""

from __future__ import annotations

from prometheus_client import Counter

CHAIN_ERRORS = Counter(
    "vilokanam_chain_errors_total", "Chain calls that failed, by billing loop", ["worker"]
)
