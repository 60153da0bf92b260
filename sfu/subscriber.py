"""A subscriber: its peer connection and one down-track per published track it receives."""

from __future__ import annotations

import asyncio

from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from sfu.delivery import Delivery
from sfu.downtrack import DownTrack
from sfu.publisher import PublishedTrack


class HeldTrack(MediaStreamTrack):
    """A track that never yields a frame: aiortc's sender waits on it forever, encoding nothing.

    The sender exists for SDP, SSRCs, RTCP (reports, NACK, PLI); media goes around it.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._stopped = asyncio.Event()

    async def recv(self) -> None:  # type: ignore[override]
        await self._stopped.wait()
        raise MediaStreamError

    def stop(self) -> None:
        """End the track (wakes the waiting sender)."""
        super().stop()
        self._stopped.set()


class Subscriber:
    """One viewer of one stream."""

    def __init__(self, subscriber_id: str, stream_id: str, pc: RTCPeerConnection) -> None:
        self.subscriber_id = subscriber_id
        self.stream_id = stream_id
        self.pc = pc
        self.downtracks: list[tuple[PublishedTrack, DownTrack]] = []
        self.connected = False  # ICE and DTLS came up once

    def add(self, track: PublishedTrack, downtrack: DownTrack) -> None:
        """Receive ``track`` through ``downtrack`` once attached."""
        self.downtracks.append((track, downtrack))

    def attach(self) -> None:
        """Join the fan-out of every track (media flows once DTLS is up)."""
        for track, downtrack in self.downtracks:
            track.downtracks[self.subscriber_id] = downtrack

    def activate(self) -> None:
        """DTLS is up: start every down-track."""
        self.connected = True
        for _, downtrack in self.downtracks:
            downtrack.activate()

    def detach(self) -> None:
        """Stop media at once (before the peer connection is closed)."""
        for track, downtrack in self.downtracks:
            downtrack.closed = True
            track.downtracks.pop(self.subscriber_id, None)

    def take_delivery(self) -> Delivery:
        """Counts over all down-tracks since the previous call."""
        taken = [downtrack.counter.take() for _, downtrack in self.downtracks]
        return Delivery(
            packets=sum(d.packets for d in taken),
            bytes=sum(d.bytes for d in taken),
            frames=sum(d.frames for d in taken),
        )
