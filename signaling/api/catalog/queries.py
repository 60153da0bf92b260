"""Named queries on categories, video_categories, and the few video facts social features need."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from signaling.db import Db
from signaling.http.pagination import Cursor, keyset_args

CATEGORY_COLUMNS = "c.id, c.name, c.description, c.created_at"


async def category(db: Db, category_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {CATEGORY_COLUMNS} FROM categories c WHERE c.id = $1",  # noqa: S608
        category_id,
    )


async def categories(db: Db, after: Cursor | None, limit: int) -> list[asyncpg.Record]:
    """Newest first."""
    return await db.fetch(
        f"""SELECT {CATEGORY_COLUMNS} FROM categories c
            WHERE ($1::timestamptz IS NULL OR (c.created_at, c.id) < ($1, $2::uuid))
            ORDER BY c.created_at DESC, c.id DESC LIMIT $3""",  # noqa: S608
        *keyset_args(after),
        limit,
    )


async def create_category(db: Db, name: str, description: str | None) -> asyncpg.Record:
    """Raises asyncpg.UniqueViolationError when the name is taken (in any case)."""
    return await db.fetchrow(
        f"""INSERT INTO categories AS c (name, description) VALUES ($1, $2)
            RETURNING {CATEGORY_COLUMNS}""",  # noqa: S608
        name,
        description,
    )


async def update_category(
    db: Db, category_id: uuid.UUID, changes: dict[str, Any]
) -> asyncpg.Record | None:
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    return await db.fetchrow(
        f"""UPDATE categories AS c SET {assignments} WHERE c.id = $1
            RETURNING {CATEGORY_COLUMNS}""",  # noqa: S608
        category_id,
        *changes.values(),
    )


async def delete_category(db: Db, category_id: uuid.UUID) -> bool:
    return await db.execute("DELETE FROM categories WHERE id = $1", category_id) == "DELETE 1"


async def video_categories(
    db: Db, video_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    return await db.fetch(
        f"""SELECT {CATEGORY_COLUMNS} FROM categories c
            JOIN video_categories vc ON vc.category_id = c.id AND vc.video_id = $1
            WHERE ($2::timestamptz IS NULL OR (c.created_at, c.id) < ($2, $3::uuid))
            ORDER BY c.created_at DESC, c.id DESC LIMIT $4""",  # noqa: S608
        video_id,
        *keyset_args(after),
        limit,
    )


async def add_video_category(db: Db, video_id: uuid.UUID, category_id: uuid.UUID) -> None:
    """Raises asyncpg.ForeignKeyViolationError when either vanished meanwhile."""
    await db.execute(
        """INSERT INTO video_categories (video_id, category_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING""",
        video_id,
        category_id,
    )


async def remove_video_category(db: Db, video_id: uuid.UUID, category_id: uuid.UUID) -> None:
    await db.execute(
        "DELETE FROM video_categories WHERE video_id = $1 AND category_id = $2",
        video_id,
        category_id,
    )


async def video(db: Db, video_id: uuid.UUID) -> asyncpg.Record | None:
    """Owner, status and counters of a video that exists (a soft-deleted video does not)."""
    return await db.fetchrow(
        """SELECT id, creator_id, status, like_count, comment_count FROM videos
           WHERE id = $1 AND deleted_at IS NULL""",
        video_id,
    )


async def video_analytics(db: Db, video_id: uuid.UUID) -> asyncpg.Record | None:
    """The `video_analytics` view row (only ready videos have one)."""
    return await db.fetchrow("SELECT * FROM video_analytics WHERE video_id = $1", video_id)
