"""The cluster-wide view cap in Redis: atomic, refreshed, and freed with the node holding it."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from signaling.cluster.registry import NodeCard, Registry
from signaling.cluster.view_slots import ClusterViewSlots


async def living(redis: aioredis.Redis, prefix: str, node_id: str, ttl_s: float = 15.0) -> Registry:
    registry = Registry(redis, prefix, node_id)
    await registry.beat(NodeCard(node_id=node_id, internal_url="http://127.0.0.1:1"), ttl_s=ttl_s)
    return registry


async def test_slots_of_a_node_that_left_or_died_are_free_again(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    viewer = uuid.uuid4()
    leaving = await living(redis, redis_prefix, "leaving")
    await living(redis, redis_prefix, "dying", ttl_s=0.3)
    await living(redis, redis_prefix, "staying")
    on_leaving = ClusterViewSlots(redis, redis_prefix, "leaving")
    on_dying = ClusterViewSlots(redis, redis_prefix, "dying")
    on_staying = ClusterViewSlots(redis, redis_prefix, "staying")
    assert await on_leaving.take(viewer, 2) and await on_dying.take(viewer, 2)
    assert await on_staying.take(viewer, 2) is None  # 2 open views, wherever they are
    await leaving.leave()
    assert await on_staying.take(viewer, 2)  # the node that left holds nothing
    assert await on_staying.take(viewer, 2) is None
    await asyncio.sleep(0.4)  # the other stopped beating
    assert await on_staying.take(viewer, 2)
    assert on_staying.held() == 2


async def test_slots_expire_unless_their_node_refreshes_them(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    viewer = uuid.uuid4()
    await living(redis, redis_prefix, "a")
    refreshed = ClusterViewSlots(redis, redis_prefix, "a", ttl_s=0.5)
    forgotten = ClusterViewSlots(redis, redis_prefix, "a", ttl_s=0.5)
    kept = await refreshed.take(viewer, 2)
    lost = await forgotten.take(viewer, 2)
    assert kept and lost
    for _ in range(3):
        await asyncio.sleep(0.3)
        await refreshed.refresh()
    assert await refreshed.take(viewer, 2)  # the unrefreshed slot expired; the refreshed did not
    assert await refreshed.take(viewer, 2) is None
    await refreshed.give_back(viewer, kept)
    assert await forgotten.take(viewer, 2)


async def test_concurrent_takes_never_pass_the_cap(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    viewer = uuid.uuid4()
    await living(redis, redis_prefix, "a")
    await living(redis, redis_prefix, "b")
    nodes = [ClusterViewSlots(redis, redis_prefix, n) for n in ("a", "b")]
    taken = await asyncio.gather(*(nodes[i % 2].take(viewer, 3) for i in range(20)))
    assert sum(1 for slot in taken if slot) == 3
