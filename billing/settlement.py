"""Settlement: the ledger stream in Redis → PostgreSQL, one transaction per batch.

Money invariant 5 (test_settlement_kill_9_applies_every_batch_once in tests/billing): delivery
from Redis is at-least-once (a consumer group; entries are acknowledged only after their
transaction commits, and a restarted consumer re-reads its pending entries first), and applying
is idempotent (the batch id, the stream entry id, is inserted in the same transaction), hence
exactly once in effect. Invariant 3 in PostgreSQL follows: every payment carries its fee and
`settled_batches` checks amount = creator_amount + fee per batch.

A batch PostgreSQL refuses for a reason of its own (a corrupt entry, a row it references is
gone) is parked and left unacknowledged: it stays in the stream (reconcile counts it as not yet
settled, and trimming keeps it), the consumer skips it and settles the batches after it, and
`vilokanam parked retry settlement ID` makes the consumer apply it again
(test_refused_batch_is_parked_and_later_batches_settle in tests/billing/test_settlement.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter, Histogram
from redis.exceptions import ResponseError
from redis.typing import XReadGroupResponse

from billing.ledger import (
    Fields,
    LedgerEntry,
    LedgerPayment,
    decode_entry,
    decode_payment,
    ledger_key,
)
from billing.parking import TRANSIENT, park, parked_refs

logger = structlog.get_logger(__name__)

GROUP = "settlement"
PENDING_RESCAN_S = 30.0
"""Seconds between looks at this consumer's pending entries (retried parked batches)."""
SETTLED = Counter("vilokanam_settled_viewer_seconds_total", "Viewer-seconds settled to PostgreSQL")
LAG = Histogram(
    "vilokanam_settlement_lag_seconds",
    "Time from a charge in Redis to its commit in PostgreSQL",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)


@dataclass
class _ViewTotals:
    ticks: int = 0
    amount: int = 0
    fee: int = 0
    last_second: int = 0
    viewer_id: str = ""
    creator_id: str = ""


@dataclass
class BatchSums:
    """What one ledger batch changes, grouped the way the tables are keyed."""

    views: dict[str, _ViewTotals] = field(default_factory=lambda: defaultdict(_ViewTotals))
    streams: dict[str, tuple[int, int]] = field(default_factory=dict)  # ticks, last second
    creators: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    amount: int = 0
    fee: int = 0

    @classmethod
    def of(cls, entries: list[LedgerEntry]) -> BatchSums:
        sums = cls()
        for entry in entries:
            view = sums.views[entry.view_id]
            view.ticks += 1
            view.amount += entry.amount
            view.fee += entry.fee
            view.last_second = max(view.last_second, entry.second)
            view.viewer_id, view.creator_id = entry.viewer_id, entry.creator_id
            ticks, last = sums.streams.get(entry.stream_id, (0, 0))
            sums.streams[entry.stream_id] = (ticks + 1, max(last, entry.second))
            sums.creators[entry.creator_id] += entry.creator_amount
            sums.amount += entry.amount
            sums.fee += entry.fee
        return sums


_Message = tuple[str | bytes, Fields | None]
"""One XREADGROUP message: entry id and fields (None: the entry was deleted since read)."""


