"""Named queries on uploads and upload_chunks (migration 0040)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from signaling.db import Db


@dataclass(frozen=True)
class Quota:
    """What one creator may have in flight: open uploads, and their declared bytes together."""

    max_open: int
    max_bytes: int


UPLOAD_COLUMNS = """id, creator_id, filename, content_type, size, sha256, chunk_size, chunk_count,
    title, description, status, failure, video_id, created_at, updated_at, completed_at"""


async def create(
    db: asyncpg.Pool, creator_id: uuid.UUID, fields: dict[str, Any], quota: Quota
) -> asyncpg.Record | str:
    """Insert an upload, or return why the creator's quota refuses it ("open" or "bytes").

    Open uploads (receiving or assembling) are counted under a per-creator lock, so two
    concurrent requests cannot both take the last place.
    """
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('uploads:' || $1::uuid::text))", creator_id
        )
        count, declared = await conn.fetchrow(
            """SELECT count(*), COALESCE(sum(size), 0) FROM uploads
               WHERE creator_id = $1 AND status IN ('receiving', 'assembling')""",
            creator_id,
        )
        if count >= quota.max_open:
            return "open"
        if declared + fields["size"] > quota.max_bytes:
            return "bytes"
        return await conn.fetchrow(
            f"""INSERT INTO uploads (creator_id, filename, content_type, size, sha256, chunk_size,
                                     chunk_count, title, description)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                RETURNING {UPLOAD_COLUMNS}""",  # noqa: S608
            creator_id,
            fields["filename"],
            fields["content_type"],
            fields["size"],
            fields["sha256"],
            fields["chunk_size"],
            fields["chunk_count"],
            fields["title"],
            fields.get("description"),
        )


async def by_id(db: Db, upload_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1", upload_id)  # noqa: S608


async def received_chunks(db: Db, upload_id: uuid.UUID) -> list[asyncpg.Record]:
    """(chunk_index, size, sha256) of every stored chunk, in index order."""
    return await db.fetch(
        """SELECT chunk_index, size, sha256 FROM upload_chunks WHERE upload_id = $1
           ORDER BY chunk_index""",
        upload_id,
    )


async def chunk(db: asyncpg.Connection, upload_id: uuid.UUID, index: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT size, sha256 FROM upload_chunks WHERE upload_id = $1 AND chunk_index = $2",
        upload_id,
        index,
    )


async def record_chunk(
    conn: asyncpg.Connection, upload_id: uuid.UUID, index: int, size: int, sha256: str
) -> bool:
    """Record a chunk unless it is already recorded; True when this call recorded it."""
    return bool(
        await conn.fetchval(
            """INSERT INTO upload_chunks (upload_id, chunk_index, size, sha256)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT DO NOTHING RETURNING 1""",
            upload_id,
            index,
            size,
            sha256,
        )
    )


async def forget_chunk(db: Db, upload_id: uuid.UUID, index: int) -> None:
    """Drop a chunk whose file went missing, so the client sends it again."""
    await db.execute(
        "DELETE FROM upload_chunks WHERE upload_id = $1 AND chunk_index = $2", upload_id, index
    )


async def claim_for_assembly(db: Db, upload_id: uuid.UUID) -> bool:
    """receiving → assembling; False when another request is completing it already."""
    return bool(
        await db.fetchval(
            """UPDATE uploads SET status = 'assembling'
               WHERE id = $1 AND status = 'receiving' RETURNING 1""",
            upload_id,
        )
    )


async def release(db: Db, upload_id: uuid.UUID) -> None:
    """assembling → receiving (assembly stopped before it could finish)."""
    await db.execute(
        "UPDATE uploads SET status = 'receiving' WHERE id = $1 AND status = 'assembling'",
        upload_id,
    )


async def fail(db: Db, upload_id: uuid.UUID, reason: str) -> None:
    await db.execute(
        "UPDATE uploads SET status = 'failed', failure = $2 WHERE id = $1", upload_id, reason
    )


async def create_video(conn: Db, upload: asyncpg.Record) -> uuid.UUID:
    """The videos row of a completed upload (status uploading until its job is queued)."""
    video_id: uuid.UUID = await conn.fetchval(
        """INSERT INTO videos (creator_id, title, description, status, file_size)
           VALUES ($1, $2, $3, 'uploading', $4) RETURNING id""",
        upload["creator_id"],
        upload["title"],
        upload["description"],
        upload["size"],
    )
    return video_id


async def mark_complete(
    conn: asyncpg.Connection, upload_id: uuid.UUID, video_id: uuid.UUID
) -> None:
    await conn.execute(
        """UPDATE uploads SET status = 'complete', video_id = $2, completed_at = now()
           WHERE id = $1""",
        upload_id,
        video_id,
    )
