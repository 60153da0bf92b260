"""The JSON views of the creator dashboard's lists and charts."""

from __future__ import annotations

from typing import Any

import asyncpg

from signaling.api.creator.queries import Range
from signaling.api.videos import queries as videos_db
from signaling.api.videos.views import processing_view, video_view
from signaling.http.json import planck, rfc3339_or_none


def stream_item(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "status": row["status"],
        "price_per_second": planck(row["price_per_second"]),
        "viewer_count": row["viewer_count"],
        "viewer_peak": row["viewer_peak"],
        "total_ticks": row["total_ticks"],
        "earnings": planck(row["earnings"]),
        "recording_url": row["recording_url"],
        "start_time": rfc3339_or_none(row["start_time"]),
        "end_time": rfc3339_or_none(row["end_time"]),
        "created_at": rfc3339_or_none(row["created_at"]),
    }


def video_item(row: asyncpg.Record) -> dict[str, Any]:
    job = None
    if row["job_status"] is not None:
        job = {name: row[f"job_{name}"] for name in videos_db.JOB_FIELDS}
    return {**video_view(row), "processing": processing_view(job)}


def series(name: str, chart: Range, rows: list[asyncpg.Record], money: bool) -> dict[str, Any]:
    return {
        "range": name,
        "bucket_s": int(chart.bucket.total_seconds()),
        "points": [
            {
                "at": rfc3339_or_none(r["at"]),
                "value": planck(r["value"]) if money else int(r["value"]),
            }
            for r in rows
        ],
    }
