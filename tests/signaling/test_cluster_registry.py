"""The cluster registry on a real Redis: who lives, who has room, where streams and sessions are."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import redis.asyncio as aioredis

from signaling.cluster.overview import overview
from signaling.cluster.registry import NodeCard, Registry
from signaling.config import AppConfig
from signaling.keys import LIVE
from signaling.runtime.node_liveness import card as node_card
from tests.signaling.support.cluster import cluster


def card(node_id: str, viewers: int = 0, max_viewers: int = 10, draining: bool = False) -> NodeCard:
    return NodeCard(
        node_id=node_id,
        internal_url=f"http://127.0.0.1/{node_id}",
        viewers=viewers,
        max_viewers=max_viewers,
        draining=draining,
    )


async def test_nodes_live_while_they_beat_and_drop_out_when_they_stop(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    a, b = Registry(redis, redis_prefix, "a"), Registry(redis, redis_prefix, "b")
    await a.beat(card("a"))
    await b.beat(card("b"), ttl_s=0.3)
    assert {n.node_id for n in await a.nodes()} == {"a", "b"}
    assert (await a.node("b")) == card("b")
    await asyncio.sleep(0.4)  # b stopped beating
    assert [n.node_id for n in await a.nodes()] == ["a"]
    assert await a.node("b") is None
    await a.leave()
    assert await b.nodes() == [] and await b.node("a") is None


async def test_room_is_on_the_least_loaded_other_node_that_is_not_full_or_draining(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    me = Registry(redis, redis_prefix, "me")
    await me.beat(card("me", viewers=0))
    assert await me.with_room() is None  # only itself
    for node_id, viewers, draining in (("full", 10, False), ("busy", 7, False), ("quiet", 2, True)):
        await Registry(redis, redis_prefix, node_id).beat(card(node_id, viewers, 10, draining))
    room = await me.with_room()
    assert room is not None and room.node_id == "busy"


async def test_an_origin_is_cleared_only_by_its_own_node_and_only_while_it_lives(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    stream = uuid.uuid4()
    old, new = Registry(redis, redis_prefix, "old"), Registry(redis, redis_prefix, "new")
    await old.beat(card("old"), ttl_s=0.3)
    await new.beat(card("new"))
    await old.claim_origin(stream)
    assert (await new.origin(stream)).node_id == "old"  # type: ignore[union-attr]
    await asyncio.sleep(0.4)
    assert await new.origin(stream) is None  # its origin died
    await new.claim_origin(stream)  # the publisher came back on another node
    await old.clear_origin(stream)  # the dead node's late clean-up
    assert (await new.origin(stream)).node_id == "new"  # type: ignore[union-attr]
    await new.clear_origin(stream)
    assert await new.origin(stream) is None


async def test_sessions_are_found_by_token_and_stored_only_as_a_digest(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    holder, other = Registry(redis, redis_prefix, "holder"), Registry(redis, redis_prefix, "other")
    await holder.beat(card("holder"))
    token = "a-capability-" + uuid.uuid4().hex
    await holder.hold_session(token)
    assert (await other.session_node(token)).node_id == "holder"  # type: ignore[union-attr]
    assert await holder.session_node(token) is None  # its own: nothing to forward
    keys = [key async for key in redis.scan_iter(f"{redis_prefix}session:*")]
    assert keys and all(token.encode() not in key for key in keys)
    assert all(token.encode() not in value for value in await redis.mget(keys))
    await other.drop_session(token)  # not the holder's: no effect
    assert await other.session_node(token) is not None
    await holder.drop_session(token)
    assert await other.session_node(token) is None


async def test_a_ticket_stands_for_its_viewer_once(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    registry = Registry(redis, redis_prefix, "n")
    viewer = uuid.uuid4()
    ticket = await registry.issue_ticket(viewer)
    assert await registry.take_ticket("forged") is None
    assert await registry.take_ticket(ticket) == viewer
    assert await registry.take_ticket(ticket) is None


async def test_running_nodes_announce_where_they_are_reached_and_leave_on_a_clean_stop(
    app_config: AppConfig, redis: aioredis.Redis, redis_prefix: str
) -> None:
    observer = Registry(redis, redis_prefix, "observer")
    async with cluster(app_config) as (a, b):
        cards = {card.node_id: card for card in await observer.nodes()}
        assert {str(c.app[LIVE].node_id) for c in (a, b)} == set(cards)
        for node in (a, b):
            announced = cards[str(node.app[LIVE].node_id)]
            assert announced.internal_url == str(node.make_url("")).rstrip("/")
            assert announced.media_addresses == ["127.0.0.1"] and announced.viewers == 0
    assert await observer.nodes() == []


async def test_viewers_of_a_stream_add_up_over_living_nodes_only(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    stream = uuid.uuid4()
    a, b = Registry(redis, redis_prefix, "a"), Registry(redis, redis_prefix, "b")
    await a.beat(card("a"))
    await b.beat(card("b"), ttl_s=0.3)
    await a.set_viewers(stream, 3)
    await b.set_viewers(stream, 4)
    assert await a.viewers(stream) == {"a": 3, "b": 4}
    await asyncio.sleep(0.4)  # b died with its viewers
    assert await a.viewers(stream) == {"a": 3}
    await a.set_viewers(stream, 0)
    assert await a.viewers(stream) == {}


async def test_origins_are_listed_under_this_prefix_only_even_one_with_glob_characters(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    # Unescaped, the pattern "{p}a*:origin:*" would also match the other cluster's keys.
    ours, theirs = (
        Registry(redis, f"{redis_prefix}a*:", "n1"),
        Registry(redis, f"{redis_prefix}ab:", "n2"),
    )
    s1, s2 = uuid.uuid4(), uuid.uuid4()
    await ours.claim_origin(s1)
    await theirs.claim_origin(s2)
    assert await ours.origins() == {str(s1): "n1"}
    assert await theirs.origins() == {str(s2): "n2"}


async def test_the_overview_shows_living_nodes_and_each_streams_origin_viewers_and_relays(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    origin, edge, dead = (Registry(redis, redis_prefix, n) for n in ("origin", "edge", "dead"))
    await origin.beat(card("origin"))
    await edge.beat(card("edge", viewers=5))
    await dead.beat(card("dead"), ttl_s=0.3)
    watched, abandoned = uuid.uuid4(), uuid.uuid4()
    await origin.claim_origin(watched)
    await origin.set_viewers(watched, 2)
    await edge.set_viewers(watched, 5)
    await dead.claim_origin(abandoned)
    await dead.set_viewers(watched, 9)
    await asyncio.sleep(0.4)  # `dead` stopped beating
    seen = await overview(Registry(redis, redis_prefix, "observer"))
    assert sorted(node["node_id"] for node in seen["nodes"]) == ["edge", "origin"]
    assert next(n for n in seen["nodes"] if n["node_id"] == "edge")["viewers"] == 5
    assert seen["streams"] == [
        {
            "stream_id": str(watched),
            "origin": "origin",
            "viewers": {"origin": 2, "edge": 5},
            "relays": ["edge"],
        }
    ]


async def test_a_running_node_announces_its_limit_media_port_and_a_cpu_share(
    app_config: AppConfig, redis: aioredis.Redis, redis_prefix: str
) -> None:
    async with cluster(app_config, nodes=1, node_max_viewers=7) as (node,):
        announced = await Registry(redis, redis_prefix, "observer").node(
            str(node.app[LIVE].node_id)
        )
        assert announced is not None and announced.max_viewers == 7
        assert announced.media_port == node.app[LIVE].sfu.udp_port and announced.media_port > 0
        assert announced.pid == os.getpid()
        # The share is this process's CPU time over the wall time between two beats: the test
        # brackets them with its own readings (a loaded machine lowers both alike).
        wall, used = time.monotonic(), time.process_time()
        node_card(node.app)  # a beat; the next one reports the CPU used since
        sum(i * i for i in range(2_000_000))  # busy in this process between the two beats
        share = node_card(node.app).cpu
        expected = (time.process_time() - used) / (time.monotonic() - wall)
        assert share > 0 and abs(share - expected) < 0.1, (share, expected)


async def test_of_two_nodes_claiming_a_stream_at_once_one_becomes_its_origin(
    redis: aioredis.Redis, redis_prefix: str
) -> None:
    stream = uuid.uuid4()
    nodes = [Registry(redis, redis_prefix, f"n{i}") for i in range(8)]
    for node in nodes:
        await node.beat(card(node.node_id), ttl_s=0.5)
    won = await asyncio.gather(*(node.claim_origin(stream) for node in nodes))
    assert sum(won) == 1
    winner = nodes[won.index(True)]
    assert await winner.claim_origin(stream)  # its own claim again (a publisher back in time)
    others = [node for node in nodes if node is not winner]
    assert not await others[0].claim_origin(stream)
    await asyncio.sleep(0.6)  # the origin died (every node stopped beating; one beats again)
    await others[0].beat(card(others[0].node_id))
    assert await others[0].claim_origin(stream)
    assert (await winner.origin(stream)).node_id == others[0].node_id  # type: ignore[union-attr]
