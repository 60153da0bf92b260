"""The JSON views of a video: in a list, in detail with renditions, and its processing job.

Shared with the creator dashboard, which lists a creator's videos with their processing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import asyncpg

from signaling.api.videos import queries as videos_db
from signaling.auth import users
from signaling.http.json import rfc3339_or_none


def video_view(row: asyncpg.Record) -> dict[str, Any]:
    """What a list shows of a video."""
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "duration": row["duration"],
        "width": row["width"],
        "height": row["height"],
        "file_size": row["file_size"],
        "thumbnail_url": row["thumbnail_url"],
        "view_count": row["view_count"],
        "like_count": row["like_count"],
        "comment_count": row["comment_count"],
        "published_at": rfc3339_or_none(row["published_at"]),
        "created_at": rfc3339_or_none(row["created_at"]),
        "updated_at": rfc3339_or_none(row["updated_at"]),
        "creator": users.brief_view(row, "creator_"),
        "page_url": f"/videos/{row['id']}",
        "private": row["is_private"],
    }


async def video_detail(pool: asyncpg.Pool, row: asyncpg.Record) -> dict[str, Any]:
    """One video with its renditions, HLS master playlist and processing progress."""
    versions = await videos_db.renditions(pool, row["id"])
    job = await videos_db.latest_job(pool, row["id"])
    return {
        **video_view(row),
        "renditions": [
            {
                "resolution": v["resolution"],
                "width": v["width"],
                "height": v["height"],
                "bitrate_kbps": v["bitrate"],
                "file_size": v["file_size"],
                "url": v["storage_url"],
                "hls_url": v["hls"],
            }
            for v in versions
        ],
        "hls_url": await videos_db.hls_master(pool, row["id"]),
        "processing": processing_view(job),
    }


def processing_view(job: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A VOD job as its creator sees it: progress, and why it failed in plain words (`error`),
    never the operator's detail."""
    if job is None:
        return None
    return {
        "status": job["status"],
        "progress": float(job["progress"]),
        "current_step": job["current_step"],
        "rendition_progress": json.loads(job["rendition_progress"]),
        "attempts": job["attempts"],
        "max_attempts": job["max_attempts"],
        "error": job["failure_reason"],
        "updated_at": rfc3339_or_none(job["updated_at"]),
    }
