"""Named queries on reports: filing one, the moderators' queue, and reviewing."""

from __future__ import annotations

import uuid

import asyncpg

from signaling.db import Db
from signaling.http.pagination import Cursor, keyset_args

_COLUMNS = """r.id, r.reporter_id, r.target_type, r.target_id, r.reason, r.description, r.status,
    r.reviewed_by, r.reviewed_at, r.created_at,
    u.account_id AS reporter_account_id, u.username AS reporter_username"""


async def create(
    db: Db,
    reporter_id: uuid.UUID,
    target_type: str,
    target_id: uuid.UUID,
    reason: str,
    description: str | None,
) -> asyncpg.Record:
    """Raises asyncpg.UniqueViolationError when this reporter has a pending report on it."""
    return await db.fetchrow(
        f"""WITH r AS (INSERT INTO reports (reporter_id, target_type, target_id, reason,
                                            description)
                       VALUES ($1, $2, $3, $4, $5) RETURNING *)
            SELECT {_COLUMNS} FROM r JOIN users u ON u.id = r.reporter_id""",  # noqa: S608
        reporter_id,
        target_type,
        target_id,
        reason,
        description,
    )


async def queue(
    db: Db,
    *,
    status: str | None,
    target_type: str | None,
    after: Cursor | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Reports, newest first, optionally of one status and target type."""
    return await db.fetch(
        f"""SELECT {_COLUMNS} FROM reports r JOIN users u ON u.id = r.reporter_id
            WHERE ($1::text IS NULL OR r.status = $1)
              AND ($2::text IS NULL OR r.target_type = $2)
              AND ($3::timestamptz IS NULL OR (r.created_at, r.id) < ($3, $4::uuid))
            ORDER BY r.created_at DESC, r.id DESC LIMIT $5""",  # noqa: S608
        status,
        target_type,
        *keyset_args(after),
        limit,
    )


async def review(
    db: Db, report_id: uuid.UUID, status: str, moderator_id: uuid.UUID
) -> asyncpg.Record | None:
    """Move a pending report to its final status; None when it is not pending (or absent)."""
    return await db.fetchrow(
        f"""WITH r AS (UPDATE reports SET status = $2, reviewed_by = $3, reviewed_at = now()
                       WHERE id = $1 AND status = 'pending' RETURNING *)
            SELECT {_COLUMNS} FROM r JOIN users u ON u.id = r.reporter_id""",  # noqa: S608
        report_id,
        status,
        moderator_id,
    )


async def status_of(db: Db, report_id: uuid.UUID) -> str | None:
    status: str | None = await db.fetchval("SELECT status FROM reports WHERE id = $1", report_id)
    return status
