"""Real aiortc test peers on 127.0.0.1: a publisher of a numbered pattern and decoding viewers.

Shared by the sfu tests (which call the Sfu directly) and the signaling tests (WHIP/WHEP over
HTTP): only how the offer reaches the server differs.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError

WIDTH, HEIGHT = 320, 240
BITS = 10  # frame number encoded as BITS black/white vertical bands
BAND = WIDTH // BITS


def pattern_frame(number: int) -> np.ndarray:
    """A grey image whose bands spell ``number`` in binary (white = 1)."""
    image = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    for bit in range(BITS):
        if number >> bit & 1:
            image[:, bit * BAND : (bit + 1) * BAND] = 255
    return image


def read_pattern(image: np.ndarray) -> int | None:
    """The number spelled by a decoded image, or None if a band is neither black nor white."""
    number = 0
    for bit in range(BITS):
        patch = image[HEIGHT // 4 : 3 * HEIGHT // 4, bit * BAND + 6 : (bit + 1) * BAND - 6]
        level = float(patch.mean())
        if level > 200:
            number |= 1 << bit
        elif level > 55:
            return None
    return number


class PatternTrack(VideoStreamTrack):
    """30 fps video whose frame n shows n in binary."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(pattern_frame(self.sent % (1 << BITS)), format="gray")
        frame.pts, frame.time_base = pts, time_base
        self.sent += 1
        return frame


def client_pc() -> RTCPeerConnection:
    """A test client: no STUN (127.0.0.1 only)."""
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def publisher_peer(
    codec: str = "VP8", audio: bool = False
) -> tuple[RTCPeerConnection, PatternTrack]:
    """A publishing peer with its local offer set: PatternTrack (and a tone if asked)."""
    pc = client_pc()
    track = PatternTrack()
    transceiver = pc.addTransceiver(track, direction="sendonly")
    preferred = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == codec]
    transceiver.setCodecPreferences(preferred)
    if audio:
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, track


async def accept_answer(pc: RTCPeerConnection, answer: str) -> None:
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


@dataclass
class Viewer:
    pc: RTCPeerConnection
    subscriber_id: str = ""
    answer: str = ""
    numbers: list[int] = field(default_factory=list)
    garbled: int = 0
    audio_frames: int = 0
    started: float = field(default_factory=time.monotonic)
    first_frame_after: float | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _consume(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if track.kind == "audio":
                    self.on_audio_frame(frame)
                    continue
                if self.first_frame_after is None:
                    self.first_frame_after = time.monotonic() - self.started
                self.on_video_frame(frame)
        except MediaStreamError:
            self.ended.set()

    def on_audio_frame(self, frame: av.AudioFrame) -> None:
        self.audio_frames += 1

    def on_video_frame(self, frame: av.VideoFrame) -> None:
        """Read the publisher's frame counter off a decoded frame."""
        number = read_pattern(frame.to_ndarray(format="gray"))
        if number is None:
            self.garbled += 1
        else:
            self.numbers.append(number)

    @property
    def decoded(self) -> int:
        return len(self.numbers)

    async def wait_frames(self, count: int, within: float = 10.0) -> None:
        """Wait until ``count`` more frames were decoded."""
        target = self.decoded + count
        deadline = time.monotonic() + within
        while self.decoded < target:
            assert time.monotonic() < deadline, f"only {self.decoded} frames decoded"
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


async def viewer_peer(audio: bool = False, kind: type[Viewer] = Viewer) -> Viewer:
    """A receiving peer (of class `kind`) with its local offer set."""
    viewer = kind(client_pc())
    viewer.pc.addTransceiver("video", direction="recvonly")
    if audio:
        viewer.pc.addTransceiver("audio", direction="recvonly")

    @viewer.pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        viewer.tasks.append(asyncio.ensure_future(viewer._consume(track)))

    await viewer.pc.setLocalDescription(await viewer.pc.createOffer())
    return viewer
