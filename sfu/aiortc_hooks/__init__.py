"""Every use of aiortc/aioice internals, in one place (this package; the send path: sending.py).

aiortc is pinned (==1.16.0) because of this package; ``tests/sfu/test_aiortc_hooks.py`` checks
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
- ``aioice.ice.Connection.get_component_candidates`` + ``StunProtocol`` + ``_protocols``: host
  candidates on the sfu's shared UDP port (sfu/udp_mux.py) instead of one new socket per
  connection; ``Connection._local_username``: a ufrag unique on that port (STUN is routed by it).
- ``pylibsrtp.Session._cdata``/``_buffer``: pylibsrtp protects into a fixed 1500-byte buffer,
  refusing packets above 1356 bytes; GStreamer's payloaders send 1400-byte packets by default,
  so a forwarding session gets a larger buffer.
- ``pylibsrtp.Session._srtp`` and ``srtp_protect`` of its bundled library: the native fan-out
  (sfu/_fanout.c) protects with the very libsrtp context aiortc created, by address.
- ``RTCPeerConnection.__certificates`` + ``RTCCertificate._create_ssl_context``, and
  ``RTCRtpReceiver.__jitter_buffer`` / ``__remote_bitrate_estimator``: memory per viewer
  (memory.py: one shared DTLS certificate and OpenSSL context; no receive state on a viewer's
  sendonly receivers).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import string
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextvars import ContextVar
from typing import Any

import aioice.ice
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpReceiveParameters
from aiortc.rtp import AnyRtcpPacket, RtcpRrPacket, RtcpSrPacket

from sfu.aiortc_hooks.memory import (
    SharedCertificate,
    drop_receive_state,
    sfu_peer_connection,
    shared_certificate,
)
from sfu.aiortc_hooks.sending import (
    SRTP_BUFFER,
    SRTP_PLAIN_LIMIT,
    RelayedTransport,
    SendRoute,
    intercept_sender_reports,
    ntp_time,
    send_route,
    srtp_context_address,
    srtp_protect_address,
    update_sender_report,
    widen_srtp_buffer,
)
from sfu.udp_mux import SharedTransport, UdpMux

__all__ = [
    "SRTP_BUFFER",
    "SRTP_PLAIN_LIMIT",
    "RelayedTransport",
    "SendRoute",
    "SharedCertificate",
    "drop_receive_state",
    "intercept_sender_reports",
    "ntp_time",
    "send_route",
    "sfu_peer_connection",
    "shared_certificate",
    "srtp_context_address",
    "srtp_protect_address",
    "update_sender_report",
    "widen_srtp_buffer",
]

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


def rtp_output(transport: RTCDtlsTransport) -> Callable[[bytes], bool]:
    """A synchronous "protect with SRTP and send" for one DTLS transport (retransmissions).

    Returns False (nothing sent) until the transport is connected over a nominated pair; sends
    the way the fan-out does, on the route :func:`send_route` gives (TURN relay pairs included).
    """

    def send(data: bytes) -> bool:
        route = send_route(transport)
        if route is None:
            return False
        route.transport.sendto(route.session.protect(data), route.remote_addr)
        return True

    return send


def enlarge_receive_buffers(pc: RTCPeerConnection, size: int) -> None:
    """Set SO_RCVBUF on the UDP sockets of ``pc`` (call after the local description is set)."""
    for transport in dtls_transports(pc):
        for protocol in transport.transport._connection._protocols:
            sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
            if sock is not None and sock.type == socket.SOCK_DGRAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


# --- single-port ICE (sfu/udp_mux.py) ----------------------------------------------------------

_original_component_candidates = aioice.ice.Connection.get_component_candidates
_gather_mux: ContextVar[UdpMux | None] = ContextVar("sfu_gather_mux", default=None)


class MuxedStunProtocol(aioice.ice.StunProtocol):
    """aioice's per-socket protocol, fed by the mux; its transport sends on the shared socket."""

    transport: SharedTransport

    async def request(
        self,
        request: aioice.stun.Message,
        addr: tuple[str, int],
        integrity_key: bytes | None = None,
        retransmissions: int | None = None,
    ) -> tuple[aioice.stun.Message, tuple[str, int]]:
        # The response carries no USERNAME and may come from an address not bound yet.
        self.transport.expect_response(request.transaction_id)
        try:
            return await super().request(request, addr, integrity_key, retransmissions)
        finally:
            self.transport.forget_response(request.transaction_id)


