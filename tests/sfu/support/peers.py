"""Publish and view through the Sfu directly, as WHIP and WHEP clients would over HTTP."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aiortc import RTCPeerConnection

from sfu import Sfu
from tests.support.rtc_peers import PatternTrack, Viewer, accept_answer, publisher_peer, viewer_peer


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


FANOUTS = ("native", "python")
both_fanouts = pytest.mark.parametrize("sfu", FANOUTS, indirect=True)
"""Run a test on the native and the Python fan-out (the ``sfu`` fixture reads the parameter)."""


def assert_live_pattern(numbers: list[int], sent: int) -> None:
    """Decoded frames spell the publisher's frame numbers, in order, and recent ones."""
    assert len(numbers) >= 20
    steps = [b - a for a, b in zip(numbers, numbers[1:], strict=False)]
    assert sum(1 for s in steps if 1 <= s <= 3) >= 0.9 * len(steps), steps
    assert max(numbers) <= sent
    assert max(numbers) >= sent - 60  # not stale: within 2 s of what was sent
