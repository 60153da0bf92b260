"""Relays between nodes: two real Sfu instances in one process, an origin and an edge.

A publisher (aiortc, numbered frames) publishes to the origin; the edge relays the stream
(``edge.relay``, its offer answered by ``origin.subscribe(..., relay=True)``) and its own viewers
subscribe on the edge.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aioice.ice
import pytest

from sfu import AlreadyPublishing, IceSettings, NotLive, RelayFailed, Sfu, SfuEvent
from sfu.fanout import NATIVE_AVAILABLE
from tests.sfu.support.peers import (
    FANOUTS,
    Publisher,
    assert_live_pattern,
    start_publisher,
    start_viewer,
)
from tests.support.rtc_peers import Viewer

ROOT = Path(__file__).resolve().parents[2]


async def wait_for(predicate: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


def new_sfu(fanout: str | None) -> Sfu:
    return Sfu(
        IceSettings(("127.0.0.1",), None, (), udp_port=0), keyframe_interval=0.3, fanout=fanout
    )


@dataclass
class Nodes:
    origin: Sfu
    edge: Sfu
    relays: list[str] = field(default_factory=list)  # relay subscriber ids on the origin
    origin_events: list[SfuEvent] = field(default_factory=list)
    edge_events: list[SfuEvent] = field(default_factory=list)

    def exchange(self, stream_id: str) -> Callable[[str], Awaitable[str]]:
        """What signaling does over HTTP: the edge's offer to the origin, its answer back."""

        async def exchange(offer: str) -> str:
            relay_id, answer = await self.origin.subscribe(stream_id, offer, relay=True)
            self.relays.append(relay_id)
            return answer

        return exchange


@pytest.fixture
async def nodes(request: pytest.FixtureRequest, loopback: None) -> AsyncIterator[Nodes]:
    fanout: str | None = getattr(request, "param", None)
    if fanout == "native" and not NATIVE_AVAILABLE:
        pytest.skip("sfu._fanout is not built")
    pair = Nodes(new_sfu(fanout), new_sfu(fanout))
    pair.origin.on_event(pair.origin_events.append)
    pair.edge.on_event(pair.edge_events.append)
    yield pair
    await pair.edge.close()
    await pair.origin.close()


def count_publisher_plis(publisher: Publisher) -> list[int]:
    """Count the PLIs the publishing client receives (aiortc's sender forces a keyframe)."""
    sender = next(t.sender for t in publisher.pc.getTransceivers() if t.kind == "video")
    received: list[int] = []
    original = sender._send_keyframe

    def send_keyframe() -> None:
        received.append(1)
        original()

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]
    return received


async def close_all(viewers: list[Viewer], publisher: Publisher) -> None:
    for viewer in viewers:
        await viewer.close()
    await publisher.pc.close()


@pytest.mark.parametrize("nodes", FANOUTS, indirect=True)
async def test_edge_viewers_decode_the_origins_stream_through_one_relay(nodes: Nodes) -> None:
    origin, edge = nodes.origin, nodes.edge
    publisher = await start_publisher(origin, "s")
    relay_id = await edge.relay("s", nodes.exchange("s"))
    assert edge.is_live("s")
    viewers = [await start_viewer(edge, "s") for _ in range(3)]
    try:
        for viewer in viewers:
            await viewer.wait_frames(30)
        for viewer in viewers:
            assert viewer.garbled <= 2
            assert_live_pattern(viewer.numbers, publisher.track.sent)
        # The origin serves one relay and no viewer; the edge three viewers.
        assert origin.subscribers("s", connected_only=True) == []
        assert origin.subscribers("s", connected_only=True, relays=True) == nodes.relays
        assert len(nodes.relays) == 1
        assert len(edge.subscribers("s", connected_only=True)) == 3
        assert edge.subscribers("s", relays=True) == []
        assert relay_id.startswith("relay_")
        # Nothing is billed for the relay on the origin, everything for the edge's viewers.
        origin.take_delivery()
        await asyncio.sleep(1.5)
        assert origin.take_delivery() == {}
        delivered = edge.take_delivery()
        assert set(delivered) == {v.subscriber_id for v in viewers}
        assert all(d.packets > 0 for d in delivered.values())
    finally:
        await close_all(viewers, publisher)


