"""Watch anywhere: two nodes of one cluster, a publisher on one (the origin), viewers on both.

Real aiortc peers on 127.0.0.1; the edge node receives the stream over a relay from the origin
(one per stream per node) and serves its viewers as its own.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from signaling.cluster.registry import NodeCard, Registry
from signaling.config import AppConfig
from signaling.keys import BILLING, LIVE, REGISTRY, RELAYS
from signaling.runtime.node_liveness import card
from signaling.webrtc import relays as relays_module
from signaling.webrtc.relays import RELAY_FAILURES, RELAYS_OPENED
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.cluster import NODE_SECRET, cluster
from tests.signaling.support.sockets import connect, next_of
from tests.signaling.support.webrtc_clients import (
    SDP,
    publisher_offer,
    whep,
    whep_request,
    whip,
)
from tests.support.ports import free_port
from tests.support.rtc_peers import Viewer, viewer_peer

pytestmark = pytest.mark.usefixtures("loopback", "redis")

IDLE_S = 0.5


async def wait_until(predicate: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    for _ in range(int(within / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


def now(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """A state of the node, checked anew on each call (for wait_until)."""

    async def predicate() -> bool:
        return check()

    return predicate


def node_id(node: TestClient) -> uuid.UUID:
    return node.app[LIVE].node_id


def internal_url(node: TestClient) -> str:
    return str(node.make_url("")).rstrip("/")


async def viewer_count(node: TestClient, stream_id: str) -> int:
    return (await (await node.get(f"/api/streams/{stream_id}")).json())["viewer_count"]


async def counted_everywhere(nodes: tuple[TestClient, ...], stream_id: str, count: int) -> bool:
    return all([await viewer_count(node, stream_id) == count for node in nodes])


def logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Log lines so far, whether structlog prints them or hands them to logging."""
    return [*caplog.text.splitlines(), *"".join(capsys.readouterr()).splitlines()]


def in_order(viewer: Viewer) -> bool:
    """The publisher's frame counter, decoded, advances (a few frames may be skipped)."""
    numbers = viewer.numbers[-20:]
    steps = [b - a for a, b in zip(numbers, numbers[1:], strict=False)]
    return len(steps) >= 15 and all(step >= 1 for step in steps) and sum(steps) <= 3 * len(steps)


async def published(a: TestClient) -> tuple[dict, object]:
    stream = await new_stream(a, await new_user(a, creator=True))
    return stream, await whip(a, stream["id"], stream["stream_key"])


