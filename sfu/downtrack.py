"""One subscriber's copy of one published track: its start, its fan-out target, NACK answers.

A down-track waits (in Python, a few comparisons per packet) until the subscriber is connected
and, for video, a keyframe arrives; then it picks its offsets and becomes a target of its
track's fan-out (sfu/fanout.py), which rewrites, protects and sends every later packet without
Python. Counters and sender reports are read from the target once per take, not per packet.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from aiortc import RTCRtpSender

from sfu import aiortc_hooks
from sfu.aiortc_hooks import SendRoute
from sfu.delivery import DeliveryCounter
from sfu.fanout import Target
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


class TargetFactory(Protocol):
    """sfu.fanout.new_target (native or Python), or the Python class for relayed routes."""

    def __call__(
        self,
        session: object,
        transport: object,
        remote_addr: tuple[str, int],
        *,
        ssrc: int,
        payload_type: int,
        seq_offset: int,
        ts_offset: int,
        first_seq: int,
        block_index: int,
    ) -> Target: ...


class DownTrack:
    """Forwards one published track to one subscriber, without touching payloads.

    ``sent_at(original_timestamp)``: the unix time the track last sent a packet with that RTP
    timestamp (None if not among the last ones), for sender reports.
    """

    def __init__(
        self,
        kind: str,
        fmt: OutputFormat,
        sender: RTCRtpSender,
        output: Callable[[bytes], bool],
        lookup: Callable[[int], RtpView | None],
        request_keyframe: Callable[[], None],
        clock: Callable[[], float],
        sent_at: Callable[[int], float | None],
    ) -> None:
        self.kind = kind
        self.fmt = fmt
        self.counter = DeliveryCounter()
        self.active = False  # becomes True once the subscriber's DTLS is up
        self.closed = False
        self.retransmitted = 0
        self.target: Target | None = None  # once started
        self._route: SendRoute | None = None
        self._block_index = 0
        # Sent by targets replaced since (rebase), for sender reports; send errors of those
        # and of retransmissions.
        self._retired_packets = self._retired_octets = self._errors = 0
        self._sender = sender
        self._output = output
        self._lookup = lookup
        self._request_keyframe = request_keyframe
        self._clock = clock
        self._sent_at = sent_at
        self._needs_keyframe = kind == "video"
        self._requested_at = 0.0
        self._seq_offset: int | None = None
        self._ts_offset = 0
        self._first_seq = 0
        self._rtx_seq = random.randrange(0x8000)

    @property
    def send_errors(self) -> int:
        """Packets that could not be handed to the kernel (fan-out and retransmissions)."""
        fanned = self.target.send_errors if self.target is not None else 0
        return fanned + self._errors

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

    def route(self, view: RtpView, keyframe: bool) -> SendRoute | None:
        """For a down-track not started yet: its route if it can start with ``view``."""
        if not self.active or self.closed:
            return None
        if self._needs_keyframe and not keyframe:
            if self._clock() - self._requested_at > KEYFRAME_RETRY_SECONDS:
                self._ask_keyframe()
            return None
        return aiortc_hooks.send_route(self._sender.transport)

    def start(
        self, view: RtpView, route: SendRoute, block_index: int, new_target: TargetFactory
    ) -> Target:
        """Pick the offsets at ``view`` (the first packet sent) and become a fan-out target."""
        # Random starting points, as a fresh sender would choose (and below 2^15 for SRTP).
        self._seq_offset = (random.randrange(0x8000) - view.sequence_number) & 0xFFFF
        self._ts_offset = (random.getrandbits(32) - view.timestamp) & 0xFFFFFFFF
        self._route, self._block_index = route, block_index
        return self._new_target(view, self._seq_offset, new_target)

    def rebase(self, view: RtpView, skipped: int, new_target: TargetFactory) -> Target | None:
        """The track skipped ``skipped`` sequence numbers before ``view`` (sfu/resync.py): go on
        from ``view`` numbered right after the last packet sent, through a new target."""
        old = self.target
        if old is None or self._seq_offset is None or self.closed:
            return old
        self.collect()
        old.close()
        self._retired_packets += old.sent_packets
        self._retired_octets += old.sent_octets
        self._errors += old.send_errors
        return self._new_target(view, (self._seq_offset - skipped) & 0xFFFF, new_target)

    def _new_target(self, view: RtpView, seq_offset: int, new_target: TargetFactory) -> Target:
        route = self._route
        assert route is not None
        self._seq_offset = seq_offset
        self._first_seq = view.sequence_number
        self.target = new_target(
            route.session,
            route.transport,
            route.remote_addr,
            ssrc=self.fmt.ssrc,
            payload_type=self.fmt.payload_type,
            seq_offset=seq_offset,
            ts_offset=self._ts_offset,
            first_seq=view.sequence_number,
            block_index=self._block_index,
        )
        return self.target

    def collect(self) -> None:
        """Move the target's counters and second marks into ``counter`` (once per take)."""
        target = self.target
        if target is not None:
            self.counter.count(*target.take_counts())
            self.counter.mark(target.take_marks())
            if not self.closed:
                self._follow_route(target)

    def acknowledge(self, highest_sequence: int) -> None:
        """A receiver report about this down-track (marks are collected first: it may reach
        seconds sent since the last take)."""
        if self.target is not None:
            self.counter.mark(self.target.take_marks())
        self.counter.acknowledge(highest_sequence)

    def _follow_route(self, target: Target) -> None:
        """ICE renominated another pair: send there (same kind of route only)."""
        route, current = aiortc_hooks.send_route(self._sender.transport), self._route
        if route is None or current is None or route.direct != current.direct:
            return
        if route.via is not current.via or route.remote_addr != current.remote_addr:
            target.set_route(route.transport, route.remote_addr)
            self._route = route
            logger.info("sfu_downtrack_route_changed", kind=self.kind)

    def refresh_sender_report(self, sender: RTCRtpSender) -> None:
        """Before an RTCP SR leaves: what the target sent, its last timestamp and send time."""
        target = self.target
        if target is None:
            return
        original = ts_add(target.last_timestamp, -self._ts_offset)
        sent_at = self._sent_at(original)
        if sent_at is None:  # keep the previous pair: an SR must not mix two packets' clocks
            return
        aiortc_hooks.update_sender_report(
            sender,
            target.last_timestamp,
            self._retired_packets + target.sent_packets,
            self._retired_octets + target.sent_octets,
            sent_at,
        )

    def close(self) -> None:
        """No packet is sent any more; the target's last counts are kept for the last take."""
        self.closed = True
        if self.target is not None:
            self.collect()
            self.target.close()

    async def retransmit(self, sequence_number: int) -> None:
        """Answer a NACK for ``sequence_number`` (as the subscriber saw it) from the history.

        Rare, so in Python; ``output`` protects with the same SRTP session as the fan-out.
        """
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
            self.counter.count(1, len(packet), 0)

    def _send(self, packet: bytes) -> bool:
        """Protect and send one packet; a packet that cannot be sent is dropped, not fatal."""
        try:
            return self._output(packet)
        except (ValueError, OSError) as exc:
            self._errors += 1
            if self._errors == 1:  # one line per subscriber, not one per packet
                logger.warning("sfu_send_failed", kind=self.kind, size=len(packet), error=str(exc))
            return False
