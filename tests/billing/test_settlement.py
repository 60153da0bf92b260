"""Settlement of the Redis ledger into PostgreSQL: aggregates, idempotency, invariant 3."""

from __future__ import annotations

import time
import uuid

import asyncpg
import pytest

from billing.ledger import decode_entry
from billing.meter import Charge, Meter
from billing.parking import list_parked, retry
from billing.reconcile import reconcile
from billing.settlement import GROUP, Settlement, apply_batch
from tests.billing.support import rows
from tests.billing.support.scene import FEE_BPS, PRICE, charges, make_scene, settle_all


@pytest.fixture
async def scene(db: asyncpg.Pool, redis, redis_prefix: str) -> dict:
    return await make_scene(db, redis, redis_prefix)


async def test_settlement_fills_every_table(
    scene: dict, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    now = int(time.time())
    for second in range(now - 5, now):
        await scene["meter"].charge(charges(scene, range(second, second + 1)))
    settlement = Settlement(redis, db, redis_prefix)
    await settle_all(settlement)

    for view in scene["views"]:
        row = await db.fetchrow(
            "SELECT total_ticks, paid_amount, last_tick_time FROM stream_viewers WHERE id=$1", view
        )
        assert row["total_ticks"] == 5 and int(row["paid_amount"]) == 5 * PRICE
        assert int(row["last_tick_time"].timestamp()) == now - 1
    assert await db.fetchval("SELECT total_ticks FROM streams WHERE id=$1", scene["stream"]) == 10
    assert (
        await db.fetchval(
            "SELECT total_ticks FROM stream_sessions WHERE stream_id=$1", scene["stream"]
        )
        == 10
    )
    earnings = await db.fetchrow(
        "SELECT total_earnings, pending_payout FROM creator_earnings WHERE creator_id=$1",
        scene["creator"],
    )
    expected = 10 * PRICE * 9 // 10
    assert int(earnings["total_earnings"]) == int(earnings["pending_payout"]) == expected
    payments = await db.fetchrow(
        """SELECT count(*) AS n, sum(amount) AS amount, sum(fee) AS fee FROM payments
           WHERE to_user_id=$1 AND payment_type='stream_view' AND status='completed'""",
        scene["creator"],
    )
    assert payments["n"] == 10  # one per view per batch
    assert int(payments["amount"]) == 10 * PRICE
    # Invariant 3 in PostgreSQL: debits = creator credits + fee, to the planck.
    assert int(payments["amount"]) == int(earnings["total_earnings"]) + int(payments["fee"])
    # ... and it equals what Redis kept.
    totals = await scene["meter"].totals()
    assert (totals.debits, totals.creator_credits, totals.fees) == (
        10 * PRICE,
        int(earnings["total_earnings"]),
        int(payments["fee"]),
    )
    assert await redis.xpending(f"{redis_prefix}ledger", GROUP) == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }


