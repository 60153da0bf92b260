"""A WHEP viewer (real aiortc peer) that decodes everything and checks for the colour bars."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp.test_utils import TestClient
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.interop.colour_bars import shows_smpte_bars


@dataclass
class BarsViewer:
    pc: RTCPeerConnection
    answer: str = ""
    video_frames: int = 0
    bars_frames: int = 0  # decoded frames that show the publisher's SMPTE colour bars
    sizes: set[tuple[int, int]] = field(default_factory=set)
    audio_frames: int = 0
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _consume(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if track.kind == "audio":
                    self.audio_frames += 1
                    continue
                self.video_frames += 1
                self.sizes.add((frame.width, frame.height))
                image = frame.to_ndarray(format="rgb24")
                self.bars_frames += shows_smpte_bars(image)
        except MediaStreamError:
            self.ended.set()

    async def wait_frames(self, count: int, within: float) -> None:
        """Wait until ``count`` more video frames were decoded."""
        target = self.video_frames + count
        deadline = time.monotonic() + within
        while self.video_frames < target:
            assert time.monotonic() < deadline, f"only {self.video_frames} frames decoded"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


async def watch(client: TestClient, stream_id: str, headers: dict[str, str]) -> BarsViewer:
    """Start watching ``stream_id`` over WHEP (audio and video, receive only)."""
    viewer = BarsViewer(RTCPeerConnection(RTCConfiguration(iceServers=[])))
    for kind in ("video", "audio"):
        viewer.pc.addTransceiver(kind, direction="recvonly")

    @viewer.pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        viewer.tasks.append(asyncio.ensure_future(viewer._consume(track)))

    await viewer.pc.setLocalDescription(await viewer.pc.createOffer())
    response = await client.post(
        f"/whep/{stream_id}", data=viewer.pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp", **headers},
    )
    assert response.status == 201, await response.text()
    viewer.answer = await response.text()
    await viewer.pc.setRemoteDescription(RTCSessionDescription(sdp=viewer.answer, type="answer"))
    return viewer
