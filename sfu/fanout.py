"""Fan-out: one published packet, rewritten, protected and sent for every started down-track.

Two implementations with one behaviour: the C extension ``sfu._fanout`` (no Python bytecode per
packet per subscriber: libsrtp's ``srtp_protect`` by address, ``sendmmsg`` per socket) and this
module's reference classes, the fallback where the extension is not built. ``new_fanout`` and
``new_target`` pick one; tests/sfu/test_fanout.py runs both against ``rewrite_rtp`` + libsrtp.

What a target sends is exactly ``rewrite_rtp`` followed by ``session.protect``: version 2, the
CSRCs of the published packet, the X bit iff its extension block is non-empty, the marker, its
payload type, sequence number and timestamp shifted by its offsets, its SSRC, the payload with
padding dropped. Packets before ``first_seq`` (late retransmissions from before the subscriber
started) are skipped. A packet that cannot be protected or sent counts in ``send_errors`` and is
dropped; one subscriber's failure never raises nor stops the others.

Counters count only packets handed to the kernel. Differences that stay: this reference sends
through the asyncio transport, which queues a datagram the kernel cannot take now and reports
kernel errors to its protocol (``error_received``), so here only a closed transport and an
unprotectable packet count as send errors; the native module sends directly and drops (counting
a send error) what the kernel refuses, including a full socket buffer (it never blocks). The
native module watches the socket, not the transport (no Python call per packet per target): a
closed transport whose socket lives on (a route of the UDP mux, sfu/udp_mux.py) still carries
its packets until the target is closed, which is why a closed down-track closes its target.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from pylibsrtp import Error as SrtpError
from pylibsrtp import Session as SrtpSession

from sfu import aiortc_hooks
from sfu.rtp_rewrite import RtpView, rewrite_rtp, seq_add, seq_diff, ts_add

try:
    from sfu import _fanout
except ImportError:  # not built on this platform: the reference classes below serve
    _fanout = None  # type: ignore[assignment]
else:
    _fanout.bind_srtp_protect(aiortc_hooks.srtp_protect_address())

NATIVE_AVAILABLE: bool = _fanout is not None

Address = tuple[Any, ...]  # (host, port) or (host, port, flowinfo, scope_id)


class Target(Protocol):
    """What both implementations of a target offer (see the module docstring)."""

    packets: int
    bytes: int
    frames: int
    sent_packets: int
    sent_octets: int
    last_timestamp: int
    send_errors: int

    def take_counts(self) -> tuple[int, int, int]: ...
    def take_marks(self) -> list[tuple[int, int]]: ...
    def set_route(self, transport: asyncio.DatagramTransport, remote_addr: Address) -> None: ...
    def close(self) -> None: ...


class Fanout(Protocol):
    """What both implementations of a fan-out offer (see :meth:`PyFanout.forward`)."""

    def add(self, target: Any) -> None: ...
    def remove(self, target: Any) -> None: ...
    def __len__(self) -> int: ...
    def forward(
        self,
        data: bytes,
        csrc_end: int,
        payload_start: int,
        payload_end: int,
        sequence_number: int,
        timestamp: int,
        marker: bool,
        frame_done: bool,
        blocks: tuple[bytes, ...],
        second: int,
        start: int = 0,
        stop: int = -1,
    ) -> int: ...


def check_target_fields(
    ssrc: int, payload_type: int, seq_offset: int, ts_offset: int, first_seq: int, block_index: int
) -> None:
    """Raise ValueError unless every field fits its RTP width (the native module checks alike)."""
    limits = {
        "ssrc": (ssrc, 0xFFFFFFFF),
        "payload_type": (payload_type, 0x7F),
        "seq_offset": (seq_offset, 0xFFFF),
        "ts_offset": (ts_offset, 0xFFFFFFFF),
        "first_seq": (first_seq, 0xFFFF),
        "block_index": (block_index, 0xFFFF),
    }
    for name, (value, limit) in limits.items():
        if not 0 <= value <= limit:
            raise ValueError(f"{name} out of range: {value}")


class PyFanoutTarget:
    """The reference target: ``rewrite_rtp``, ``session.protect``, ``transport.sendto``."""

    __slots__ = (
        "packets",
        "bytes",
        "frames",
        "sent_packets",
        "sent_octets",
        "last_timestamp",
        "send_errors",
        "ssrc",
        "payload_type",
        "seq_offset",
        "ts_offset",
        "first_seq",
        "block_index",
        "closed",
        "_session",
        "_transport",
        "_remote_addr",
        "_marks",
        "_marked_second",
    )

    def __init__(
        self,
        session: SrtpSession,
        transport: asyncio.DatagramTransport,
        remote_addr: Address,
        *,
        ssrc: int,
        payload_type: int,
        seq_offset: int,
        ts_offset: int,
        first_seq: int,
        block_index: int,
    ) -> None:
        check_target_fields(ssrc, payload_type, seq_offset, ts_offset, first_seq, block_index)
        self.packets = self.bytes = self.frames = 0
        self.sent_packets = self.sent_octets = self.last_timestamp = self.send_errors = 0
        self.ssrc, self.payload_type, self.block_index = ssrc, payload_type, block_index
        self.seq_offset, self.ts_offset, self.first_seq = seq_offset, ts_offset, first_seq
        self.closed = False
        self._session = session
        self._transport = transport
        self._remote_addr = remote_addr
        self._marks: list[tuple[int, int]] = []
        self._marked_second = -1

    def take_counts(self) -> tuple[int, int, int]:
        """(packets, bytes, frames) since the previous call, then reset."""
        counts = (self.packets, self.bytes, self.frames)
        self.packets = self.bytes = self.frames = 0
        return counts

    def take_marks(self) -> list[tuple[int, int]]:
        """(unix second, first sequence number sent in it) since the previous call, oldest first."""
        marks, self._marks = self._marks, []
        return marks

    def set_route(self, transport: asyncio.DatagramTransport, remote_addr: Address) -> None:
        """Send through ``transport`` to ``remote_addr`` from now on (ICE renominated)."""
        self._transport, self._remote_addr = transport, remote_addr

    def close(self) -> None:
        """Never send again."""
        self.closed = True

    def send(self, view: RtpView, block: bytes, frame_done: bool, second: int) -> bool:
        """Rewrite, protect and send ``view``; False if skipped or failed (then counted)."""
        if self.closed or seq_diff(view.sequence_number, self.first_seq) < 0:
            return False
        if self._transport.is_closing():
            self.send_errors += 1
            return False
        sequence_number = seq_add(view.sequence_number, self.seq_offset)
        timestamp = ts_add(view.timestamp, self.ts_offset)
        packet = rewrite_rtp(
            view,
            ssrc=self.ssrc,
            sequence_number=sequence_number,
            timestamp=timestamp,
            payload_type=self.payload_type,
            extension_block=block,
        )
        try:
            if len(packet) > aiortc_hooks.SRTP_PLAIN_LIMIT:
                aiortc_hooks.widen_srtp_buffer(self._session)
            protected = self._session.protect(packet)
        except (ValueError, SrtpError):  # too long for the buffer / libsrtp refused it
            self.send_errors += 1
            return False
        self._transport.sendto(protected, self._remote_addr)
        self._count(len(protected), view.payload_end - view.payload_start, frame_done)
        self.last_timestamp = timestamp
        if second > self._marked_second:
            self._marked_second = second
            self._marks.append((second, sequence_number))
        return True

    def _count(self, size: int, payload_size: int, frame_done: bool) -> None:
        self.packets += 1
        self.bytes += size
        self.frames += frame_done
        self.sent_packets += 1
        self.sent_octets += payload_size


class PyFanout:
    """The reference fan-out: targets in the order they were added."""

    __slots__ = ("_targets",)

    def __init__(self) -> None:
        self._targets: list[PyFanoutTarget] = []

    def add(self, target: PyFanoutTarget) -> None:
        """Send to ``target`` from the next packet on (adding twice adds once)."""
        if not isinstance(target, PyFanoutTarget):
            raise TypeError("a PyFanout takes PyFanoutTarget objects")
        if target not in self._targets:
            self._targets.append(target)

    def remove(self, target: PyFanoutTarget) -> None:
        """Stop sending to ``target`` (ValueError if it is not here)."""
        self._targets.remove(target)

    def __len__(self) -> int:
        return len(self._targets)

    def forward(
        self,
        data: bytes,
        csrc_end: int,
        payload_start: int,
        payload_end: int,
        sequence_number: int,
        timestamp: int,
        marker: bool,
        frame_done: bool,
        blocks: tuple[bytes, ...],
        second: int,
        start: int = 0,
        stop: int = -1,
    ) -> int:
        """Send one published packet to targets[start:stop] (stop < 0: to the end).

        ``blocks[target.block_index]`` is the target's extension block (b"": none); ``second``
        the unix second for delivery marks. Returns the number of packets handed to the kernel.
        """
        check_packet_layout(data, csrc_end, payload_start, payload_end)
        targets = self._targets[start : len(self._targets) if stop < 0 else stop]
        check_blocks(blocks, targets)
        view = RtpView(
            data=data,
            marker=marker,
            payload_type=0,
            sequence_number=sequence_number & 0xFFFF,
            timestamp=timestamp & 0xFFFFFFFF,
            ssrc=0,
            csrc_end=csrc_end,
            extensions=(),
            payload_start=payload_start,
            payload_end=payload_end,
        )
        sent = 0
        for target in targets:
            sent += target.send(view, blocks[target.block_index], frame_done, second)
        return sent


def check_packet_layout(data: bytes, csrc_end: int, payload_start: int, payload_end: int) -> None:
    """Raise ValueError unless 12 <= csrc_end <= payload_start <= payload_end <= len(data)."""
    if not 12 <= csrc_end <= payload_start <= payload_end <= len(data):
        raise ValueError("inconsistent RTP packet offsets")


def check_blocks(blocks: tuple[bytes, ...], targets: Sequence[PyFanoutTarget]) -> None:
    """Raise before sending anything if a target's extension block is missing."""
    needed = max((target.block_index for target in targets), default=-1)
    if needed >= len(blocks):
        raise IndexError(f"no extension block {needed} (got {len(blocks)})")