async def test_viewers_on_both_nodes_decode_through_one_relay_and_are_counted_cluster_wide(
    app_config: AppConfig,
    db: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    async with cluster(app_config, relay_idle_s=IDLE_S, analytics_interval_s=1.0) as (a, b):
        changes_on_b: list[str] = []  # what the recorder and sockets of b hear
        b.app[LIVE].on_change(lambda what, _stream_id: changes_on_b.append(what))
        stream, broadcast = await published(a)
        stream_id = uuid.UUID(stream["id"])
        origin = await b.app[REGISTRY].origin(stream_id)
        assert origin is not None and origin.node_id == str(node_id(a))
        assert await db.fetchval(
            "SELECT sfu_server_url FROM stream_sessions WHERE stream_id = $1", stream_id
        ) == internal_url(a)
        socket_on_a = await connect(a, stream["id"])

        opened = RELAYS_OPENED._value.get()
        users = [await new_user(b) for _ in range(3)]
        on_b = await asyncio.gather(*(whep(b, stream["id"], headers) for headers in users))
        on_a = [await whep(a, stream["id"], await new_user(a))]
        viewers = [viewer for viewer, _ in on_b + on_a]
        for viewer in viewers:
            await viewer.wait_frames(25)
            assert in_order(viewer), viewer.numbers[-20:]
            assert viewer.garbled == 0

        # One relay on the edge for three concurrent offers; the origin serves it, not a view.
        assert RELAYS_OPENED._value.get() - opened == 1
        assert b.app[RELAYS].count() == 1 and card(b.app).relays == 1
        assert a.app[RELAYS].count() == 0 and a.app[RELAYS].served.count(stream_id) == 1
        assert a.app[LIVE].viewer_count(stream_id) == 1
        assert b.app[LIVE].viewer_count(stream_id) == 3
        assert not b.app[LIVE].is_origin(stream_id)

        await wait_until(lambda: counted_everywhere((a, b), stream["id"], 4))
        while (await next_of(socket_on_a, "viewers"))["count"] != 4:
            pass  # counts announced on the way up, up to every node's viewers
        rows = await db.fetch(
            "SELECT node_id, count(*) AS views FROM stream_viewers WHERE stream_id = $1"
            " AND is_active GROUP BY node_id",
            stream_id,
        )
        assert {row["node_id"]: row["views"] for row in rows} == {node_id(a): 1, node_id(b): 3}
        assert (
            await db.fetchval(
                "SELECT viewer_peak FROM stream_sessions WHERE stream_id = $1", stream_id
            )
            == 4
        )

        async def sampled_cluster_wide() -> bool:  # by the origin's analytics sampler
            return bool(
                await db.fetchval(
                    "SELECT count(*) FROM stream_analytics WHERE stream_id = $1"
                    " AND viewer_count = 4",
                    stream_id,
                )
            )

        await wait_until(sampled_cluster_wide, within=3.0)
        metrics = {node: await (await node.get("/metrics")).text() for node in (a, b)}
        assert "vilokanam_relays 1.0" in metrics[b] and "vilokanam_relays 0.0" in metrics[a]
        assert "vilokanam_live_streams 1.0" in metrics[a]
        assert "vilokanam_live_streams 0.0" in metrics[b]

        assert (await b.delete(on_b[0][1])).status == 200  # one edge viewer leaves
        await wait_until(lambda: counted_everywhere((a, b), stream["id"], 3))
        assert b.app[RELAYS].count() == 1  # the others still watch through it

        assert (await a.delete(broadcast.location)).status == 200  # type: ignore[attr-defined]
        for viewer, _ in on_b[1:]:
            await asyncio.wait_for(viewer.ended.wait(), 10)
        ended = [line for line in logged(caplog, capsys) if "webrtc_view_ended" in line]
        assert sum("origin_ended" in line for line in ended) == 2  # b's two remaining viewers
        await wait_until(now(lambda: b.app[RELAYS].count() == 0))
        assert not b.app[LIVE].is_live(stream_id) and card(b.app).relays == 0
        await wait_until(lambda: counted_everywhere((a, b), stream["id"], 0))
        assert not await db.fetchval(
            "SELECT count(*) FROM stream_viewers WHERE stream_id = $1 AND is_active", stream_id
        )
        assert await a.app[REGISTRY].viewers(stream_id) == {}
        assert await a.app[REGISTRY].origin(stream_id) is None
        # The stream's states and its recording are the origin's only.
        assert "viewers" in changes_on_b
        assert "live" not in changes_on_b and "ended" not in changes_on_b
        sessions = await db.fetch(
            "SELECT node_id FROM stream_sessions WHERE stream_id = $1", stream_id
        )
        assert [row["node_id"] for row in sessions] == [node_id(a)]
        for viewer in viewers:
            await viewer.close()
        await broadcast.pc.close()  # type: ignore[attr-defined]


async def test_the_relay_closes_after_the_idle_time_once_the_edge_has_no_viewer(
    app_config: AppConfig,
) -> None:
    async with cluster(app_config, relay_idle_s=IDLE_S) as (a, b):
        stream, broadcast = await published(a)
        stream_id = uuid.UUID(stream["id"])
        viewer, location = await whep(b, stream["id"], await new_user(b))
        await viewer.wait_frames(10)
        assert (await b.delete(location)).status == 200
        await asyncio.sleep(IDLE_S / 2)
        assert b.app[RELAYS].count() == 1  # a viewer coming back soon finds it open
        await wait_until(now(lambda: b.app[RELAYS].count() == 0), within=IDLE_S * 4)
        # The origin's relay subscriber is gone too; the stream is still live there.
        await wait_until(now(lambda: a.app[RELAYS].served.count(stream_id) == 0))
        assert a.app[LIVE].is_live(stream_id) and not b.app[LIVE].is_live(stream_id)

        again, _ = await whep(b, stream["id"], await new_user(b))  # a new relay
        await again.wait_frames(20)
        assert in_order(again) and b.app[RELAYS].count() == 1
        for peer in (viewer, again):
            await peer.close()
        await broadcast.pc.close()  # type: ignore[attr-defined]


async def test_a_late_viewer_on_the_edge_decodes_within_two_seconds(
    app_config: AppConfig,
) -> None:
    """Its keyframe request travels up the relay to the publisher."""
    async with cluster(app_config, relay_idle_s=IDLE_S) as (a, b):
        stream, broadcast = await published(a)
        first, _ = await whep(b, stream["id"], await new_user(b))
        await first.wait_frames(10)
        await asyncio.sleep(1.0)  # well past the first keyframe
        late, _ = await whep(b, stream["id"], await new_user(b))
        await late.wait_frames(1, within=5)
        assert late.first_frame_after is not None and late.first_frame_after < 2.0
        for peer in (first, late):
            await peer.close()
        await broadcast.pc.close()  # type: ignore[attr-defined]


async def test_an_edge_ends_its_relay_once_the_origins_heartbeat_lapses(
    app_config: AppConfig,
    redis: aioredis.Redis,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dead origin is seen in the registry within seconds; its relay's ICE consent alone
    would keep the edge's viewers staring at a frozen picture for ~30 s."""
    monkeypatch.setattr(relays_module, "ORIGIN_CHECK_S", 0.1)
    async with cluster(app_config, relay_idle_s=60.0) as (a, b):
        stream, broadcast = await published(a)
        viewer, _ = await whep(b, stream["id"], await new_user(b))
        await viewer.wait_frames(5)
        assert b.app[RELAYS].count() == 1
        await redis.zadd(f"{redis_prefix}nodes", {str(node_id(a)): 0})  # A's heartbeat lapsed
        await asyncio.wait_for(viewer.ended.wait(), 3)
        assert b.app[RELAYS].count() == 0 and not b.app[LIVE].is_live(uuid.UUID(stream["id"]))
        await viewer.close()
        await broadcast.pc.close()  # type: ignore[attr-defined]


async def test_an_edge_answers_not_live_when_no_node_publishes_the_stream(
    app_config: AppConfig,
) -> None:
    async with cluster(app_config, relay_idle_s=IDLE_S) as (a, b):
        stream = await new_stream(a, await new_user(a, creator=True))
        refused = await whep_request(b, stream["id"], await new_user(b), await viewer_peer())
        assert refused.status == 409 and refused.headers["Retry-After"]
        assert (await refused.json())["error"]["code"] == "not_live"
        assert b.app[RELAYS].count() == 0


async def test_the_internal_relay_endpoint_wants_the_node_credential_and_never_logs_it(
    app_config: AppConfig, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    async with cluster(app_config, relay_idle_s=IDLE_S) as (a, b):
        stream, broadcast = await published(a)
        url = f"/internal/relays/{stream['id']}"
        offer = (await viewer_peer()).pc.localDescription.sdp
        for headers in ({}, {"Authorization": "Bearer not-the-credential"}):
            refused = await a.post(url, data=offer, headers={**SDP, **headers})
            assert refused.status == 401
            assert (await refused.json())["error"]["code"] == "unauthorized"
        assert a.app[RELAYS].served.count(uuid.UUID(stream["id"])) == 0
        node = {**SDP, "Authorization": f"Bearer {NODE_SECRET}"}
        elsewhere = await b.post(url, data=offer, headers=node)  # not published on b
        assert elsewhere.status == 409
        gone = await a.delete(f"{url}/no-such-relay", headers=node)
        assert gone.status == 404

        viewer, location = await whep(b, stream["id"], await new_user(b))  # a real relay
        await viewer.wait_frames(5)
        assert (await b.delete(location)).status == 200
        await wait_until(now(lambda: b.app[RELAYS].count() == 0))
        await viewer.close()
        await broadcast.pc.close()  # type: ignore[attr-defined]
    lines = "\n".join(logged(caplog, capsys))
    assert "cluster_relay_opened" in lines and "cluster_relay_closed" in lines
    assert NODE_SECRET not in lines


async def test_a_node_without_a_credential_serves_no_internal_endpoint(
    client: TestClient, stream: dict, redis: aioredis.Redis
) -> None:
    response = await client.post(
        f"/internal/relays/{stream['id']}",
        data="v=0\r\n",
        headers={**SDP, "Authorization": "Bearer anything"},
    )
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_a_second_publisher_on_another_node_is_refused_while_the_origin_lives(
    app_config: AppConfig,
) -> None:
    async with cluster(app_config, relay_idle_s=IDLE_S) as (a, b):
        stream, broadcast = await published(a)
        pc, _track, offer = await publisher_offer()
        key = {"Authorization": f"Bearer {stream['stream_key']}"}
        refused = await b.post(f"/whip/{stream['id']}", data=offer, headers={**SDP, **key})
        assert refused.status == 409
        assert "already has a publisher" in (await refused.json())["error"]["message"]
        origin = await b.app[REGISTRY].origin(uuid.UUID(stream["id"]))
        assert origin is not None and origin.node_id == str(node_id(a))
        await pc.close()
        await broadcast.pc.close()  # type: ignore[attr-defined]


async def test_a_publisher_back_on_an_edge_after_its_origin_is_gone_is_live_there(
    app_config: AppConfig, redis: aioredis.Redis, redis_prefix: str, db: asyncpg.Pool
) -> None:
    async with cluster(app_config, relay_idle_s=IDLE_S) as (a, b):
        stream, old = await published(a)
        stream_id = uuid.UUID(stream["id"])
        relayed, _ = await whep(b, stream["id"], await new_user(b))
        await relayed.wait_frames(5)
        await redis.delete(f"{redis_prefix}origin:{stream_id}")  # as when node a died

        back = await whip(b, stream["id"], stream["stream_key"])
        await asyncio.wait_for(relayed.ended.wait(), 10)  # its relay from a ended
        assert b.app[LIVE].is_origin(stream_id) and b.app[RELAYS].count() == 0
        origin = await a.app[REGISTRY].origin(stream_id)
        assert origin is not None and origin.node_id == str(node_id(b))
        assert await db.fetchval(
            "SELECT sfu_server_url FROM stream_sessions WHERE stream_id = $1"
            " ORDER BY start_time DESC LIMIT 1",
            stream_id,
        ) == internal_url(b)
        watcher, _ = await whep(b, stream["id"], await new_user(b))
        await watcher.wait_frames(20)
        assert in_order(watcher) and max(watcher.numbers) <= back.track.sent
        for peer in (relayed, watcher):
            await peer.close()
        for broadcast in (old, back):
            await broadcast.pc.close()  # type: ignore[attr-defined]


async def test_an_unreachable_origin_is_a_503_to_retry_and_leaves_no_relay(
    app_config: AppConfig, redis: aioredis.Redis, redis_prefix: str
) -> None:
    async with cluster(app_config, relay_idle_s=IDLE_S) as (a, b):
        stream = await new_stream(a, await new_user(a, creator=True))
        ghost = Registry(redis, redis_prefix, "ghost")  # a living node nobody listens for
        await ghost.beat(NodeCard("ghost", f"http://127.0.0.1:{free_port()}"))
        await ghost.claim_origin(stream["id"])
        failures = RELAY_FAILURES.labels("unreachable")._value.get()
        refused = await whep_request(b, stream["id"], await new_user(b), await viewer_peer())
        assert refused.status == 503 and refused.headers["Retry-After"]
        assert (await refused.json())["error"]["code"] == "origin_unavailable"
        assert RELAY_FAILURES.labels("unreachable")._value.get() - failures == 1
        assert b.app[RELAYS].count() == 0 and not b.app[LIVE].is_live(uuid.UUID(stream["id"]))


async def test_a_paid_viewer_on_the_edge_is_metered_there_and_cut_at_zero(
    app_config: AppConfig, db: asyncpg.Pool
) -> None:
    price = 1000
    async with cluster(app_config, relay_idle_s=IDLE_S) as (a, b):
        stream = await new_stream(a, await new_user(a, creator=True), price=str(price))
        broadcast = await whip(a, stream["id"], stream["stream_key"])
        headers = await new_user(b)
        viewer_id = (await (await b.get("/api/me", headers=headers)).json())["id"]
        await b.app[BILLING].meter.credit(viewer_id, 6 * price, "six seconds")
        viewer, _ = await whep(b, stream["id"], headers)
        await asyncio.wait_for(viewer.ended.wait(), 15)  # cut by b's tick at zero
        view = await db.fetchrow(
            "SELECT id, node_id FROM stream_viewers WHERE viewer_id = $1::uuid", viewer_id
        )
        assert view["node_id"] == node_id(b)

        async def spent() -> bool:  # the last seconds may be charged after the cut
            return await b.app[BILLING].meter.balance(viewer_id) == 0

        await wait_until(spent, within=5.0)
        assert await b.app[BILLING].meter.view_ticks(str(view["id"])) == 6
        await viewer.close()
        await broadcast.pc.close()  # type: ignore[attr-defined]
