"""The send path around aiortc: synchronous RTP sends, SRTP sessions, RTCP sender reports.

Part of sfu/aiortc_hooks (its docstring says why each hook exists); the sfu forwards RTP
without aiortc's sender, so what aiortc would do per packet (protect, send, count for SRs) is
done here or in the fan-out (sfu/fanout.py, sfu/_fanout.c) with aiortc's own objects.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpSender, clock
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from aiortc.rtp import AnyRtcpPacket, RtcpSenderInfo, RtcpSrPacket
from pylibsrtp import Session as SrtpSession
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib


def update_sender_report(
    sender: RTCRtpSender,
    rtp_timestamp: int,
    packets: int,
    octets: int,
    sent_at: float | None = None,
) -> None:
    """Make aiortc's periodic RTCP SR describe the packets we sent.

    ``sent_at``: the unix time the packet with ``rtp_timestamp`` was sent (default: now), so
    the SR pairs each RTP timestamp with its own wall clock.
    """
    ntp = clock.current_ntp_time() if sent_at is None else ntp_time(sent_at)
    # Name-mangled private attributes, which aiortc's type hints do not declare (attr-defined).
    sender._RTCRtpSender__ntp_timestamp = ntp  # type: ignore[attr-defined]
    sender._RTCRtpSender__rtp_timestamp = rtp_timestamp  # type: ignore[attr-defined]
    sender._RTCRtpSender__packet_count = packets  # type: ignore[attr-defined]
    sender._RTCRtpSender__octet_count = octets  # type: ignore[attr-defined]


SRTP_PLAIN_LIMIT = 1356  # pylibsrtp: its 1500-byte buffer minus the largest SRTP trailer
SRTP_BUFFER = 2048  # room for a 1500-byte packet (a full Ethernet MTU) plus the trailer


def widen_srtp_buffer(session: SrtpSession) -> None:
    """Let ``session`` protect packets up to SRTP_BUFFER minus its trailer (idempotent)."""
    if len(session._cdata) < SRTP_BUFFER:
        session._cdata = srtp_ffi.new("char[]", SRTP_BUFFER)
        session._buffer = srtp_ffi.buffer(session._cdata)


def srtp_context_address(session: SrtpSession) -> int:
    """The address of ``session``'s libsrtp context (``srtp_t``), for native code to protect with.

    Valid while ``session`` lives: whoever uses the address keeps a reference to the session.
    """
    return int(srtp_ffi.cast("uintptr_t", session._srtp[0]))


def srtp_protect_address() -> int:
    """The address of ``srtp_protect`` in the libsrtp 2.x that pylibsrtp bundles.

    Its signature: ``srtp_err_status_t srtp_protect(srtp_t, void *packet, int *length)``.
    """
    return int(srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, "srtp_protect")))


# --- the fan-out's route and sender reports (sfu/fanout.py sends around aiortc) ---------------


def ntp_time(unix_time: float) -> int:
    """A unix time as a 64-bit NTP timestamp (what an RTCP SR carries)."""
    return clock.datetime_to_ntp(datetime.datetime.fromtimestamp(unix_time, datetime.UTC))


@dataclass(frozen=True)
class SendRoute:
    """Where a subscriber's RTP goes: its SRTP session and the nominated ICE pair's transport.

    direct: ``transport`` is a UDP socket of ours (the native fan-out can ``sendmmsg`` on it);
    False for a TURN relay pair (aioice relays the data: only the Python fan-out sends there).
    via: the pair's own transport, to tell when ICE moved to another pair.
    """

    session: SrtpSession
    transport: asyncio.DatagramTransport
    remote_addr: tuple[str, int]
    direct: bool
    via: object


class RelayedTransport(asyncio.DatagramTransport):
    """aioice's TurnTransport as a datagram transport (it lacks ``is_closing``)."""

    def __init__(self, turn: Any) -> None:
        super().__init__()
        self._turn = turn

    def is_closing(self) -> bool:
        return False  # TurnTransport.sendto itself ignores data once its allocation is gone

    def sendto(self, data: Any, addr: Any = None) -> None:
        self._turn.sendto(data, addr)


def send_route(transport: RTCDtlsTransport) -> SendRoute | None:
    """The route RTP takes on ``transport``; None until DTLS is connected over a nominated pair.

    The SRTP session is aiortc's own (``_tx_srtp``): retransmissions through :func:`rtp_output`
    and the fan-out share it, as they must (one rollover counter per SSRC).
    """
    if transport._state is not State.CONNECTED:
        return None
    pair = transport.transport._connection._nominated.get(1)
    if pair is None:
        return None
    session = transport._tx_srtp
    widen_srtp_buffer(session)
    via = pair.protocol.transport
    if via.get_extra_info("socket") is not None:
        return SendRoute(session, via, pair.remote_addr, True, via)
    return SendRoute(session, RelayedTransport(via), pair.remote_addr, False, via)


def intercept_sender_reports(sender: RTCRtpSender, refresh: Callable[[RTCRtpSender], None]) -> None:
    """Call ``refresh(sender)`` right before each RTCP SR of ``sender`` leaves.

    aiortc builds its SR from counters it updates per packet it sends itself; ours go around
    it, so ``refresh`` sets them (:func:`update_sender_report`) and the SR is rebuilt from them.
    """
    original = sender._send_rtcp

    async def send_rtcp(packets: list[AnyRtcpPacket]) -> None:
        first = packets[0] if packets else None
        if isinstance(first, RtcpSrPacket) and first.ssrc == sender._ssrc:
            refresh(sender)
            first.sender_info = _sender_info(sender)
            # The SR id aiortc matches receiver reports' LSR against (round-trip time).
            sender._RTCRtpSender__lsr = (  # type: ignore[attr-defined]
                first.sender_info.ntp_timestamp >> 16
            ) & 0xFFFFFFFF
        await original(packets)

    sender._send_rtcp = send_rtcp  # type: ignore[method-assign]


def _sender_info(sender: RTCRtpSender) -> RtcpSenderInfo:
    """The SR sender info from aiortc's counters (as its own _run_rtcp builds it)."""
    return RtcpSenderInfo(
        ntp_timestamp=sender._RTCRtpSender__ntp_timestamp,  # type: ignore[attr-defined]
        rtp_timestamp=sender._RTCRtpSender__rtp_timestamp,  # type: ignore[attr-defined]
        packet_count=sender._RTCRtpSender__packet_count & 0xFFFFFFFF,  # type: ignore[attr-defined]
        octet_count=sender._RTCRtpSender__octet_count & 0xFFFFFFFF,  # type: ignore[attr-defined]
    )
