"""Named queries behind the creator dashboard.

Amounts come back as NUMERIC (Decimal) planck; the HTTP layer turns them into decimal strings.
Lists are keyset-paginated over (created_at, id), newest first (signaling/http/pagination.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from billing import OPEN_STATES
from signaling.api.billing.queries import FEE_OF_ITEM, payouts
from signaling.db import Db
from signaling.http.pagination import Cursor, keyset_args

After = Cursor | None

# Payouts on their way to the chain, but not yet in a block.
SENDING = tuple(state for state in OPEN_STATES if state != "in_block")


@dataclass(frozen=True)
class Range:
    """A chart range: how far back, and the width of one bucket."""

    span: timedelta
    bucket: timedelta


RANGES = {
    "1h": Range(timedelta(hours=1), timedelta(minutes=1)),
    "24h": Range(timedelta(hours=24), timedelta(minutes=30)),
    "7d": Range(timedelta(days=7), timedelta(hours=6)),
    "30d": Range(timedelta(days=30), timedelta(days=1)),
}


async def dashboard_totals(db: Db, creator_id: uuid.UUID) -> asyncpg.Record | None:
    """The creator_dashboard view's row (None unless the user is a creator)."""
    return await db.fetchrow("SELECT * FROM creator_dashboard WHERE creator_id = $1", creator_id)


async def earned_by_kind(db: Db, creator_id: uuid.UUID) -> list[asyncpg.Record]:
    """Settled payments to the creator per kind (stream_view, tip): how many, what they earned."""
    return await db.fetch(
        """SELECT payment_type, count(*) AS payments, COALESCE(sum(amount - fee), 0) AS earned
           FROM payments WHERE to_user_id = $1 AND payment_type IN ('stream_view', 'tip')
           GROUP BY payment_type""",
        creator_id,
    )


async def settled_split(db: Db, creator_id: uuid.UUID) -> asyncpg.Record:
    """Settled earnings and where they are: awaiting payout, sending, in a block, finalized.

    total_earnings = awaiting_payout + sending + in_block + finalized (billing/reconcile.py).
    """
    return await db.fetchrow(
        """SELECT
             COALESCE((SELECT total_earnings FROM creator_earnings WHERE creator_id = $1), 0)
                 AS total_earnings,
             COALESCE((SELECT pending_payout FROM creator_earnings WHERE creator_id = $1), 0)
                 AS awaiting_payout,
             COALESCE(sum(i.amount) FILTER (WHERE p.status = ANY($2::text[])), 0) AS sending,
             COALESCE(sum(i.amount) FILTER (WHERE p.status = 'in_block'), 0) AS in_block,
             COALESCE(sum(i.amount) FILTER (WHERE p.status = 'finalized'), 0) AS finalized
           FROM payout_items i JOIN payouts p ON p.id = i.payout_id AND p.kind = 'creator'
           WHERE i.user_id = $1""",
        creator_id,
        list(SENDING),
    )


async def payout_fees(db: Db, creator_id: uuid.UUID) -> asyncpg.Record:
    """The creator's payouts in a block: how many, what they paid, and their fees' share."""
    return await db.fetchrow(
        f"""SELECT count(*) AS payouts, COALESCE(sum(i.amount), 0) AS paid,
                   COALESCE(sum({FEE_OF_ITEM}), 0) AS fees
            FROM payouts p JOIN payout_items i ON i.payout_id = p.id
            WHERE p.kind = 'creator' AND i.user_id = $1
              AND p.status IN ('in_block', 'finalized')""",  # noqa: S608 - a constant
        creator_id,
    )


async def live_streams(db: Db, creator_id: uuid.UUID) -> list[asyncpg.Record]:
    """The creator's streams that are live now, with their current viewer count."""
    return await db.fetch(
        """SELECT id, title, viewer_count, price_per_second FROM streams
           WHERE creator_id = $1 AND status = 'live' ORDER BY start_time, id""",
        creator_id,
    )


async def creator_streams(
    db: Db, creator_id: uuid.UUID, after: After, limit: int
) -> list[asyncpg.Record]:
    """The creator's streams, newest first, with viewer peak and settled earnings."""
    return await db.fetch(
        """SELECT s.id, s.title, s.status, s.price_per_second, s.viewer_count, s.total_ticks,
                  s.recording_url, s.start_time, s.end_time, s.created_at,
                  COALESCE((SELECT max(viewer_peak) FROM stream_sessions
                            WHERE stream_id = s.id), 0) AS viewer_peak,
                  COALESCE((SELECT sum(p.amount - p.fee) FROM payments p
                            JOIN stream_viewers sv ON sv.id = p.reference_id
                            WHERE sv.stream_id = s.id AND p.to_user_id = $1
                              AND p.payment_type = 'stream_view'), 0) AS earnings
           FROM streams s
           WHERE s.creator_id = $1
             AND ($2::timestamptz IS NULL OR (s.created_at, s.id) < ($2, $3::uuid))
           ORDER BY s.created_at DESC, s.id DESC
           LIMIT $4""",
        creator_id,
        *keyset_args(after),
        limit,
    )