def _messages(response: XReadGroupResponse | None) -> list[_Message]:
    """The messages of an XREADGROUP reply, in order; the client speaks RESP2, which answers
    [[stream, [(id, fields), ...]]] (RESP3 would answer a dict)."""
    return [m for _stream, page in cast(list[list[Any]], response or []) for m in page]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _moment(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


async def apply_batch(conn: asyncpg.Connection, batch_id: str, entries: list[LedgerEntry]) -> bool:
    """Apply one ledger batch in one transaction; False if it was applied before."""
    sums = BatchSums.of(entries)
    async with conn.transaction():
        inserted = await conn.fetchval(
            """INSERT INTO settled_batches (batch_id, charges, amount, creator_amount, fee)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (batch_id) DO NOTHING RETURNING 1""",
            batch_id,
            len(entries),
            sums.amount,
            sums.amount - sums.fee,
            sums.fee,
        )
        if inserted is None:
            return False
        await _apply_views(conn, batch_id, sums)
        await _apply_streams(conn, sums)
        await _add_earnings(conn, sums.creators)
    return True


async def apply_payment(conn: asyncpg.Connection, batch_id: str, payment: LedgerPayment) -> bool:
    """Apply one one-off payment (a tip) in one transaction; False if it was applied before.

    Its entry id is the batch id (a settled batch of no charges), so reconcile sums it with the
    charge batches; the payments row takes the payment id as its id: one row per payment.
    """
    async with conn.transaction():
        inserted = await conn.fetchval(
            """INSERT INTO settled_batches (batch_id, charges, amount, creator_amount, fee)
               VALUES ($1, 0, $2, $3, $4) ON CONFLICT (batch_id) DO NOTHING RETURNING 1""",
            batch_id,
            payment.amount,
            payment.creator_amount,
            payment.fee,
        )
        if inserted is None:
            return False
        await conn.execute(
            """INSERT INTO payments (id, from_user_id, to_user_id, amount, fee, payment_type,
                                     reference_id, status, batch_id, completed_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'completed', $8, now())""",
            *(uuid.UUID(v) for v in (payment.payment_id, payment.viewer_id, payment.creator_id)),
            payment.amount,
            payment.fee,
            payment.kind,
            uuid.UUID(payment.ref),
            batch_id,
        )
        await _add_earnings(conn, {payment.creator_id: payment.creator_amount})
    return True


async def _add_earnings(conn: asyncpg.Connection, creators: dict[str, int]) -> None:
    await conn.executemany(
        """INSERT INTO creator_earnings (creator_id, total_earnings, pending_payout)
           VALUES ($1, $2, $2)
           ON CONFLICT (creator_id) DO UPDATE SET
               total_earnings = creator_earnings.total_earnings + EXCLUDED.total_earnings,
               pending_payout = creator_earnings.pending_payout + EXCLUDED.pending_payout""",
        [(uuid.UUID(c), amount) for c, amount in creators.items() if amount > 0],
    )


async def _apply_views(conn: asyncpg.Connection, batch_id: str, sums: BatchSums) -> None:
    await conn.executemany(
        """UPDATE stream_viewers SET total_ticks = total_ticks + $2,
                  paid_amount = paid_amount + $3,
                  last_tick_time = GREATEST(last_tick_time, $4)
           WHERE id = $1""",
        [(uuid.UUID(v), t.ticks, t.amount, _moment(t.last_second)) for v, t in sums.views.items()],
    )
    await conn.executemany(
        """INSERT INTO payments (from_user_id, to_user_id, amount, fee, payment_type,
                                 reference_id, status, batch_id, completed_at)
           VALUES ($1, $2, $3, $4, 'stream_view', $5, 'completed', $6, now())""",
        [
            (
                uuid.UUID(t.viewer_id),
                uuid.UUID(t.creator_id),
                t.amount,
                t.fee,
                uuid.UUID(v),
                batch_id,
            )
            for v, t in sums.views.items()
            if t.amount > 0
        ],
    )


async def _apply_streams(conn: asyncpg.Connection, sums: BatchSums) -> None:
    rows = [(uuid.UUID(s), ticks, _moment(last)) for s, (ticks, last) in sums.streams.items()]
    await conn.executemany(
        "UPDATE streams SET total_ticks = total_ticks + $2 WHERE id = $1",
        [row[:2] for row in rows],
    )
    # The live session a second belongs to: the latest one that had started by then.
    await conn.executemany(
        """UPDATE stream_sessions SET total_ticks = total_ticks + $2
           WHERE id = (SELECT id FROM stream_sessions WHERE stream_id = $1 AND start_time <= $3
                       ORDER BY start_time DESC LIMIT 1)""",
        rows,
    )


class Settlement:
    """A consumer of the ledger stream; run one or more (distinct `consumer` names)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        pool: asyncpg.Pool,
        prefix: str,
        consumer: str = "settlement-1",
        batch: int = 200,
    ) -> None:
        self.redis = redis
        self.pool = pool
        self.stream = ledger_key(prefix)
        self.consumer = consumer
        self.batch = batch

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def settle_pending(self) -> int:
        """Entries this consumer read before and never acknowledged (it crashed, or they were
        parked and since retried): first. Parked ones are skipped."""
        handled, start = 0, "0"
        while True:
            response = await self.redis.xreadgroup(
                GROUP, self.consumer, {self.stream: start}, count=self.batch
            )
            messages = _messages(response)
            if not messages:
                return handled
            handled += await self._settle_all(messages)
            start = _text(messages[-1][0])

    async def settle_new(self, block_ms: int | None = 1000) -> int:
        response = await self.redis.xreadgroup(
            GROUP, self.consumer, {self.stream: ">"}, count=self.batch, block=block_ms
        )
        return await self._settle_all(_messages(response))

    async def _settle_all(self, messages: list[_Message]) -> int:
        """Settle entries read from the stream; the number handled (parked ones excluded)."""
        if not messages:
            return 0
        parked = await parked_refs(self.pool, "settlement")
        handled = 0
        for entry_id, fields in messages:
            if _text(entry_id) not in parked:
                await self._settle(_text(entry_id), fields)
                handled += 1
        if handled:
            await self.trim()
        return handled

    async def trim(self) -> None:
        """Drop ledger entries every consumer has acknowledged: they are in PostgreSQL now.

        Keeps everything from the oldest unacknowledged entry on (or from the last delivered
        one), so a crashed consumer still finds its pending entries and reconcile its unsettled
        ones. The settlement group is the stream's only reader.
        """
        pending = await self.redis.xpending(self.stream, GROUP)
        if pending["pending"]:
            floor = _text(pending["min"])
        else:
            groups = await self.redis.xinfo_groups(self.stream)
            floor = next(_text(g["last-delivered-id"]) for g in groups if _text(g["name"]) == GROUP)
        await self.redis.xtrim(self.stream, minid=floor, approximate=False)

    async def _settle(self, entry_id: str, fields: Fields | None) -> None:
        try:
            payment = decode_payment(fields)
            entries = [] if payment else decode_entry(fields)
            async with self.pool.acquire() as conn:
                if payment:
                    fresh = await apply_payment(conn, entry_id, payment)
                else:
                    fresh = await apply_batch(conn, entry_id, entries)
        except TRANSIENT:
            raise
        except Exception as exc:  # noqa: BLE001 - one batch must not stop the others
            await park(self.pool, "settlement", entry_id, exc, _entry_amount(fields))
            return
        await self.redis.xack(self.stream, GROUP, entry_id)
        if fresh:
            SETTLED.inc(len(entries))
            LAG.observe(max(0.0, time.time() - int(entry_id.split("-")[0]) / 1000))

    async def claim_abandoned(self, idle_ms: int = 30_000) -> None:
        """Take over entries another consumer read and never acknowledged (it died)."""
        await self.redis.xautoclaim(
            self.stream, GROUP, self.consumer, idle_ms, "0-0", count=self.batch
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.ensure_group()
        await self.claim_abandoned()
        await self.settle_pending()
        rescan_at = time.monotonic() + PENDING_RESCAN_S
        while not stop.is_set():
            try:
                await self.settle_new(block_ms=500)
                if time.monotonic() >= rescan_at:
                    rescan_at = time.monotonic() + PENDING_RESCAN_S
                    await self.settle_pending()
            except TRANSIENT as exc:
                logger.warning("settlement_retry", error=str(exc))
                await asyncio.sleep(1)
                while await self.settle_pending():
                    pass


def _entry_amount(fields: Fields | None) -> int | None:
    """The batch's total debit as the ledger entry states it, when readable."""
    if fields is None:
        return None
    raw = fields.get(b"amount", fields.get("amount"))
    try:
        return int(_text(raw)) if raw is not None else None
    except ValueError:
        return None
