"""Named queries on streams, stream_sessions and stream_viewers."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from signaling.db import Db

STREAM_COLUMNS = """s.id, s.creator_id, s.title, s.description, s.thumbnail_url, s.category_id,
    s.status, s.stream_key_hash, s.price_per_second, s.viewer_count, s.total_ticks,
    s.start_time, s.end_time, s.recording_url, s.created_at, s.updated_at,
    u.account_id AS creator_account_id, u.username AS creator_username"""

_FROM = "FROM streams s JOIN users u ON u.id = s.creator_id"


async def by_id(db: Db, stream_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(f"SELECT {STREAM_COLUMNS} {_FROM} WHERE s.id = $1", stream_id)  # noqa: S608


async def create(
    db: Db, creator_id: uuid.UUID, fields: dict[str, Any], key_hash: str
) -> asyncpg.Record:
    stream_id = await db.fetchval(
        """INSERT INTO streams (creator_id, title, description, category_id, price_per_second,
                                stream_key_hash)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        creator_id,
        fields["title"],
        fields.get("description"),
        fields.get("category_id"),
        Decimal(fields["price_per_second"]),
        key_hash,
    )
    return await by_id(db, stream_id)


async def update(db: Db, stream_id: uuid.UUID, changes: dict[str, Any]) -> asyncpg.Record:
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    await db.execute(
        f"UPDATE streams SET {assignments} WHERE id = $1",  # noqa: S608
        stream_id,
        *changes.values(),
    )
    return await by_id(db, stream_id)


async def listing(
    db: Db,
    *,
    status: str | None,
    category: uuid.UUID | None,
    creator: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first; `after` is the (created_at, id) of the last row of the previous page."""
    return await db.fetch(
        f"""SELECT {STREAM_COLUMNS} {_FROM}
            WHERE ($1::text IS NULL OR s.status = $1)
              AND ($2::uuid IS NULL OR s.category_id = $2)
              AND ($3::uuid IS NULL OR s.creator_id = $3)
              AND ($4::timestamptz IS NULL OR (s.created_at, s.id) < ($4, $5::uuid))
            ORDER BY s.created_at DESC, s.id DESC
            LIMIT $6""",  # noqa: S608
        status,
        category,
        creator,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def delete_unpaid(db: Db, stream_id: uuid.UUID) -> bool:
    """Delete a stream that is not live and has no paid views (those are kept for the record)."""
    deleted = await db.execute(
        """DELETE FROM streams WHERE id = $1 AND status <> 'live' AND NOT EXISTS
               (SELECT 1 FROM stream_viewers WHERE stream_id = $1 AND paid_amount > 0)""",
        stream_id,
    )
    return deleted != "DELETE 0"


async def category_exists(db: Db, category_id: uuid.UUID) -> bool:
    return bool(await db.fetchval("SELECT 1 FROM categories WHERE id = $1", category_id))


async def go_live(
    db: asyncpg.Pool, stream_id: uuid.UUID, server_url: str, node_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Mark the stream live and open a stream_sessions row; the session id."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            """UPDATE streams SET status = 'live', start_time = now(), end_time = NULL,
                                  viewer_count = 0
               WHERE id = $1""",
            stream_id,
        )
        session_id: uuid.UUID = await conn.fetchval(
            """INSERT INTO stream_sessions (stream_id, sfu_server_url, signaling_server_url,
                                            node_id)
               VALUES ($1, $2, $2, $3) RETURNING id""",
            stream_id,
            server_url,
            node_id,
        )
        return session_id


async def live_node(db: Db, stream_id: uuid.UUID) -> uuid.UUID | None:
    """The node holding the stream's open live session (the origin), if any."""
    node_id: uuid.UUID | None = await db.fetchval(
        """SELECT node_id FROM stream_sessions WHERE stream_id = $1 AND end_time IS NULL
           ORDER BY start_time DESC LIMIT 1""",
        stream_id,
    )
    return node_id


async def end_live(
    db: asyncpg.Pool, stream_id: uuid.UUID, session_id: uuid.UUID | None = None
) -> None:
    """Close the live session (every open one of the stream when None): stream ended, session
    closed, every view inactive."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            """UPDATE streams SET status = 'ended', end_time = now(), viewer_count = 0
               WHERE id = $1 AND status = 'live'""",
            stream_id,
        )
        await conn.execute(
            """UPDATE stream_sessions SET end_time = now()
               WHERE stream_id = $1 AND ($2::uuid IS NULL OR id = $2) AND end_time IS NULL""",
            stream_id,
            session_id,
        )
        await conn.execute(
            "UPDATE stream_viewers SET is_active = FALSE WHERE stream_id = $1 AND is_active",
            stream_id,
        )


async def set_viewer_count(
    db: asyncpg.Pool, stream_id: uuid.UUID, session_id: uuid.UUID | None, count: int
) -> None:
    """The live stream's viewer count, and its session's peak (every open session of the stream
    when `session_id` is None: a node that relays the stream does not know which)."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE streams SET viewer_count = $2 WHERE id = $1 AND status = 'live'",
            stream_id,
            count,
        )
        await conn.execute(
            """UPDATE stream_sessions SET viewer_peak = GREATEST(viewer_peak, $3)
               WHERE CASE WHEN $2::uuid IS NULL THEN stream_id = $1 AND end_time IS NULL
                          ELSE id = $2 END""",
            stream_id,
            session_id,
            count,
        )


async def start_view(
    db: Db,
    stream_id: uuid.UUID,
    viewer_id: uuid.UUID,
    node_id: uuid.UUID | None = None,
) -> uuid.UUID:
    view_id: uuid.UUID = await db.fetchval(
        """INSERT INTO stream_viewers (stream_id, viewer_id, node_id) VALUES ($1, $2, $3)
           RETURNING id""",
        stream_id,
        viewer_id,
        node_id,
    )
    return view_id


async def end_view(db: Db, view_id: uuid.UUID) -> None:
    await db.execute("UPDATE stream_viewers SET is_active = FALSE WHERE id = $1", view_id)


async def sample_viewers(db: Db, counts: dict[uuid.UUID, int]) -> None:
    """One stream_analytics row per live stream."""
    if counts:
        await db.executemany(
            'INSERT INTO stream_analytics (stream_id, "timestamp", viewer_count) '
            "VALUES ($1, now(), $2)",
            list(counts.items()),
        )
