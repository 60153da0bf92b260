"""A subscriber: its peer connection and one down-track per published track it receives."""

from __future__ import annotations

import asyncio
from typing import NoReturn

from aiortc import MediaStreamTrack, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from sfu.delivery import AcknowledgedSeconds, Delivery
from sfu.downtrack import DownTrack
from sfu.published_track import PublishedTrack


class HeldTrack(MediaStreamTrack):
    """A track that never yields a frame: aiortc's sender waits on it forever, encoding nothing.

    The sender exists for SDP, SSRCs, RTCP (reports, NACK, PLI); media goes around it.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._stopped = asyncio.Event()

    async def recv(self) -> NoReturn:
        await self._stopped.wait()
        raise MediaStreamError

    def stop(self) -> None:
        """End the track (wakes the waiting sender)."""
        super().stop()
        self._stopped.set()


class Subscriber:
    """One viewer of one stream, or a relay to another node's sfu."""

    def __init__(
        self, subscriber_id: str, stream_id: str, pc: RTCPeerConnection, relay: bool = False
    ) -> None:
        self.subscriber_id = subscriber_id
        self.stream_id = stream_id
        self.pc = pc
        self.downtracks: list[tuple[PublishedTrack, DownTrack]] = []
        self.closed = False  # its peer connection is closed: no report can arrive any more
        self.closed_at = 0.0  # time.monotonic() when it was closed
        self._seconds = AcknowledgedSeconds()
        self.connected = False  # ICE and DTLS came up once
        self.relay = relay  # another node's sfu (sfu/relay.py): no viewer, nothing billed

    def add(self, track: PublishedTrack, downtrack: DownTrack) -> None:
        """Receive ``track`` through ``downtrack`` once attached."""
        self.downtracks.append((track, downtrack))

    def attach(self) -> None:
        """Join the fan-out of every track (media flows once DTLS is up)."""
        for track, downtrack in self.downtracks:
            track.attach(self.subscriber_id, downtrack)

    def activate(self) -> None:
        """DTLS is up: start every down-track."""
        self.connected = True
        for _, downtrack in self.downtracks:
            downtrack.activate()

    def detach(self) -> None:
        """Stop media at once (before the peer connection is closed)."""
        for track, _ in self.downtracks:
            track.detach(self.subscriber_id)

    def settled(self) -> bool:
        """No second of media sent is still waiting for the viewer's acknowledgement."""
        for _, downtrack in self.downtracks:
            downtrack.collect()
        return AcknowledgedSeconds.settled(d.counter for _, d in self.downtracks)

    def take_delivery(self, now: float, window: float) -> Delivery:
        """Counts and acknowledged seconds over all down-tracks since the previous call."""
        for _, downtrack in self.downtracks:
            downtrack.collect()
        counters = (downtrack.counter for _, downtrack in self.downtracks)
        return self._seconds.take(counters, now, window, self.closed)
