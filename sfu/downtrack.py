"""One subscriber's copy of one published track: header rewrite, history lookup, counters."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiortc import RTCRtpSender

from sfu import aiortc_hooks
from sfu.delivery import DeliveryCounter
from sfu.rtp_rewrite import (
    RtpView,
    map_extensions,
    rewrite_rtp,
    rtx_prefix,
    seq_add,
    seq_diff,
    ts_add,
)

logger = structlog.get_logger(__name__)

KEYFRAME_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class OutputFormat:
    """How packets must look on this subscriber's m-line."""

    payload_type: int
    rtx_payload_type: int | None
    ssrc: int
    rtx_ssrc: int
    extension_map: dict[int, int]  # publisher id -> subscriber id
    extension_extra: tuple[tuple[int, bytes], ...]  # e.g. the subscriber's mid

    @property
    def extension_key(self) -> tuple[object, ...]:
        """Subscribers with equal keys share one extension block per packet."""
        return (tuple(sorted(self.extension_map.items())), self.extension_extra)


class DownTrack:
    """Forwards one published track to one subscriber, without touching payloads."""

    def __init__(
        self,
        kind: str,
        fmt: OutputFormat,
        sender: RTCRtpSender,
        output: Callable[[bytes], bool],
        lookup: Callable[[int], RtpView | None],
        request_keyframe: Callable[[], None],
        clock: Callable[[], float],
    ) -> None:
        self.kind = kind
        self.fmt = fmt
        self.counter = DeliveryCounter()
        self.active = False  # becomes True once the subscriber's DTLS is up
        self.closed = False
        self.retransmitted = 0
        self.send_errors = 0
        self._key = fmt.extension_key
        self._sender = sender
        self._output = output
        self._lookup = lookup
        self._request_keyframe = request_keyframe
        self._clock = clock
        self._needs_keyframe = kind == "video"
        self._requested_at = 0.0
        self._seq_offset: int | None = None
        self._ts_offset = 0
        self._first_seq = 0
        self._rtx_seq = random.randrange(0x8000)
        self._packets = 0
        self._octets = 0

    def activate(self) -> None:
        """The subscriber is connected: start (at the next keyframe for video)."""
        self.active = True
        if self._needs_keyframe:
            self._ask_keyframe()

    def keyframe_requested(self) -> None:
        """A PLI/FIR from the viewer."""
        if self.active:
            self._ask_keyframe()

    def _ask_keyframe(self) -> None:
        self._requested_at = self._clock()
        self._request_keyframe()

    def _send(self, packet: bytes) -> bool:
        """Protect and send one packet; a packet that cannot be sent is dropped, not fatal."""
        try:
            return self._output(packet)
        except (ValueError, OSError) as exc:
            self.send_errors += 1
            if self.send_errors == 1:  # one line per subscriber, not one per packet
                logger.warning("sfu_send_failed", kind=self.kind, size=len(packet), error=str(exc))
            return False

    def forward(
        self, view: RtpView, keyframe: bool, blocks: dict[tuple[object, ...], bytes]
    ) -> bool:
        """Send ``view`` to the subscriber; False if not sent (inactive, waiting for a keyframe)."""
        if not self.active or self.closed:
            return False
        seq_offset = self._seq_offset
        if seq_offset is None:
            if self._needs_keyframe and not keyframe:
                if self._clock() - self._requested_at > KEYFRAME_RETRY_SECONDS:
                    self._ask_keyframe()
                return False
            seq_offset = self._start(view)
        elif seq_diff(view.sequence_number, self._first_seq) < 0:
            return False  # a late retransmission of something before this subscriber started
        block = blocks.get(self._key)
        if block is None:
            block = blocks[self._key] = map_extensions(
                view, self.fmt.extension_map, self.fmt.extension_extra
            )
        timestamp = ts_add(view.timestamp, self._ts_offset)
        sequence_number = seq_add(view.sequence_number, seq_offset)
        packet = rewrite_rtp(
            view,
            ssrc=self.fmt.ssrc,
            sequence_number=sequence_number,
            timestamp=timestamp,
            payload_type=self.fmt.payload_type,
            extension_block=block,
        )
        if not self._send(packet):
            return False
        frame_done = view.marker and self.kind == "video"
        self.counter.add(len(packet), frame_done, sequence_number)
        self._packets += 1
        self._octets += view.payload_end - view.payload_start
        if frame_done or self.kind == "audio":
            aiortc_hooks.update_sender_report(self._sender, timestamp, self._packets, self._octets)
        return True

    def _start(self, view: RtpView) -> int:
        """Pick the offsets at the first packet sent; returns the sequence number offset."""
        # Random starting points, as a fresh sender would choose (and below 2^15 for SRTP).
        seq_offset = self._seq_offset = (random.randrange(0x8000) - view.sequence_number) & 0xFFFF
        self._ts_offset = (random.getrandbits(32) - view.timestamp) & 0xFFFFFFFF
        self._first_seq = view.sequence_number
        return seq_offset

    async def retransmit(self, sequence_number: int) -> None:
        """Answer a NACK for ``sequence_number`` (as the subscriber saw it) from the history."""
        if self._seq_offset is None or self.closed:
            return
        original = seq_add(sequence_number, -self._seq_offset)
        if seq_diff(original, self._first_seq) < 0:
            return
        view = self._lookup(original)
        if view is None:
            return
        fmt = self.fmt
        if fmt.rtx_payload_type is None:  # no RTX negotiated: resend as it was
            ssrc, seq, payload_type, prefix = fmt.ssrc, sequence_number, fmt.payload_type, b""
        else:
            ssrc, seq, payload_type = fmt.rtx_ssrc, self._rtx_seq, fmt.rtx_payload_type
            prefix = rtx_prefix(sequence_number)
            self._rtx_seq = seq_add(self._rtx_seq, 1)
        packet = rewrite_rtp(
            view,
            ssrc=ssrc,
            sequence_number=seq,
            timestamp=ts_add(view.timestamp, self._ts_offset),
            payload_type=payload_type,
            extension_block=map_extensions(view, fmt.extension_map, fmt.extension_extra),
            payload_prefix=prefix,
        )
        if self._send(packet):
            self.retransmitted += 1
            self.counter.add(len(packet), False)
