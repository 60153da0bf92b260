"""Every use of aiortc/aioice internals, in one place.

aiortc is pinned (==1.16.0) because of this module; ``tests/sfu/test_aiortc_hooks.py`` checks
that each attribute used here still exists with the expected signature, so an upgrade fails
loudly instead of silently decoding, re-encoding or gathering on the wrong interfaces.

Hooks, and why each is needed:
- ``aioice.ice.get_host_addresses``: choose the interfaces host candidates are gathered on
  (aioice always omits 127.0.0.1 and has no per-connection setting).
- ``RTCDtlsTransport._set_role``: answer ``a=setup:passive`` (RSA-certificate publishers).
- ``RTCDtlsTransport._handle_rtp_data``: take decrypted RTP bytes before aiortc parses them.
- ``RTCRtpReceiver.receive`` + ``__stop_decoder``: end the idle decoder thread aiortc starts;
  with it gone, the receiver never hands frames to a decoder.
- ``RTCRtpReceiver._send_rtcp_pli``: ask the publisher for a keyframe.
- ``RTCRtpSender._send_keyframe`` / ``_retransmit``: a viewer's PLI/FIR and NACK.
- ``RTCRtpSender._handle_rtcp_packet``: a viewer's receiver reports (what it acknowledges).
- ``RTCRtpSender._ssrc`` / ``_rtx_ssrc`` and the sender-report counters: our packets are the
  sender's packets, so its RTCP sender reports must describe them.
- ``RTCDtlsTransport._tx_srtp`` + ``aioice.Connection._nominated``: protect and send an RTP
  packet synchronously (the coroutine chain of ``_send_rtp`` costs more than the send itself).
- ``RTCRtpSender._send_rtcp``: refresh an RTCP SR with the fan-out's counters as it leaves.
- ``RTCDtlsTransport._tx_srtp`` + the nominated pair's transport (:func:`send_route`): the
  fan-out (sfu/fanout.py) protects with aiortc's SRTP session and sends on the pair's socket.
- ``pylibsrtp.Session._cdata``/``_buffer``: pylibsrtp protects into a fixed 1500-byte buffer,
  refusing packets above 1356 bytes; GStreamer's payloaders send 1400-byte packets by default,
  so a forwarding session gets a larger buffer.
- ``pylibsrtp.Session._srtp`` and ``srtp_protect`` of its bundled library: the native fan-out
  (sfu/_fanout.c) protects with the very libsrtp context aiortc created, by address.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import socket
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aioice.ice
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, clock
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from aiortc.rtcrtpparameters import RTCRtpReceiveParameters
from aiortc.rtp import AnyRtcpPacket, RtcpRrPacket, RtcpSenderInfo, RtcpSrPacket
from pylibsrtp import Session as SrtpSession
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

_fallback_get_host_addresses = aioice.ice.get_host_addresses
_host_addresses: ContextVar[tuple[str, ...] | None] = ContextVar("sfu_host_addresses", default=None)


def _get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    configured = _host_addresses.get()
    if configured is None:
        return _fallback_get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    return list(configured)


def install_host_address_hook() -> None:
    """Let :func:`gather_on` decide aioice's host addresses (idempotent).

    Outside :func:`gather_on` the function found at install time is used, so whatever the
    process configured for its other peer connections (e.g. test clients) keeps working.
    """
    global _fallback_get_host_addresses
    if aioice.ice.get_host_addresses is not _get_host_addresses:
        _fallback_get_host_addresses = aioice.ice.get_host_addresses
        aioice.ice.get_host_addresses = _get_host_addresses


@contextlib.contextmanager
def gather_on(addresses: tuple[str, ...]) -> Iterator[None]:
    """Within this block (and tasks it starts) aioice gathers host candidates on ``addresses``.

    An empty tuple keeps aioice's default. A context variable, not a global, so test clients
    and other peer connections in the same process are unaffected.
    """
    token = _host_addresses.set(addresses or None)
    try:
        yield
    finally:
        _host_addresses.reset(token)


def dtls_transports(pc: RTCPeerConnection) -> list[RTCDtlsTransport]:
    """The distinct DTLS transports of a peer connection (one with BUNDLE)."""
    transports: list[RTCDtlsTransport] = []
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        if transport not in transports:
            transports.append(transport)
    if pc.sctp is not None and pc.sctp.transport not in transports:
        transports.append(pc.sctp.transport)
    return transports


def answer_as_dtls_server(pc: RTCPeerConnection) -> None:
    """Make the next answer carry ``a=setup:passive`` (call after setRemoteDescription)."""
    for transport in dtls_transports(pc):
        transport._set_role("server")


def intercept_rtp(transport: RTCDtlsTransport, callback: Callable[[bytes], None]) -> None:
    """Hand every decrypted RTP packet to ``callback`` before aiortc's own handling."""
    original = transport._handle_rtp_data

    async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
        callback(data)
        await original(data, arrival_time_ms=arrival_time_ms)

    transport._handle_rtp_data = handle_rtp_data  # type: ignore[method-assign]