async def test_a_new_edge_viewer_asks_the_publisher_for_a_keyframe(nodes: Nodes) -> None:
    origin, edge = nodes.origin, nodes.edge
    publisher = await start_publisher(origin, "s")
    await edge.relay("s", nodes.exchange("s"))
    viewers = [await start_viewer(edge, "s")]
    try:
        await viewers[0].wait_frames(10)
        await asyncio.sleep(2.5)  # well past every keyframe the joins asked for
        plis = count_publisher_plis(publisher)
        edge_sent = edge.stats("s")["keyframe_requests_sent"]
        origin_sent = origin.stats("s")["keyframe_requests_sent"]
        viewers.append(await start_viewer(edge, "s"))
        await viewers[1].wait_frames(1, within=2.0)
        assert viewers[1].first_frame_after is not None and viewers[1].first_frame_after < 2.0
        # The request went up the relay as PLI: edge -> origin -> publisher.
        assert edge.stats("s")["keyframe_requests_sent"] > edge_sent
        assert origin.stats("s")["keyframe_requests_sent"] > origin_sent
        assert plis
        await viewers[1].wait_frames(20)
        assert_live_pattern(viewers[1].numbers, publisher.track.sent)
    finally:
        await close_all(viewers, publisher)


async def test_the_origin_ending_the_stream_ends_it_on_the_edge(nodes: Nodes) -> None:
    origin, edge = nodes.origin, nodes.edge
    publisher = await start_publisher(origin, "s")
    relay_id = await edge.relay("s", nodes.exchange("s"))
    viewers = [await start_viewer(edge, "s") for _ in range(2)]
    try:
        for viewer in viewers:
            await viewer.wait_frames(5)
        await origin.unpublish("s")
        for viewer in viewers:
            await asyncio.wait_for(viewer.ended.wait(), 10)
        await wait_for(lambda: not edge.is_live("s"))
        ended = {(e.kind, e.stream_id, e.peer_id, e.relay) for e in nodes.edge_events}
        assert ("publisher_ended", "s", relay_id, True) in ended
        for viewer in viewers:
            assert ("subscriber_ended", "s", viewer.subscriber_id, False) in ended
        assert edge.subscribers("s") == []
        assert origin.subscribers("s", relays=True) == []
    finally:
        await close_all(viewers, publisher)


async def test_the_origin_dropping_the_relay_ends_the_stream_on_the_edge(nodes: Nodes) -> None:
    origin, edge = nodes.origin, nodes.edge
    publisher = await start_publisher(origin, "s")
    relay_id = await edge.relay("s", nodes.exchange("s"))
    direct = await start_viewer(origin, "s")
    edge_viewer = await start_viewer(edge, "s")
    try:
        await edge_viewer.wait_frames(5)
        [relay] = nodes.relays
        await origin.unsubscribe(relay, "draining")  # e.g. the origin node drains
        await asyncio.wait_for(edge_viewer.ended.wait(), 10)
        await wait_for(lambda: any(e.kind == "publisher_ended" for e in nodes.edge_events))
        assert [e.peer_id for e in nodes.edge_events if e.kind == "publisher_ended"] == [relay_id]
        # Only the relay went: the origin's own viewer still watches.
        await direct.wait_frames(10)
        assert origin.subscribers("s") == [direct.subscriber_id]
    finally:
        await close_all([direct, edge_viewer], publisher)


