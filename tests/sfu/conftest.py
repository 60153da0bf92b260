"""The sfu under test, gathering on 127.0.0.1, and helpers that publish and view through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiortc import RTCPeerConnection

from sfu import IceSettings, Sfu
from tests.support.rtc_peers import (  # noqa: F401 - re-exported for the sfu tests
    BITS,
    HEIGHT,
    WIDTH,
    PatternTrack,
    Viewer,
    accept_answer,
    client_pc,
    pattern_frame,
    publisher_peer,
    read_pattern,
    viewer_peer,
)


@pytest.fixture
async def sfu(loopback: None) -> AsyncIterator[Sfu]:
    """An Sfu gathering on 127.0.0.1 only."""
    server = Sfu(IceSettings(host_addresses=("127.0.0.1",)), keyframe_interval=0.3)
    yield server
    await server.close()


@dataclass
class Publisher:
    pc: RTCPeerConnection
    track: PatternTrack
    publisher_id: str
    answer: str


async def start_publisher(
    sfu: Sfu, stream_id: str, codec: str = "VP8", audio: bool = False
) -> Publisher:
    """Publish PatternTrack (and optionally a tone) to ``stream_id`` like a WHIP client."""
    pc, track = await publisher_peer(codec, audio)
    publisher_id, answer = await sfu.publish(stream_id, pc.localDescription.sdp)
    await accept_answer(pc, answer)
    return Publisher(pc, track, publisher_id, answer)


async def start_viewer(sfu: Sfu, stream_id: str, audio: bool = False) -> Viewer:
    """Subscribe like a WHEP client; decoded frames are collected in ``numbers``."""
    viewer = await viewer_peer(audio)
    viewer.subscriber_id, viewer.answer = await sfu.subscribe(
        stream_id, viewer.pc.localDescription.sdp
    )
    await accept_answer(viewer.pc, viewer.answer)
    return viewer
