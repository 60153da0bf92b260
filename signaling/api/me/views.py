"""The JSON views of my lists: deposits to the escrow, what I paid per stream, my tips."""

from __future__ import annotations

from typing import Any

import asyncpg

from signaling.http.json import planck, rfc3339_or_none


def deposit_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "from": row["from_account"],
        "amount": planck(row["amount"]),
        "block_number": row["block_number"],
        "block_hash": row["block_hash"],
        "credited": row["credited_at"] is not None,
        "created_at": rfc3339_or_none(row["created_at"]),
    }


def spending_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "stream": {
            "id": str(row["id"]),
            "title": row["title"],
            "price_per_second": planck(row["price_per_second"]),
            "creator": {"account_id": row["creator_account"], "username": row["creator_username"]},
        },
        "amount": planck(row["amount"]),
        "seconds": int(row["seconds"]),
        "views": row["views"],
        "last_paid_at": rfc3339_or_none(row["created_at"]),
    }


def tip_view(row: asyncpg.Record) -> dict[str, Any]:
    on = "stream" if row["stream_id"] is not None else "video"
    return {
        "id": str(row["id"]),
        "amount": planck(row["amount"]),
        "message": row["message"] or "",
        on: {"id": str(row[f"{on}_id"]), "title": row[f"{on}_title"]},
        "creator": {"account_id": row["creator_account"], "username": row["creator_username"]},
        "created_at": rfc3339_or_none(row["created_at"]),
    }
