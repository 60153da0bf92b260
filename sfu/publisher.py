"""A publisher: its peer connection and, per track, the fan-out to every subscriber."""

from __future__ import annotations

import asyncio

import structlog
from aiortc import RTCPeerConnection, RTCRtpReceiver

from sfu import aiortc_hooks
from sfu.downtrack import DownTrack
from sfu.keyframe_requests import KeyframeRequester
from sfu.keyframes import starts_keyframe
from sfu.negotiation import NegotiatedTrack
from sfu.rtp_rewrite import RtpView, parse_rtp, seq_diff, unwrap_rtx
from sfu.tap import StreamTap

logger = structlog.get_logger(__name__)

HISTORY_SIZE = 1024  # packets kept per track for NACK (power of two); ~1.5 s of 720p VP8
MAX_QUEUED_PACKETS = 4096  # fan-out backlog beyond which packets are dropped, not queued


class PublishedTrack:
    """One incoming track: shared packet history, keyframe requests, down-tracks and taps."""

    def __init__(
        self,
        negotiated: NegotiatedTrack,
        receiver: RTCRtpReceiver,
        pace_every: int,
        keyframe_interval: float,
    ) -> None:
        self.kind = negotiated.kind
        self.negotiated = negotiated
        self.codec_name = negotiated.codec.name.upper() if negotiated.kind == "video" else "opus"
        self.clock_rate = negotiated.codec.clockRate
        self.ssrc: int | None = None
        self.downtracks: dict[str, DownTrack] = {}
        self.taps: list[StreamTap] = []
        self.received = 0
        self.dropped = 0
        self._pace_every = pace_every
        self._receiver = receiver
        self._history: list[RtpView | None] = [None] * HISTORY_SIZE
        self._queue: asyncio.Queue[RtpView | None] = asyncio.Queue()
        self.keyframes = KeyframeRequester(self._send_pli, keyframe_interval)
        self._task = asyncio.ensure_future(self._run())

    async def _send_pli(self) -> None:
        if self.ssrc is not None:
            await aiortc_hooks.request_keyframe(self._receiver, self.ssrc)

    def request_keyframe(self) -> None:
        """Merged, rate-limited PLI toward the publisher (video only)."""
        if self.kind == "video":
            self.keyframes.request()

    def push(self, view: RtpView) -> None:
        """Queue a packet from the publisher for fan-out."""
        if self.ssrc is None:
            self.ssrc = view.ssrc
        self.received += 1
        if self._queue.qsize() >= MAX_QUEUED_PACKETS:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.warning("sfu_fanout_behind", kind=self.kind, dropped=self.dropped)
            return
        self._queue.put_nowait(view)

    def lookup(self, sequence_number: int) -> RtpView | None:
        """A recent packet by its original sequence number (for NACK answers)."""
        view = self._history[sequence_number % HISTORY_SIZE]
        if view is None or view.sequence_number != sequence_number:
            return None
        return view

    async def _run(self) -> None:
        sends = 0
        while (view := await self._queue.get()) is not None:
            slot = view.sequence_number % HISTORY_SIZE
            previous = self._history[slot]
            if previous is None or seq_diff(view.sequence_number, previous.sequence_number) > 0:
                self._history[slot] = view
            keyframe = self.kind == "video" and starts_keyframe(self.codec_name, view.payload)
            for tap in self.taps:
                tap.push(self.kind, view)
            blocks: dict[tuple[object, ...], bytes] = {}
            for downtrack in list(self.downtracks.values()):
                sends += downtrack.forward(view, keyframe, blocks)
                if sends >= self._pace_every:
                    # Let ingest, RTCP and signaling run between bursts (a keyframe to
                    # hundreds of viewers would otherwise hold the loop for its whole length).
                    sends = 0
                    await asyncio.sleep(0)

    def stop(self) -> None:
        """End fan-out and taps."""
        self.keyframes.cancel()
        self._queue.put_nowait(None)
        for tap in list(self.taps):
            tap.end()
        self.taps.clear()
        self.downtracks.clear()


class Publisher:
    """The publisher's peer connection and its tracks, addressed by payload type."""

    def __init__(self, publisher_id: str, stream_id: str, pc: RTCPeerConnection) -> None:
        self.publisher_id = publisher_id
        self.stream_id = stream_id
        self.pc = pc
        self.tracks: dict[str, PublishedTrack] = {}  # by kind
        self._by_payload_type: dict[int, PublishedTrack] = {}
        self._rtx: dict[int, PublishedTrack] = {}
        self.malformed = 0
        self.connected = False  # ICE and DTLS came up once

    def add_track(self, track: PublishedTrack) -> None:
        """Route the track's payload types (and RTX) to it."""
        self.tracks[track.kind] = track
        self._by_payload_type[track.negotiated.payload_type] = track
        if track.negotiated.rtx_payload_type is not None:
            self._rtx[track.negotiated.rtx_payload_type] = track

    def on_rtp(self, data: bytes) -> None:
        """Decrypted RTP from the publisher (aiortc_hooks.intercept_rtp callback)."""
        try:
            view = parse_rtp(data)
            track = self._by_payload_type.get(view.payload_type)
            if track is None:
                track = self._rtx.get(view.payload_type)
                if track is None or track.ssrc is None:
                    return
                view = unwrap_rtx(view, track.negotiated.payload_type, track.ssrc)
        except ValueError:
            self.malformed += 1
            return
        track.push(view)

    def tap(self) -> StreamTap:
        """A new tap on every track of this publisher."""
        video = self.tracks.get("video")
        tap = StreamTap(
            {kind: (t.codec_name, t.clock_rate) for kind, t in self.tracks.items()},
            request_keyframe=video.request_keyframe if video else lambda: None,
            detach=self.detach_tap,
        )
        for track in self.tracks.values():
            track.taps.append(tap)
        return tap

    def detach_tap(self, tap: StreamTap) -> None:
        """Stop feeding ``tap``."""
        for track in self.tracks.values():
            if tap in track.taps:
                track.taps.remove(tap)

    def stop(self) -> None:
        """Stop every track's fan-out."""
        for track in self.tracks.values():
            track.stop()
