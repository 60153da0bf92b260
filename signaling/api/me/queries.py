"""Named queries behind my own lists and profile (/api/me…).

Amounts come back as NUMERIC (Decimal) planck; the HTTP layer turns them into decimal strings.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from signaling.api.billing.queries import payouts
from signaling.auth import users
from signaling.db import Db
from signaling.http.pagination import Cursor, keyset_args

After = Cursor | None


async def update_profile(db: Db, user_id: uuid.UUID, changes: dict[str, Any]) -> asyncpg.Record:
    """Set the changed profile fields; asyncpg.UniqueViolationError for a taken username."""
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    return await db.fetchrow(
        f"UPDATE users SET {assignments} WHERE id = $1 RETURNING {users.COLUMNS}",  # noqa: S608
        user_id,
        *changes.values(),
    )


async def deposits(db: Db, user_id: uuid.UUID, after: After, limit: int) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT id, from_account, amount, block_number, block_hash, credited_at, created_at
           FROM deposits
           WHERE user_id = $1
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
           ORDER BY created_at DESC, id DESC
           LIMIT $4""",
        user_id,
        *keyset_args(after),
        limit,
    )


async def spending(db: Db, user_id: uuid.UUID, after: After, limit: int) -> list[asyncpg.Record]:
    """Stream-view payments grouped by stream, most recently paid first.

    The page key is (last payment time, stream id), exposed as created_at/id for the cursor.
    """
    return await db.fetch(
        """WITH per_stream AS (
               SELECT sv.stream_id AS id, max(p.created_at) AS created_at,
                      sum(p.amount) AS amount, count(DISTINCT sv.id) AS views
               FROM payments p JOIN stream_viewers sv ON sv.id = p.reference_id
               WHERE p.from_user_id = $1 AND p.payment_type = 'stream_view'
               GROUP BY sv.stream_id)
           SELECT ps.id, ps.created_at, ps.amount, ps.views, s.title, s.price_per_second,
                  (SELECT COALESCE(sum(total_ticks), 0) FROM stream_viewers
                   WHERE stream_id = ps.id AND viewer_id = $1) AS seconds,
                  u.account_id AS creator_account, u.username AS creator_username
           FROM per_stream ps JOIN streams s ON s.id = ps.id JOIN users u ON u.id = s.creator_id
           WHERE ($2::timestamptz IS NULL OR (ps.created_at, ps.id) < ($2, $3::uuid))
           ORDER BY ps.created_at DESC, ps.id DESC
           LIMIT $4""",
        user_id,
        *keyset_args(after),
        limit,
    )


async def tips(db: Db, user_id: uuid.UUID, after: After, limit: int) -> list[asyncpg.Record]:
    """The tips I sent (settled), newest first, with what they were for and their message."""
    return await db.fetch(
        """SELECT p.id, p.created_at, p.amount, s.id AS stream_id, s.title AS stream_title,
                  v.id AS video_id, v.title AS video_title, m.message,
                  u.account_id AS creator_account, u.username AS creator_username
           FROM payments p
           JOIN users u ON u.id = p.to_user_id
           LEFT JOIN streams s ON s.id = p.reference_id
           LEFT JOIN videos v ON v.id = p.reference_id
           LEFT JOIN tip_messages m ON m.payment_id = p.id
           WHERE p.from_user_id = $1 AND p.payment_type = 'tip'
             AND ($2::timestamptz IS NULL OR (p.created_at, p.id) < ($2, $3::uuid))
           ORDER BY p.created_at DESC, p.id DESC
           LIMIT $4""",
        user_id,
        *keyset_args(after),
        limit,
    )


async def withdrawals(db: Db, user_id: uuid.UUID, after: After, limit: int) -> list[asyncpg.Record]:
    return await payouts(db, "withdrawal", user_id, after, limit)