MUX_UFRAG_LENGTH = 8
_UFRAG_CHARS = string.ascii_letters + string.digits


def new_ufrag() -> str:
    return "".join(secrets.choice(_UFRAG_CHARS) for _ in range(MUX_UFRAG_LENGTH))


def _claim_ufrag(connection: aioice.ice.Connection, mux: UdpMux) -> None:
    """Give ``connection`` a ufrag no other connection on ``mux`` has.

    aioice's 4 random characters collide (~3 % among 1,000 connections), and the mux routes
    STUN by ufrag. Called before gathering ends; aiortc reads the ufrag into the SDP after it.
    """
    if any(isinstance(p, MuxedStunProtocol) for p in connection._protocols):
        return  # claimed for an earlier component
    ufrag = new_ufrag()
    while mux.ufrag_taken(ufrag):
        ufrag = new_ufrag()
    connection._local_username = ufrag


def _muxed_protocol(
    connection: aioice.ice.Connection, mux: UdpMux, address: str, component: int
) -> MuxedStunProtocol | None:
    mux_socket = mux.socket_for(address)
    if mux_socket is None:
        return None
    protocol = MuxedStunProtocol(connection)
    protocol.connection_made(
        mux_socket.attach(protocol, connection.local_username, connection.local_password)
    )
    protocol.local_candidate = Candidate(
        foundation=candidate_foundation("host", "udp", address),
        component=component,
        transport="udp",
        priority=candidate_priority(component, "host"),
        host=address,
        port=mux.port,
        type="host",
    )
    return protocol


async def _reflexive_candidates(
    connection: aioice.ice.Connection, protocols: list[MuxedStunProtocol], within: float
) -> list[Candidate]:
    """Server-reflexive candidates of the muxed host candidates (IPv4, as aioice does)."""
    if not connection.stun_server:
        return []
    tasks = [
        asyncio.create_task(aioice.ice.server_reflexive_candidate(p, connection.stun_server))
        for p in protocols
        if ":" not in p.local_candidate.host
    ]
    if not tasks:
        return []
    done, pending = await asyncio.wait(tasks, timeout=within)
    for task in pending:
        task.cancel()
    return [task.result()[0] for task in done if task.exception() is None]


async def _get_component_candidates(
    self: aioice.ice.Connection,
    component: int,
    addresses: list[str],
    timeout: int = 5,  # noqa: ASYNC109 (aioice's signature)
) -> list[Candidate]:
    mux = _gather_mux.get()
    if mux is None or not addresses:
        return await _original_component_candidates(self, component, addresses, timeout)
    _claim_ufrag(self, mux)
    protocols = [
        protocol
        for address in addresses
        if (protocol := _muxed_protocol(self, mux, address, component)) is not None
    ]
    self._protocols += protocols
    candidates = [p.local_candidate for p in protocols]
    candidates += await _reflexive_candidates(self, protocols, timeout)
    # No host addresses left: aioice only adds a TURN relay candidate, if configured.
    return candidates + await _original_component_candidates(self, component, [], timeout)


def install_udp_mux_hook() -> None:
    """Let :func:`gather_through` put host candidates on a UdpMux (idempotent)."""
    if aioice.ice.Connection.get_component_candidates is not _get_component_candidates:
        aioice.ice.Connection.get_component_candidates = _get_component_candidates  # type: ignore[method-assign]


@contextlib.contextmanager
def gather_through(mux: UdpMux | None) -> Iterator[None]:
    """Within this block aioice's host candidates use ``mux``'s sockets (None: its own).

    A context variable, like :func:`gather_on`: other peer connections are unaffected.
    """
    token = _gather_mux.set(mux)
    try:
        yield
    finally:
        _gather_mux.reset(token)
