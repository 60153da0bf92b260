"""Cut-offs announced across nodes (signaling/runtime/cutoffs.py), on real Redis: which views a
node cuts when it hears that a viewer ran out of balance, and how soon."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import redis.asyncio as aioredis

from billing.meter import Meter
from signaling.runtime.cutoffs import Cutoffs
from signaling.runtime.metering import MeteredViewing
from signaling.runtime.viewing import View

PRICE = 1_000


class Node:
    """One node's metered views and the cuts its Cutoffs asked for (with when)."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.meter = Meter(redis, 1_000, prefix)
        self.viewing = MeteredViewing(self.meter, 1)
        self.cuts: dict[str, tuple[str, float]] = {}
        self.cutoffs = Cutoffs(redis, prefix, self.viewing, self.cut)

    async def cut(self, subscriber_id: str, reason: str) -> None:
        self.cuts[subscriber_id] = (reason, time.monotonic())

    async def watch(self, viewer: uuid.UUID, price: int) -> str:
        sub = f"sub_{uuid.uuid4().hex}"
        view = View(uuid.uuid4(), sub, viewer, uuid.uuid4(), uuid.uuid4(), Decimal(price))
        await self.viewing.started(view)
        return sub


async def test_a_viewer_out_of_balance_is_cut_on_every_node_at_once_and_only_there(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    a, b = Node(redis, redis_prefix), Node(redis, redis_prefix)
    for node in (a, b):
        await node.cutoffs.start()
    try:
        poor, other = uuid.uuid4(), uuid.uuid4()
        assert await a.meter.credit(str(poor), PRICE + 500, "poor")  # one view's next second
        assert await a.meter.credit(str(other), 10 * PRICE, "other")
        on_a = await a.watch(poor, PRICE)
        paid = [await b.watch(poor, PRICE), await b.watch(poor, PRICE)]
        free = await b.watch(poor, 0)  # nothing to pay: it goes on
        ended = await b.watch(poor, PRICE)
        await b.viewing.ended(_view(b, ended))  # left already: not cut again
        bystander = await b.watch(other, PRICE)

        announced = time.monotonic()
        await a.cutoffs.announce(str(poor))
        for _ in range(100):
            if len(b.cuts) >= 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # time for a wrong cut to show up
        # b holds two paid views the balance cannot both pay for: both go, within 0.5 s.
        assert set(b.cuts) == set(paid), b.cuts
        assert all(reason == "balance_exhausted" for reason, _ in b.cuts.values())
        assert max(at for _, at in b.cuts.values()) - announced < 0.5
        # a's one view can still pay its next second: it stays (its own tick decides).
        assert a.cuts == {}
        assert free not in b.cuts and ended not in b.cuts and bystander not in b.cuts
        assert on_a in a.viewing.views
    finally:
        for node in (a, b):
            await node.cutoffs.close()


def _view(node: Node, sub: str) -> View:
    info = node.viewing.views[sub]
    return View(
        uuid.UUID(info.view_id),
        sub,
        uuid.UUID(info.viewer_id),
        uuid.UUID(info.stream_id),
        uuid.UUID(info.creator_id),
        Decimal(info.price),
    )