async def owns_stream(db: Db, creator_id: uuid.UUID, stream_id: uuid.UUID) -> bool:
    return bool(
        await db.fetchval(
            "SELECT 1 FROM streams WHERE id = $1 AND creator_id = $2", stream_id, creator_id
        )
    )


async def creator_payouts(
    db: Db, creator_id: uuid.UUID, after: After, limit: int
) -> list[asyncpg.Record]:
    """The creator's payouts (their own share of each), newest first."""
    return await payouts(db, "creator", creator_id, after, limit)


async def earnings_series(
    db: Db, creator_id: uuid.UUID, chart: Range, until: datetime
) -> list[asyncpg.Record]:
    """(at, value): settled creator earnings per bucket, zero-filled."""
    per_bucket = """SELECT date_bin($1, created_at, 'epoch') AS at, sum(amount - fee) AS value
                    FROM payments
                    WHERE to_user_id = $4 AND payment_type = 'stream_view' AND created_at >= $2
                    GROUP BY 1"""
    return await _series(db, per_bucket, chart, until, creator_id)


async def viewers_series(
    db: Db, creator_id: uuid.UUID, stream_id: uuid.UUID | None, chart: Range, until: datetime
) -> list[asyncpg.Record]:
    """(at, value): viewers per bucket (each stream's peak in the bucket, summed), zero-filled."""
    per_bucket = """SELECT at, sum(peak) AS value FROM (
                        SELECT date_bin($1, a."timestamp", 'epoch') AS at, a.stream_id,
                               max(a.viewer_count) AS peak
                        FROM stream_analytics a JOIN streams s ON s.id = a.stream_id
                        WHERE s.creator_id = $4 AND ($5::uuid IS NULL OR a.stream_id = $5)
                          AND a."timestamp" >= $2
                        GROUP BY 1, 2) per_stream
                    GROUP BY at"""
    return await _series(db, per_bucket, chart, until, creator_id, stream_id)


async def _series(
    db: Db, per_bucket: str, chart: Range, until: datetime, *args: object
) -> list[asyncpg.Record]:
    """Every bucket from until - span to until, joined with `per_bucket` rows (at, value).

    `per_bucket` may use $1 (bucket width), $2 (first bucket start) and $4… (args).
    """
    return await db.fetch(
        f"""WITH buckets AS (
                SELECT generate_series(date_bin($1, $2::timestamptz, 'epoch'), $3::timestamptz,
                                       $1) AS at),
             sums AS ({per_bucket})
            SELECT b.at, COALESCE(s.value, 0) AS value
            FROM buckets b LEFT JOIN sums s USING (at)
            ORDER BY b.at""",  # noqa: S608 - per_bucket is one of this module's constants
        chart.bucket,
        until - chart.span,
        until,
        *args,
    )


async def payments_export(
    conn: asyncpg.Connection, creator_id: uuid.UUID, since: datetime | None
) -> AsyncIterator[asyncpg.Record]:
    """Every viewing and tip payment to the creator, oldest first (a cursor: needs a
    transaction). A view's reference is its stream_viewers row; a tip's the stream or video."""
    query = """SELECT p.id, p.created_at, p.payment_type, p.amount, p.fee,
                      p.amount - p.fee AS creator_amount, p.status, p.batch_id,
                      s.id AS stream_id, s.title AS stream_title, v.id AS video_id,
                      u.account_id AS viewer_account
               FROM payments p
               JOIN users u ON u.id = p.from_user_id
               LEFT JOIN stream_viewers sv
                      ON p.payment_type = 'stream_view' AND sv.id = p.reference_id
               LEFT JOIN streams s ON s.id = COALESCE(sv.stream_id,
                      CASE WHEN p.payment_type = 'tip' THEN p.reference_id END)
               LEFT JOIN videos v ON p.payment_type = 'tip' AND v.id = p.reference_id
               WHERE p.to_user_id = $1 AND p.payment_type IN ('stream_view', 'tip')
                 AND ($2::timestamptz IS NULL OR p.created_at >= $2)
               ORDER BY p.created_at, p.id"""
    async for row in conn.cursor(query, creator_id, since, prefetch=500):
        yield row
