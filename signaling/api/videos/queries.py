"""Named queries on videos, video_versions, vod_jobs and video_views."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from signaling.db import Db

VIDEO_COLUMNS = """v.id, v.creator_id, v.title, v.description, v.thumbnail_url, v.status,
    v.duration, v.width, v.height, v.file_size, v.view_count, v.like_count, v.comment_count,
    v.storage_url, v.published_at, v.created_at, v.updated_at, v.deleted_at, v.is_private,
    u.account_id AS creator_account_id, u.username AS creator_username"""

_FROM = "FROM videos v JOIN users u ON u.id = v.creator_id"

# What a creator sees of processing: failure_reason, never last_error (the operator's detail).
JOB_FIELDS = (
    "status",
    "progress",
    "current_step",
    "rendition_progress",
    "attempts",
    "max_attempts",
    "failure_reason",
    "updated_at",
)
JOB_COLUMNS = ", ".join(JOB_FIELDS)
# The same in a list of videos, named job_<field>.
_LIST_JOB_COLUMNS = ", ".join(f"j.{name} AS job_{name}" for name in JOB_FIELDS)

_PUBLIC = f"""SELECT {VIDEO_COLUMNS} {_FROM}
    WHERE v.status = 'ready' AND v.deleted_at IS NULL AND NOT v.is_private
      AND ($1::uuid IS NULL OR v.creator_id = $1)
      AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM video_categories c
                                        WHERE c.video_id = v.id AND c.category_id = $2))"""  # noqa: S608

# Keyset pages: `after` is the sort key of the previous page's last row.
_NEWEST = (
    _PUBLIC
    + """
      AND ($3::timestamptz IS NULL OR (v.created_at, v.id) < ($3, $4::uuid))
    ORDER BY v.created_at DESC, v.id DESC LIMIT $5"""
)

_MOST_VIEWED = (
    _PUBLIC
    + """
      AND ($3::int IS NULL OR (v.view_count, v.created_at, v.id) < ($3, $4::timestamptz, $5::uuid))
    ORDER BY v.view_count DESC, v.created_at DESC, v.id DESC LIMIT $6"""
)

_RECORD_VIEW = """
INSERT INTO video_views (video_id, viewer_id, view_duration, watch_completion, ip_address,
                         user_agent, playback_id, counted)
VALUES ($1, $2, $3, $4, $5::inet, $6, $7, $8)
ON CONFLICT (playback_id) DO UPDATE
   SET view_duration = GREATEST(video_views.view_duration, EXCLUDED.view_duration),
       watch_completion = GREATEST(video_views.watch_completion, EXCLUDED.watch_completion)
 WHERE video_views.video_id = EXCLUDED.video_id
RETURNING id, (xmax = 0) AS inserted, counted
"""


async def by_id(db: Db, video_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(f"SELECT {VIDEO_COLUMNS} {_FROM} WHERE v.id = $1", video_id)  # noqa: S608


async def newest(
    db: Db,
    *,
    creator: uuid.UUID | None,
    category: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Ready videos, newest first."""
    return await db.fetch(
        _NEWEST,
        creator,
        category,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def most_viewed(
    db: Db,
    *,
    creator: uuid.UUID | None,
    category: uuid.UUID | None,
    after: tuple[int, datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Ready videos, most viewed first (newest first among equals)."""
    views, moment, last_id = after or (None, None, None)
    return await db.fetch(_MOST_VIEWED, creator, category, views, moment, last_id, limit)


async def renditions(db: Db, video_id: uuid.UUID) -> list[asyncpg.Record]:
    """video_versions rows with each rendition's size and HLS playlist from video_metadata."""
    return await db.fetch(
        """SELECT vv.resolution, vv.bitrate, vv.file_size, vv.storage_url,
                  (r ->> 'width')::int AS width, (r ->> 'height')::int AS height, r ->> 'hls' AS hls
             FROM video_versions vv
             LEFT JOIN video_metadata m ON m.video_id = vv.video_id
             LEFT JOIN LATERAL jsonb_array_elements(m.extra_data -> 'renditions') r
                    ON r ->> 'name' = vv.resolution
            WHERE vv.video_id = $1
            ORDER BY vv.bitrate, vv.resolution""",
        video_id,
    )


async def hls_master(db: Db, video_id: uuid.UUID) -> str | None:
    master: str | None = await db.fetchval(
        "SELECT extra_data ->> 'hls_master' FROM video_metadata WHERE video_id = $1", video_id
    )
    return master


async def latest_job(db: Db, video_id: uuid.UUID) -> asyncpg.Record | None:
    """The video's most recent VOD job (its processing progress)."""
    return await db.fetchrow(
        f"""SELECT {JOB_COLUMNS}
             FROM vod_jobs WHERE video_id = $1 ORDER BY created_at DESC LIMIT 1""",  # noqa: S608
        video_id,
    )


async def creator_videos(
    db: Db, creator_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Every video of a creator but the deleted, any status, newest first, with its latest
    job's fields as job_<field> (NULL when it never had one)."""
    return await db.fetch(
        f"""SELECT {VIDEO_COLUMNS}, {_LIST_JOB_COLUMNS} {_FROM}
              LEFT JOIN LATERAL (SELECT {JOB_COLUMNS} FROM vod_jobs
                                  WHERE video_id = v.id ORDER BY created_at DESC LIMIT 1) j
                     ON true
             WHERE v.creator_id = $1 AND v.deleted_at IS NULL
               AND ($2::timestamptz IS NULL OR (v.created_at, v.id) < ($2, $3::uuid))
             ORDER BY v.created_at DESC, v.id DESC LIMIT $4""",  # noqa: S608
        creator_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def update(db: Db, video_id: uuid.UUID, changes: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    await db.execute(
        f"UPDATE videos SET {assignments} WHERE id = $1",  # noqa: S608
        video_id,
        *changes.values(),
    )


async def soft_delete(db: Db, video_id: uuid.UUID) -> None:
    await db.execute(
        "UPDATE videos SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL", video_id
    )


async def is_playable(db: Db, video_id: uuid.UUID, viewer_id: uuid.UUID | None) -> bool:
    """Ready, not deleted, and public or the viewer's own: only then are its files served."""
    return bool(
        await db.fetchval(
            """SELECT 1 FROM videos WHERE id = $1 AND status = 'ready' AND deleted_at IS NULL
                 AND (NOT is_private OR creator_id = $2)""",
            video_id,
            viewer_id,
        )
    )


async def publish(db: Db, video_id: uuid.UUID) -> None:
    await db.execute("UPDATE videos SET is_private = false WHERE id = $1", video_id)


async def record_view(
    db: Db,
    video_id: uuid.UUID,
    viewer_id: uuid.UUID | None,
    report: dict[str, Any],
) -> asyncpg.Record | None:
    """Insert (or, for a known playback_id, raise) a view; None if that id is another video's.

    report["counted"]: whether a new row adds to the video's view_count (the trigger reads it).
    """
    return await db.fetchrow(
        _RECORD_VIEW,
        video_id,
        viewer_id,
        report["view_duration"],
        report["watch_completion"],
        report.get("ip_address"),
        report.get("user_agent"),
        report.get("playback_id"),
        report.get("counted", True),
    )


async def playback_known(db: Db, playback_id: uuid.UUID) -> bool:
    """Whether a view row already exists for this playback (a later report of it)."""
    return bool(
        await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM video_views WHERE playback_id = $1)", playback_id
        )
    )
