"""PostgreSQL rows billing tests need: users, a live stream with a session, views."""

from __future__ import annotations

import secrets
import uuid

import asyncpg
from scalecodec.utils.ss58 import ss58_encode


async def user(db: asyncpg.Pool, creator: bool = False) -> uuid.UUID:
    """A user with a real (random) account: payouts batch every creator, so ids must be SS58."""
    key = secrets.token_bytes(32)
    return await db.fetchval(
        "INSERT INTO users (account_id, public_key, is_creator) VALUES ($1, $2, $3) RETURNING id",
        ss58_encode(key, ss58_format=42),
        key,
        creator,
    )


async def live_stream(db: asyncpg.Pool, creator: uuid.UUID, price: int) -> uuid.UUID:
    stream = await db.fetchval(
        """INSERT INTO streams (creator_id, title, status, price_per_second, start_time)
           VALUES ($1, 'billing test', 'live', $2, now() - interval '1 hour') RETURNING id""",
        creator,
        price,
    )
    await db.execute(
        "INSERT INTO stream_sessions (stream_id, start_time) "
        "VALUES ($1, now() - interval '1 hour')",
        stream,
    )
    return stream


async def view(db: asyncpg.Pool, stream: uuid.UUID, viewer: uuid.UUID) -> uuid.UUID:
    return await db.fetchval(
        "INSERT INTO stream_viewers (stream_id, viewer_id) VALUES ($1, $2) RETURNING id",
        stream,
        viewer,
    )
