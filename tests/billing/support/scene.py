"""A creator's paid live stream with two funded viewers, for settlement and reconcile tests."""

from __future__ import annotations

import asyncpg

from billing.meter import Charge, Meter
from billing.settlement import Settlement
from tests.billing.support import rows

PRICE = 1_000_000
FEE_BPS = 1_000  # 10 %


async def make_scene(db: asyncpg.Pool, redis, redis_prefix: str) -> dict:  # type: ignore
    creator = await rows.user(db, creator=True)
    viewers = [await rows.user(db) for _ in range(2)]
    stream = await rows.live_stream(db, creator, PRICE)
    views = [await rows.view(db, stream, v) for v in viewers]
    meter = Meter(redis, FEE_BPS, redis_prefix)
    for v in viewers:
        assert await meter.credit(str(v), 100 * PRICE, f"seed-{v}")
    return {
        "creator": creator,
        "viewers": viewers,
        "stream": stream,
        "views": views,
        "meter": meter,
    }


def charges(scene: dict, seconds: range) -> list[Charge]:
    return [
        Charge(str(view), str(viewer), str(scene["stream"]), str(scene["creator"]), s, PRICE)
        for s in seconds
        for view, viewer in zip(scene["views"], scene["viewers"], strict=True)
    ]


async def settle_all(settlement: Settlement) -> None:
    await settlement.ensure_group()
    while await settlement.settle_new(block_ms=None):
        pass
