"""Settlement lag: a charge metered in Redis → committed in PostgreSQL (issue 5: p99 < 5 s).

Meters every view once a wall-clock second for `--seconds` seconds (real Meter, real Lua) while
one Settlement consumer applies the ledger to PostgreSQL, as `vilokanam run` does. Lag of a
batch = its commit (settled_batches.settled_at) − its ledger entry id time (when Redis wrote
it). Baseline in the same run on the same PostgreSQL: the plain cost of writing what one batch
writes — one payments INSERT per view, executemany in one transaction — as rows per second.

    .venv/bin/python bench/settlement.py [--viewers 2000 10000] [--seconds 20]
    (DATABASE_URL/REDIS_URL as for the server; unset: embedded PostgreSQL 16 and Redis 6.2)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.support.services

from billing.meter import Meter  # noqa: E402
from billing.settlement import Settlement  # noqa: E402
from tests.support.services import fresh_database  # noqa: E402
from vilokanam.embedded import start_postgres, start_redis  # noqa: E402

PRICE = 1_000
VIEWERS_PER_STREAM = 100


async def _scene(db: asyncpg.Pool, viewers: int) -> list[tuple[str, str, str, str]]:
    """(view, viewer, stream, creator) rows in PostgreSQL for `viewers` concurrent views."""
    users = [(uuid.uuid4(), f"bench-{i}", secrets.token_bytes(32)) for i in range(viewers + 1)]
    await db.copy_records_to_table(
        "users", records=users, columns=["id", "account_id", "public_key"]
    )
    creator = users[0][0]
    streams = [uuid.uuid4() for _ in range(max(1, viewers // VIEWERS_PER_STREAM))]
    await db.executemany(
        "INSERT INTO streams (id, creator_id, title, status, price_per_second, start_time) "
        "VALUES ($1, $2, 'bench', 'live', $3, now())",
        [(s, creator, PRICE) for s in streams],
    )
    await db.executemany(
        "INSERT INTO stream_sessions (stream_id) VALUES ($1)", [(s,) for s in streams]
    )
    views = [(uuid.uuid4(), streams[i % len(streams)], users[i + 1][0]) for i in range(viewers)]
    await db.copy_records_to_table(
        "stream_viewers", records=views, columns=["id", "stream_id", "viewer_id"]
    )
    return [(str(v), str(u), str(s), str(creator)) for v, s, u in views]


async def _baseline(db: asyncpg.Pool, rows: list[tuple[str, str, str, str]]) -> float:
    """Rows/s of inserting one payment per view in one transaction (then rolled back)."""
    records = [(uuid.UUID(u), uuid.UUID(c), PRICE, uuid.UUID(v)) for v, u, _s, c in rows]
    async with db.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        start = time.perf_counter()
        await conn.executemany(
            "INSERT INTO payments (from_user_id, to_user_id, amount, payment_type, reference_id,"
            " status) VALUES ($1, $2, $3, 'stream_view', $4, 'completed')",
            records,
        )
        elapsed = time.perf_counter() - start
        await transaction.rollback()
    return len(records) / elapsed


async def _meter_seconds(meter: Meter, rows: list, seconds: int) -> None:
    lines = [meter.view_line(*row, PRICE) for row in rows]
    for _ in range(seconds):
        now = time.time()
        await asyncio.sleep(int(now) + 1 - now)
        await meter.charge_second(lines, int(time.time()) - 1)


async def _until_settled(db: asyncpg.Pool, charges: int, within_s: float) -> None:
    for _ in range(int(within_s / 0.2)):
        if await db.fetchval("SELECT COALESCE(sum(charges), 0) FROM settled_batches") >= charges:
            return
        await asyncio.sleep(0.2)


async def run(
    database_url: str, redis_url: str, viewers: int, seconds: int, consumers: int
) -> dict:
    db = await asyncpg.create_pool(database_url, min_size=2, max_size=2 + consumers)
    redis = aioredis.from_url(redis_url)
    prefix = f"bench:settle:{uuid.uuid4().hex}:"
    try:
        rows = await _scene(db, viewers)
        meter = Meter(redis, 1000, prefix)
        for at in range(0, len(rows), 100):  # balances for the whole run, 100 at a time
            await asyncio.gather(
                *(
                    meter.credit(row[1], PRICE * (seconds + 5), f"seed-{row[1]}")
                    for row in rows[at : at + 100]
                )
            )
        baseline = await _baseline(db, rows)
        stop = asyncio.Event()
        consumer_tasks = [
            asyncio.create_task(Settlement(redis, db, prefix, consumer=f"settlement-{n}").run(stop))
            for n in range(consumers)
        ]
        await _meter_seconds(meter, rows, seconds)
        await _until_settled(db, viewers * seconds, within_s=120)
        stop.set()
        await asyncio.gather(*consumer_tasks)
        batches = await db.fetch("SELECT batch_id, charges, settled_at FROM settled_batches")
    finally:
        keys = [k async for k in redis.scan_iter(prefix + "*")]
        if keys:
            await redis.unlink(*keys)
        await redis.aclose()
        await db.close()
    lags = sorted(
        row["settled_at"].timestamp() - int(row["batch_id"].split("-")[0]) / 1000 for row in batches
    )
    settled = sum(row["charges"] for row in batches)
    return {
        "viewers": viewers,
        "seconds": seconds,
        "viewer_seconds": settled,
        "expected": viewers * seconds,
        "lag_p50": statistics.median(lags),
        "lag_p99": lags[min(len(lags) - 1, int(0.99 * len(lags)))],
        "lag_max": lags[-1],
        "baseline_rows_s": baseline,
    }


def _services(tmp: Path) -> tuple[str, str, list]:
    started = []
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url:
        started.append(start_postgres(tmp))
        database_url = started[-1].url
    if not redis_url:
        started.append(start_redis(tmp))
        redis_url = started[-1].url
    return database_url, redis_url, started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[2_000, 10_000])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--consumers", type=int, default=1, help="settlement consumers")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="bench-settle-") as tmp:
        admin_url, redis_url, started = _services(Path(tmp))
        try:
            print(
                "viewers  viewer-s settled  lag p50 / p99 / max (s)  "
                "settled viewer-s/s  baseline rows/s  ratio"
            )
            for viewers in args.viewers:
                with fresh_database(admin_url) as url:
                    r = asyncio.run(run(url, redis_url, viewers, args.seconds, args.consumers))
                rate = r["viewer_seconds"] / r["seconds"]
                print(
                    f"{viewers:>7}  {r['viewer_seconds']:>7}/{r['expected']:<7}  "
                    f"{r['lag_p50']:.2f} / {r['lag_p99']:.2f} / {r['lag_max']:.2f}"
                    f"{'':>12}{rate:>10,.0f}  {r['baseline_rows_s']:>14,.0f}  "
                    f"{rate / r['baseline_rows_s']:.2f}"
                )
        finally:
            for service in started:
                service.stop()


if __name__ == "__main__":
    main()
