"""Overload: a stalled event loop drops old packets, asks for a keyframe, and viewers recover."""

from __future__ import annotations

import asyncio
import time

from structlog.testing import capture_logs

from sfu import Sfu
from sfu.rtp_rewrite import RtpView
from tests.sfu.support.peers import (
    assert_live_pattern,
    both_fanouts,
    start_publisher,
    start_viewer,
)


@both_fanouts
async def test_a_stalled_loop_drops_old_packets_and_viewers_resume_at_a_keyframe(
    sfu: Sfu,
) -> None:
    """A callback blocks the loop for 0.5 s (a slow disk under the recorder, say): packets
    waiting then are older than the 0.3 s max age, so they are dropped rather than sent late,
    and video resumes for every viewer at a keyframe asked for, never on a broken frame."""
    publisher = await start_publisher(sfu, "s")
    viewers = [await start_viewer(sfu, "s") for _ in range(2)]
    tap = sfu.tap("s")
    try:
        for viewer in viewers:
            await viewer.wait_frames(10)
        stalled = asyncio.Event()
        push = tap.push

        def blocking_push(kind: str, view: RtpView) -> None:
            if kind == "video" and not stalled.is_set():
                time.sleep(0.5)  # blocks the event loop, as a blocking call in a callback does
                stalled.set()
            push(kind, view)

        before = sfu.stats("s")
        garbled = [viewer.garbled for viewer in viewers]
        with capture_logs() as logs:
            tap.push = blocking_push  # type: ignore[method-assign]
            await asyncio.wait_for(stalled.wait(), 5)
            decoded = [viewer.decoded for viewer in viewers]
            for viewer in viewers:
                await viewer.wait_frames(20, within=15)
        after = sfu.stats("s")
        assert after["video_packets_dropped"] > before["video_packets_dropped"]
        assert after["keyframe_requests_sent"] > before["keyframe_requests_sent"]
        events = [entry["event"] for entry in logs]
        assert "sfu_fanout_resynchronised" in events
        for viewer, start, old_garbled in zip(viewers, decoded, garbled, strict=True):
            assert_live_pattern(viewer.numbers[start:], publisher.track.sent)
            assert viewer.garbled == old_garbled  # no frame decoded from a broken chain
    finally:
        tap.close()
        for viewer in viewers:
            await viewer.close()
        await publisher.pc.close()
