"""The JSON view of a payout, as its recipient sees it (creator payouts and withdrawals)."""

from __future__ import annotations

from typing import Any

import asyncpg

from signaling.http.json import planck, rfc3339_or_none


def payout_view(row: asyncpg.Record) -> dict[str, Any]:
    """One payout as its recipient sees it (their own share of a batched payout)."""
    return {
        "id": str(row["id"]),
        "status": row["status"],
        "amount": planck(row["amount"]),
        "to": row["dest_account"],
        "extrinsic_hash": row["extrinsic_hash"],
        "block_number": row["block_number"],
        "block_hash": row["block_hash"],
        "error": row["error"],
        "fee": None if row["fee"] is None else planck(row["fee"]),
        "created_at": rfc3339_or_none(row["created_at"]),
        "updated_at": rfc3339_or_none(row["updated_at"]),
        "finalized_at": rfc3339_or_none(row["finalized_at"]),
    }
