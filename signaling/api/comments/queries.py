"""Named queries on comments of videos and streams.

`videos.comment_count` follows inserts and soft deletes through a trigger (migration 0030), and
the same migration refuses a reply whose parent belongs to another video or stream.
"""

from __future__ import annotations

import uuid

import asyncpg

from signaling.db import Db
from signaling.http.pagination import Cursor, keyset_args

# A comment, its author and how many live replies it has.
_COLUMNS = """c.id, c.video_id, c.stream_id, c.parent_id, c.content, c.like_count, c.is_deleted,
    c.created_at, c.updated_at, c.author_id, u.account_id, u.username,
    (SELECT count(*) FROM comments r WHERE r.parent_id = c.id AND NOT r.is_deleted)
        AS reply_count"""

# Which column ties a comment to what it is about.
TARGETS = {"video": "video_id", "stream": "stream_id"}


async def comment(db: Db, comment_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""SELECT {_COLUMNS} FROM comments c JOIN users u ON u.id = c.author_id
            WHERE c.id = $1""",  # noqa: S608
        comment_id,
    )


async def create(
    db: Db,
    target: str,
    target_id: uuid.UUID,
    author_id: uuid.UUID,
    content: str,
    parent_id: uuid.UUID | None,
) -> asyncpg.Record:
    """Raises asyncpg.CheckViolationError when the parent belongs elsewhere and
    asyncpg.ForeignKeyViolationError when the parent or target vanished."""
    column = TARGETS[target]
    return await db.fetchrow(
        f"""WITH c AS (INSERT INTO comments ({column}, author_id, content, parent_id)
                       VALUES ($1, $2, $3, $4) RETURNING *)
            SELECT {_COLUMNS} FROM c JOIN users u ON u.id = c.author_id""",  # noqa: S608
        target_id,
        author_id,
        content,
        parent_id,
    )


async def listing(
    db: Db,
    target: str,
    target_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    after: Cursor | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Top-level comments (parent_id None) or the replies to one, newest first."""
    column = TARGETS[target]
    return await db.fetch(
        f"""SELECT {_COLUMNS} FROM comments c JOIN users u ON u.id = c.author_id
            WHERE c.{column} = $1
              AND c.parent_id IS NOT DISTINCT FROM $2::uuid
              AND ($3::timestamptz IS NULL OR (c.created_at, c.id) < ($3, $4::uuid))
            ORDER BY c.created_at DESC, c.id DESC LIMIT $5""",  # noqa: S608
        target_id,
        parent_id,
        *keyset_args(after),
        limit,
    )


async def edit(db: Db, comment_id: uuid.UUID, content: str) -> asyncpg.Record | None:
    """New content for a comment that is not deleted; None if it is (or is gone)."""
    updated = await db.fetchval(
        "UPDATE comments SET content = $2 WHERE id = $1 AND NOT is_deleted RETURNING id",
        comment_id,
        content,
    )
    return await comment(db, comment_id) if updated else None


async def soft_delete(db: Db, comment_id: uuid.UUID) -> bool:
    """Mark deleted; False when it already was. The content stays for moderators' records."""
    status = await db.execute(
        "UPDATE comments SET is_deleted = TRUE WHERE id = $1 AND NOT is_deleted", comment_id
    )
    return status == "UPDATE 1"