def new_fanout(native: bool | None = None) -> Fanout:
    """A fan-out: the native one if ``native`` (None: whenever it is built), else the reference."""
    if _use_native(native):
        return _fanout.Fanout()
    return PyFanout()


def new_target(
    session: SrtpSession,
    transport: asyncio.DatagramTransport,
    remote_addr: Address,
    *,
    ssrc: int,
    payload_type: int,
    seq_offset: int,
    ts_offset: int,
    first_seq: int,
    block_index: int,
    native: bool | None = None,
) -> Target:
    """A target for :func:`new_fanout` (pass the same ``native``): one started down-track."""
    fields = {
        "ssrc": ssrc,
        "payload_type": payload_type,
        "seq_offset": seq_offset,
        "ts_offset": ts_offset,
        "first_seq": first_seq,
        "block_index": block_index,
    }
    if _use_native(native):
        context = aiortc_hooks.srtp_context_address(session)
        return _fanout.FanoutTarget(session, context, transport, remote_addr, **fields)
    return PyFanoutTarget(session, transport, remote_addr, **fields)


def forward_view(
    fanout: Fanout,
    view: RtpView,
    frame_done: bool,
    blocks: tuple[bytes, ...],
    second: int,
    start: int = 0,
    stop: int = -1,
) -> int:
    """:meth:`Fanout.forward` of a parsed packet: one call for targets[start:stop]."""
    return fanout.forward(
        view.data,
        view.csrc_end,
        view.payload_start,
        view.payload_end,
        view.sequence_number,
        view.timestamp,
        view.marker,
        frame_done,
        blocks,
        second,
        start,
        stop,
    )


def _use_native(native: bool | None) -> bool:
    if native and _fanout is None:
        raise RuntimeError("sfu._fanout is not built (pip install -e . builds it)")
    return NATIVE_AVAILABLE if native is None else native