def disable_decoder(receiver: RTCRtpReceiver) -> None:
    """Stop the decoder thread as soon as ``receive`` starts it; no frame is ever decoded.

    aiortc queues frames for decoding only while that thread exists, and creates a decoder only
    inside it, so no decoder is ever instantiated.
    """
    original = receiver.receive

    async def receive(parameters: RTCRtpReceiveParameters) -> None:
        await original(parameters)
        # Name-mangled, so undeclared in aiortc's type hints (attr-defined).
        receiver._RTCRtpReceiver__stop_decoder()  # type: ignore[attr-defined]

    receiver.receive = receive  # type: ignore[method-assign]


def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> Awaitable[None]:
    """Send an RTCP PLI for ``media_ssrc`` to the publisher."""
    return receiver._send_rtcp_pli(media_ssrc)


def intercept_sender(
    sender: RTCRtpSender,
    on_keyframe_request: Callable[[], None],
    on_nack: Callable[[int], Coroutine[Any, Any, None]],
) -> None:
    """Route a viewer's PLI/FIR and NACKed sequence numbers to us instead of aiortc's encoder."""
    # Replacing private methods on purpose (method-assign); aiortc calls _retransmit(seq)
    # positionally, so a callable without the parameter's name fits (assignment).
    sender._send_keyframe = on_keyframe_request  # type: ignore[method-assign]
    sender._retransmit = on_nack  # type: ignore[method-assign, assignment]


def intercept_receiver_reports(sender: RTCRtpSender, on_report: Callable[[int], None]) -> None:
    """Call ``on_report(highest sequence number)`` for each RR/SR block about this sender."""
    original = sender._handle_rtcp_packet
    ssrc = sender._ssrc

    async def handle_rtcp_packet(packet: AnyRtcpPacket) -> None:
        if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            for report in packet.reports:
                if report.ssrc == ssrc:
                    on_report(report.highest_sequence)
        await original(packet)

    sender._handle_rtcp_packet = handle_rtcp_packet  # type: ignore[method-assign]


def sender_ssrcs(sender: RTCRtpSender) -> tuple[int, int]:
    """(media SSRC, RTX SSRC) announced in the SDP for this sender."""
    return sender._ssrc, sender._rtx_ssrc


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


def rtp_output(transport: RTCDtlsTransport) -> Callable[[bytes], bool]:
    """A synchronous "protect with SRTP and send" for one DTLS transport.

    Returns False (nothing sent) while the transport is not connected. Host and server-reflexive
    pairs are sent with ``sendto`` directly; a TURN relay pair goes through aioice's coroutine.
    """
    connection = transport.transport._connection

    def send(data: bytes) -> bool:
        # _state, not the .state property: that one formats a string on every call.
        if transport._state is not State.CONNECTED:
            return False
        pair = connection._nominated.get(1)
        if pair is None:
            return False
        srtp = transport._tx_srtp
        if len(data) > SRTP_PLAIN_LIMIT:
            widen_srtp_buffer(srtp)
        protected = srtp.protect(data)
        protocol = pair.protocol
        if type(protocol) is aioice.ice.StunProtocol:
            protocol.transport.sendto(protected, pair.remote_addr)
        else:
            asyncio.ensure_future(protocol.send_data(protected, pair.remote_addr))
        return True

    return send


SRTP_PLAIN_LIMIT = 1356  # pylibsrtp: its 1500-byte buffer minus the largest SRTP trailer
SRTP_BUFFER = 2048  # room for a 1500-byte packet (a full Ethernet MTU) plus the trailer


def widen_srtp_buffer(session: SrtpSession) -> None:
    """Let ``session`` protect packets up to SRTP_BUFFER minus its trailer (idempotent)."""
    if len(session._cdata) < SRTP_BUFFER:
        session._cdata = srtp_ffi.new("char[]", SRTP_BUFFER)
        session._buffer = srtp_ffi.buffer(session._cdata)


def enlarge_receive_buffers(pc: RTCPeerConnection, size: int) -> None:
    """Set SO_RCVBUF on the UDP sockets of ``pc`` (call after the local description is set)."""
    for transport in dtls_transports(pc):
        for protocol in transport.transport._connection._protocols:
            sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
            if sock is not None and sock.type == socket.SOCK_DGRAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


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