async def test_redelivered_batch_is_applied_once(
    scene: dict, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    await scene["meter"].charge(charges(scene, range(1000, 1003)))
    entry_id, fields = (await redis.xrange(f"{redis_prefix}ledger"))[0]
    entries = decode_entry(fields)
    async with db.acquire() as conn:
        assert await apply_batch(conn, entry_id.decode(), entries) is True
        assert await apply_batch(conn, entry_id.decode(), entries) is False
    ticks = await db.fetchval("SELECT total_ticks FROM streams WHERE id=$1", scene["stream"])
    assert ticks == 6
    # A consumer that reads the same entry again (it never acked) changes nothing.
    await settle_all(Settlement(redis, db, redis_prefix))
    assert await db.fetchval("SELECT total_ticks FROM streams WHERE id=$1", scene["stream"]) == 6


async def test_crashed_consumer_resumes_its_pending_entries(
    scene: dict, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    await scene["meter"].charge(charges(scene, range(2000, 2001)))
    first = Settlement(redis, db, redis_prefix, consumer="c1")
    await first.ensure_group()
    # Read without settling, as if the process died between XREADGROUP and the commit.
    await redis.xreadgroup(GROUP, "c1", {f"{redis_prefix}ledger": ">"}, count=10)
    assert (await redis.xpending(f"{redis_prefix}ledger", GROUP))["pending"] == 1
    restarted = Settlement(redis, db, redis_prefix, consumer="c1")
    assert await restarted.settle_pending() == 1
    assert await db.fetchval("SELECT total_ticks FROM streams WHERE id=$1", scene["stream"]) == 2
    assert (await redis.xpending(f"{redis_prefix}ledger", GROUP))["pending"] == 0


async def test_free_stream_counts_ticks_without_payments(
    db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    creator, viewer = await rows.user(db, creator=True), await rows.user(db)
    stream = await rows.live_stream(db, creator, 0)
    view = await rows.view(db, stream, viewer)
    meter = Meter(redis, FEE_BPS, redis_prefix)
    await meter.charge([Charge(str(view), str(viewer), str(stream), str(creator), 5, 0)])
    await settle_all(Settlement(redis, db, redis_prefix))
    assert await db.fetchval("SELECT total_ticks FROM stream_viewers WHERE id=$1", view) == 1
    assert await db.fetchval("SELECT count(*) FROM payments WHERE reference_id=$1", view) == 0
    assert uuid.UUID(str(view))


async def test_settled_entries_are_trimmed_from_the_ledger(
    own_db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    db, ledger = own_db, f"{redis_prefix}ledger"
    scene = await make_scene(db, redis, redis_prefix)
    for second in range(4000, 4010):
        await scene["meter"].charge(charges(scene, range(second, second + 1)))
    consumer = Settlement(redis, db, redis_prefix, batch=4)
    await settle_all(consumer)
    assert await redis.xlen(ledger) <= 1  # at most the last delivered entry stays
    for second in range(4010, 4013):
        await scene["meter"].charge(charges(scene, range(second, second + 1)))
    await redis.xreadgroup(GROUP, "stalled", {ledger: ">"}, count=1)  # read, never acked
    await settle_all(consumer)
    remaining = [entry_id for entry_id, _ in await redis.xrange(ledger)]
    assert remaining[0] == (await redis.xpending(ledger, GROUP))["min"]  # kept for its owner
    report = await reconcile(db, redis, redis_prefix, None)
    assert report.ok, report.text()  # trimmed entries are in PostgreSQL, the stalled one is not


async def test_refused_batch_is_parked_and_later_batches_settle(
    own_db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    """A batch PostgreSQL refuses (its viewer row is gone) is parked, stays counted as unsettled
    by reconcile, and the batches after it settle; retried once fixed, it settles exactly once."""
    db = own_db
    scene = await make_scene(db, redis, redis_prefix)
    ghost = uuid.uuid4()  # a viewer PostgreSQL does not know: payments' foreign key refuses
    meter = scene["meter"]
    await meter.credit(str(ghost), 10 * PRICE, "seed-ghost")
    now = int(time.time())
    await meter.charge(
        [
            Charge(
                str(uuid.uuid4()),
                str(ghost),
                str(scene["stream"]),
                str(scene["creator"]),
                now - 3,
                PRICE,
            )
        ]
    )
    await meter.charge(charges(scene, range(now - 2, now)))
    settlement = Settlement(redis, db, redis_prefix)
    await settle_all(settlement)

    [parked] = await list_parked(db)
    assert parked.kind == "settlement" and parked.amount == PRICE
    assert "ForeignKeyViolation" in parked.reason
    assert await db.fetchval("SELECT count(*) FROM settled_batches") == 1  # the later batch
    report = await reconcile(db, redis, redis_prefix, None)
    assert report.ok, report.text()  # the parked batch is unsettled, not lost
    assert [p.ref for p in report.parked] == [parked.ref]

    await db.execute(
        "INSERT INTO users (id, account_id, public_key) VALUES ($1, 'ghost', $2)",
        ghost,
        ghost.bytes * 2,
    )
    assert await retry(db, "settlement", parked.ref)
    assert await settlement.settle_pending() == 1
    assert await settlement.settle_pending() == 0
    assert await db.fetchval("SELECT count(*) FROM settled_batches") == 2
    report = await reconcile(db, redis, redis_prefix, None)
    assert report.ok and not report.parked, report.text()
    pending = await redis.xpending(settlement.stream, GROUP)
    assert pending["pending"] == 0
