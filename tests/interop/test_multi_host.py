"""Issue 12: one cluster over three hosts, each a network namespace with its own address.

`vilokanam node` runs on hosts A, B and C, all sharing the test's PostgreSQL and Redis (reached
through the root namespace, tests/interop/support/forward.py). A publisher on host A publishes
to A's node; viewers on B and C watch through B's and C's nodes, which relay the stream from A.
Then A's node is killed -9: the edges' viewers end, the stream is not live; the publisher
reconnects to B, which becomes the origin, and a new viewer on C watches through a relay from B.
Or C's node (an edge) is killed -9, and the viewer on B watches on undisturbed.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.interop.support.forward import forwarding
from tests.interop.support.host_processes import (
    HostNode,
    Peer,
    Peers,
    cluster,
    healthy,
    node_env,
    start_node,
    vilokanam,
)
from tests.interop.support.hosts import Host, Topology, hosts
from tests.interop.support.netns import NamespaceUnavailable, unavailable_reason
from tests.signaling.support.accounts import new_stream, new_user

pytestmark = pytest.mark.timeout(300)

NAMES = ("a", "b", "c")
T = TypeVar("T")


@pytest.fixture
def topology() -> Iterator[Topology]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    try:
        with hosts(*NAMES) as made:
            yield made
    except NamespaceUnavailable as exc:
        pytest.skip(f"cannot create network namespaces here: {exc}")


@pytest.fixture
def envs(
    topology: Topology, database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Iterator[dict[str, dict[str, str]]]:
    """Each host's node environment: the services as that host reaches them, one prefix."""
    with forwarding(topology.root_address) as forwarder:
        database, redis = forwarder.reachable(database_url), forwarder.reachable(redis_url)
        yield {
            host.name: node_env(database, redis, redis_prefix, host, tmp_path)
            for host in topology.hosts
        }


@pytest.fixture
async def nodes(
    topology: Topology,
    envs: dict[str, dict[str, str]],
    redis: aioredis.Redis,
    tmp_path: Path,
) -> AsyncIterator[dict[str, HostNode]]:
    """A migrated database (as an operator would, from host A), then a node on every host."""
    migrated = vilokanam(topology.host("a"), envs["a"], "migrate")
    assert migrated.returncode == 0, migrated.stderr
    started = {host.name: start_node(host, envs[host.name], tmp_path) for host in topology.hosts}
    try:
        yield started
    finally:
        for node in started.values():
            if node.process.poll() is None:
                node.kill()
            print(node.log_tail())  # shown when the test failed


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[Peers]:
    started = Peers(tmp_path / "peers.log")
    yield started
    await started.stop()
    if started.log.exists():
        print(started.log.read_text(errors="replace")[-3000:])  # shown when the test failed


async def until(read: Callable[[], Awaitable[T]], holds: Callable[[T], bool], within: float) -> T:
    """``read()`` again until ``holds`` of it."""
    deadline = time.monotonic() + within
    while not holds(seen := await read()):
        assert time.monotonic() < deadline, f"still {seen}"
        await asyncio.sleep(0.5)
    return seen


def stream_entry(overview: dict[str, Any], stream_id: str) -> dict[str, Any] | None:
    return next((s for s in overview["streams"] if s["stream_id"] == stream_id), None)


class Scene:
    """The cluster, the stream and its people, and what the test starts on the hosts."""

    def __init__(
        self, nodes: dict[str, HostNode], envs: dict[str, dict[str, str]], peers: Peers
    ) -> None:
        self.nodes, self.envs, self.peers = nodes, envs, peers
        self.stream: dict[str, Any] = {}
        self.viewer_token = ""

    def cluster(self, on: str) -> Callable[[], Awaitable[dict[str, Any]]]:
        """`vilokanam cluster` as an operator on host ``on`` reads it."""
        return lambda: asyncio.to_thread(cluster, self.nodes[on].host, self.envs[on])

    async def accounts(self) -> None:
        async with aiohttp.ClientSession(base_url=self.nodes["a"].url) as http:
            creator = await new_user(http, creator=True)  # type: ignore[arg-type]
            self.stream = await new_stream(http, creator)  # type: ignore[arg-type]
            viewer = await new_user(http)  # type: ignore[arg-type]
        self.viewer_token = viewer["Authorization"].removeprefix("Bearer ")

    async def publisher(self, on: Host) -> Peer:
        """A publisher on host ``on``, told where to publish by ``send(base URL)``."""
        return await self.peers.start(
            on,
            f"publisher on {on.name}",
            "interop.support.publisher_process",
            on.address,
            self.stream["id"],
            self.stream["stream_key"],
        )

    async def viewer(self, on: str) -> Peer:
        """A viewer on host ``on`` watching through that host's node."""
        node = self.nodes[on]
        return await self.peers.start(
            node.host,
            f"viewer on {on}",
            "signaling.support.viewer_process",
            node.url,
            self.stream["id"],
            self.viewer_token,
            self.stream["price_per_second"],
            node.host.address,
        )

    async def stream_status(self, on: str) -> str:
        async with aiohttp.ClientSession() as http:
            response = await http.get(f"{self.nodes[on].url}/api/streams/{self.stream['id']}")
            assert response.status == 200, await response.text()
            return str((await response.json())["status"])