async def test_the_edge_closing_the_relay_removes_it_on_the_origin(nodes: Nodes) -> None:
    origin, edge = nodes.origin, nodes.edge
    publisher = await start_publisher(origin, "s")
    relay_id = await edge.relay("s", nodes.exchange("s"))
    viewer = await start_viewer(edge, "s")
    try:
        await viewer.wait_frames(5)
        await edge.unpublish("s")
        await asyncio.wait_for(viewer.ended.wait(), 10)
        assert not edge.is_live("s")
        assert ("publisher_ended", relay_id, True) in {
            (e.kind, e.peer_id, e.relay) for e in nodes.edge_events
        }
        await wait_for(lambda: origin.subscribers("s", relays=True) == [])
        [relay] = nodes.relays
        origin_ended = {(e.kind, e.peer_id, e.relay) for e in nodes.origin_events}
        assert ("subscriber_ended", relay, True) in origin_ended
        assert origin.is_live("s")  # the stream itself goes on at its origin
        assert relay not in origin.take_delivery()
        # The edge can relay the stream again.
        await edge.relay("s", nodes.exchange("s"))
        again = await start_viewer(edge, "s")
        await again.wait_frames(10)
        await again.close()
    finally:
        await close_all([viewer], publisher)


async def test_relaying_a_stream_live_on_the_edge_or_not_live_on_the_origin_fails(
    nodes: Nodes,
) -> None:
    origin, edge = nodes.origin, nodes.edge
    with pytest.raises(NotLive):  # what the origin raised, passed on
        await edge.relay("missing", nodes.exchange("missing"))
    assert not edge.is_live("missing")
    publisher = await start_publisher(origin, "s")
    local = await start_publisher(edge, "s")
    try:
        with pytest.raises(AlreadyPublishing):
            await edge.relay("s", nodes.exchange("s"))
        assert nodes.relays == []  # refused before any offer was made

        async def garbage(offer: str) -> str:
            return "v=0\r\nnot an answer\r\n"

        with pytest.raises(RelayFailed):
            await edge.relay("t", garbage)
        assert not edge.is_live("t")
    finally:
        await local.pc.close()
        await publisher.pc.close()


async def test_h264_video_and_opus_audio_cross_the_relay(nodes: Nodes) -> None:
    publisher = await start_publisher(nodes.origin, "s", codec="H264", audio=True)
    await nodes.edge.relay("s", nodes.exchange("s"))
    viewer = await start_viewer(nodes.edge, "s", audio=True)
    try:
        await viewer.wait_frames(30)
        assert viewer.garbled <= 2
        assert_live_pattern(viewer.numbers, publisher.track.sent)
        await wait_for(lambda: viewer.audio_frames >= 20)
        assert "H264" in viewer.answer and "opus" in viewer.answer
    finally:
        await close_all([viewer], publisher)


async def test_the_origin_dying_ends_the_stream_on_the_edge(
    nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ICE consent (RFC 7675) is what notices a dead origin: aioice checks every 5 s and gives up
    # after 6 misses; checked every 0.2 s here so the test takes seconds, not half a minute.
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)
    origin = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.sfu.support.origin_process",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert origin.stdin is not None and origin.stdout is not None
    stdin, stdout = origin.stdin, origin.stdout

    async def exchange(offer: str) -> str:
        stdin.write(json.dumps(offer).encode() + b"\n")
        return str(json.loads(await asyncio.wait_for(stdout.readline(), 20)))

    edge = nodes.edge
    viewer = None
    try:
        relay_id = await edge.relay("s", exchange)
        viewer = await start_viewer(edge, "s")
        await viewer.wait_frames(20)
        assert_live_pattern(viewer.numbers, max(viewer.numbers) + 1)
        origin.kill()  # SIGKILL: no DTLS close, no RTCP BYE
        await origin.wait()
        await asyncio.wait_for(viewer.ended.wait(), 15)
        await wait_for(lambda: any(e.kind == "publisher_ended" for e in nodes.edge_events))
        assert not edge.is_live("s")
        [ended] = [e for e in nodes.edge_events if e.kind == "publisher_ended"]
        assert (ended.peer_id, ended.relay) == (relay_id, True)
        assert ended.reason in ("failed", "closed")
        assert edge.subscribers("s") == []
    finally:
        if viewer is not None:
            await viewer.close()
        if origin.returncode is None:
            origin.kill()
            await origin.wait()
