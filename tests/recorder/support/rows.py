"""Rows the recorder tests need: a creator's video, optionally recorded from a stream."""

from __future__ import annotations

import secrets
from uuid import UUID

import asyncpg


async def new_video(pool: asyncpg.Pool, with_stream: bool = False) -> tuple[UUID, UUID | None]:
    user = await pool.fetchval(
        "INSERT INTO users (account_id, public_key) VALUES ($1, $2) RETURNING id",
        "5" + secrets.token_hex(20),
        secrets.token_bytes(32),
    )
    video = await pool.fetchval(
        "INSERT INTO videos (creator_id, title) VALUES ($1, 'test video') RETURNING id", user
    )
    stream = None
    if with_stream:
        stream = await pool.fetchval(
            "INSERT INTO streams (creator_id, title, status) VALUES ($1, 'live', 'ended') "
            "RETURNING id",
            user,
        )
    return video, stream