async def watches_in_order(viewer: Peer, frames: int = 30) -> None:
    """``frames`` more frames decoded, each one's number counting up from the one before (a
    frame lost or out of order anywhere since the viewer started fails it)."""
    if "connected" not in viewer.lines:
        await viewer.wait_for("connected", 20)
    counts = [int(line.split()[1]) for line in viewer.lines if line.startswith("frames ")]
    target = max(counts, default=0) + frames
    line = await viewer.wait_for("frames ", 30, lambda line: int(line.split()[1]) >= target)
    assert line.endswith(" disorder 0"), viewer.lines


def relayed(overview: dict[str, Any], stream_id: str, origin: str, edges: list[str]) -> bool:
    """The cluster shows the stream coming from ``origin``, one viewer on each of ``edges``,
    each through the one relay it holds (heartbeats may lag: poll until it holds)."""
    entry = stream_entry(overview, stream_id)
    cards = {card["node_id"]: card for card in overview["nodes"]}
    return (
        entry is not None
        and entry["origin"] == origin
        and entry["relays"] == sorted(edges)
        and entry["viewers"] == dict.fromkeys(edges, 1)
        and cards[origin]["streams"] == 1
        and all(cards[edge]["relays"] == 1 for edge in edges)
    )


@dataclass
class Show:
    """The stream published on A, watched on B and C through relays."""

    scene: Scene
    ids: dict[str, str]  # host name → id of the node on it
    publisher: Peer
    edge_viewers: list[Peer]

    @property
    def stream_id(self) -> str:
        return str(self.scene.stream["id"])


@pytest.fixture
async def show(
    topology: Topology,
    nodes: dict[str, HostNode],
    envs: dict[str, dict[str, str]],
    peers: Peers,
) -> Show:
    ids = {name: await healthy(node) for name, node in nodes.items()}
    scene = Scene(nodes, envs, peers)
    # The operator's view, from host C: three nodes, each announcing its own host's addresses.
    overview = await until(scene.cluster("c"), lambda o: len(o["nodes"]) == 3, 30)
    announced = {card["node_id"]: card for card in overview["nodes"]}
    for host in topology.hosts:
        card = announced[ids[host.name]]
        assert card["internal_url"] == f"http://{host.address}:7890"
        assert card["media_addresses"] == [host.address]

    await scene.accounts()
    publisher = await scene.publisher(topology.host("a"))
    await publisher.send(nodes["a"].url)
    await publisher.wait_for("published", 20)
    edge_viewers = [await scene.viewer("b"), await scene.viewer("c")]
    for viewer in edge_viewers:
        await watches_in_order(viewer)
    stream_id, edges = scene.stream["id"], [ids["b"], ids["c"]]
    await until(scene.cluster("c"), lambda o: relayed(o, stream_id, ids["a"], edges), 20)
    return Show(scene, ids, publisher, edge_viewers)


async def test_publisher_on_a_viewers_on_b_and_c_through_relays_then_origin_fails_over_to_b(
    show: Show, nodes: dict[str, HostNode]
) -> None:
    scene, ids, stream_id = show.scene, show.ids, show.stream_id
    nodes["a"].kill()
    killed_at = time.monotonic()
    for viewer in show.edge_viewers:
        await viewer.wait_for("ended", 45)
    ended_after = time.monotonic() - killed_at
    for name in ("b", "c"):  # what the stream's page says, on whichever node serves it
        status = functools.partial(scene.stream_status, name)
        await until(status, lambda seen: seen != "live", 40)
    overview = await until(scene.cluster("c"), lambda o: len(o["nodes"]) == 2, 30)
    entry = stream_entry(overview, stream_id)
    assert entry is None or entry["origin"] is None

    await show.publisher.send(nodes["b"].url)  # OBS's reconnect: a new WHIP, to another node
    await show.publisher.wait_for("published", 20)
    assert await scene.stream_status("c") == "live"
    late_viewer = await scene.viewer("c")
    await watches_in_order(late_viewer)
    await until(scene.cluster("b"), lambda o: relayed(o, stream_id, ids["b"], [ids["c"]]), 20)
    print(f"edge viewers ended {ended_after:.1f} s after their origin was killed")


async def test_edge_on_c_killed_the_viewer_on_b_watches_on(
    show: Show, nodes: dict[str, HostNode]
) -> None:
    scene, ids = show.scene, show.ids
    nodes["c"].kill()
    await until(
        scene.cluster("b"),
        lambda o: len(o["nodes"]) == 2 and relayed(o, show.stream_id, ids["a"], [ids["b"]]),
        30,
    )
    await watches_in_order(show.edge_viewers[0], frames=60)  # never noticed
    assert await scene.stream_status("b") == "live"
