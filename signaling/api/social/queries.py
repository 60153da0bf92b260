"""Named queries on follows, video_likes and comment_likes.

Like counters are kept by the triggers of migration 0030; these queries only add or remove the
like rows, idempotently (a second like is a no-op, the unique key settles concurrent ones).
"""

from __future__ import annotations

import uuid

import asyncpg

from billing import USER_COLUMNS
from signaling.api.streams.queries import STREAM_COLUMNS
from signaling.db import Db
from signaling.http.pagination import Cursor, keyset_args

# A user row plus the follow's (created_at, id), which pages are cut on.
_FOLLOW_USER_COLUMNS = ", ".join(f"u.{c.strip()}" for c in USER_COLUMNS.split(",")) + (
    ", f.created_at AS followed_at, f.id AS follow_id"
)


async def follow(db: Db, follower_id: uuid.UUID, following_id: uuid.UUID) -> bool:
    """True when the follow is new. Raises asyncpg.ForeignKeyViolationError for unknown users."""
    added = await db.fetchval(
        """INSERT INTO follows (follower_id, following_id) VALUES ($1, $2)
           ON CONFLICT (follower_id, following_id) DO NOTHING RETURNING id""",
        follower_id,
        following_id,
    )
    return added is not None


async def unfollow(db: Db, follower_id: uuid.UUID, following_id: uuid.UUID) -> None:
    await db.execute(
        "DELETE FROM follows WHERE follower_id = $1 AND following_id = $2",
        follower_id,
        following_id,
    )


async def followers(
    db: Db, user_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    """Who follows `user_id`, most recent follow first."""
    return await _follow_page(db, "f.follower_id", "f.following_id", user_id, after, limit)


async def following(
    db: Db, user_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    """Whom `user_id` follows, most recent follow first."""
    return await _follow_page(db, "f.following_id", "f.follower_id", user_id, after, limit)


async def _follow_page(
    db: Db, shown: str, anchor: str, user_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    return await db.fetch(
        f"""SELECT {_FOLLOW_USER_COLUMNS} FROM follows f JOIN users u ON u.id = {shown}
            WHERE {anchor} = $1
              AND ($2::timestamptz IS NULL OR (f.created_at, f.id) < ($2, $3::uuid))
            ORDER BY f.created_at DESC, f.id DESC LIMIT $4""",  # noqa: S608
        user_id,
        *keyset_args(after),
        limit,
    )


async def live_followed(
    db: Db, follower_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    """Live streams of the creators `follower_id` follows, newest stream first."""
    return await db.fetch(
        f"""SELECT {STREAM_COLUMNS} FROM streams s JOIN users u ON u.id = s.creator_id
            JOIN follows f ON f.following_id = s.creator_id AND f.follower_id = $1
            WHERE s.status = 'live'
              AND ($2::timestamptz IS NULL OR (s.created_at, s.id) < ($2, $3::uuid))
            ORDER BY s.created_at DESC, s.id DESC LIMIT $4""",  # noqa: S608
        follower_id,
        *keyset_args(after),
        limit,
    )


# Likes: one (table, key column, counted table) per likeable thing.
_LIKES = {
    "video": ("video_likes", "video_id", "videos"),
    "comment": ("comment_likes", "comment_id", "comments"),
}


async def like(db: Db, kind: str, target_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """Like once (idempotent) and return the like count after it.

    Raises asyncpg.ForeignKeyViolationError when the target vanished.
    """
    table, key, counted = _LIKES[kind]
    return await _change_like(
        db,
        f"INSERT INTO {table} ({key}, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",  # noqa: S608
        counted,
        target_id,
        user_id,
    )


async def unlike(db: Db, kind: str, target_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """Remove the like if any and return the like count after it."""
    table, key, counted = _LIKES[kind]
    return await _change_like(
        db,
        f"DELETE FROM {table} WHERE {key} = $1 AND user_id = $2",  # noqa: S608
        counted,
        target_id,
        user_id,
    )


async def _change_like(
    db: asyncpg.Pool, statement: str, counted: str, target_id: uuid.UUID, user_id: uuid.UUID
) -> int:
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(statement, target_id, user_id)
        # Read in the same transaction: the count includes this change, whatever runs next.
        return (
            await conn.fetchval(
                f"SELECT like_count FROM {counted} WHERE id = $1",  # noqa: S608
                target_id,
            )
            or 0
        )
