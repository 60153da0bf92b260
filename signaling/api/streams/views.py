"""The JSON view of a stream, with its live viewer count (shared with the follows feed)."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from signaling.auth import users
from signaling.http.json import planck, rfc3339_or_none


def viewer_count(row: asyncpg.Record) -> int:
    """Viewers on every node of the cluster (a node stores the sum when its own count changes)."""
    return int(row["viewer_count"]) if row["status"] == "live" else 0


def stream_view(request: web.Request, row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "description": row["description"],
        "category_id": str(row["category_id"]) if row["category_id"] else None,
        "status": row["status"],
        "price_per_second": planck(row["price_per_second"]),
        "viewer_count": viewer_count(row),
        "total_ticks": row["total_ticks"],
        "start_time": rfc3339_or_none(row["start_time"]),
        "end_time": rfc3339_or_none(row["end_time"]),
        "recording_url": row["recording_url"],
        "thumbnail_url": row["thumbnail_url"],
        "created_at": rfc3339_or_none(row["created_at"]),
        "updated_at": rfc3339_or_none(row["updated_at"]),
        "creator": users.brief_view(row, "creator_"),
        "whip_url": f"/whip/{row['id']}",
        "whep_url": f"/whep/{row['id']}",
    }
