"""Rows made in SQL, for tests of features that read them but do not make them."""

from __future__ import annotations

import uuid

import asyncpg


async def new_video(db: asyncpg.Pool, creator_id: str, status: str = "ready") -> str:
    """A videos row as the VOD pipeline leaves it (the videos API is not under test here)."""
    video_id = await db.fetchval(
        """INSERT INTO videos (creator_id, title, status, duration, published_at)
           VALUES ($1, 'Test video', $2::text, 60, CASE WHEN $2::text = 'ready' THEN now() END)
           RETURNING id""",
        uuid.UUID(creator_id),
        status,
    )
    return str(video_id)
