"""Fails loudly if an aiortc/aioice upgrade removes or changes what sfu/aiortc_hooks/ uses."""

from __future__ import annotations

import asyncio
import datetime
import inspect
from types import SimpleNamespace

import aioice.ice
import aioice.turn
import pylibsrtp
import pytest
from aiortc import (
    RTCCertificate,
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    clock,
)
from aiortc.rtcdtlstransport import State
from aiortc.rtp import (
    AnyRtcpPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
)
from OpenSSL import SSL

from sfu import aiortc_hooks
from sfu.aiortc_hooks import memory


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def source(function: object) -> str:
    return inspect.getsource(function)  # type: ignore[arg-type]


@pytest.fixture
async def dtls() -> RTCDtlsTransport:
    ice = RTCIceTransport(RTCIceGatherer())
    return RTCDtlsTransport(ice, [RTCCertificate.generateCertificate()])


def test_aioice_host_addresses_and_sending() -> None:
    assert parameters(aioice.ice.get_host_addresses) == ["use_ipv4", "use_ipv6"]
    assert "get_host_addresses(" in source(aioice.ice.Connection.gather_candidates)
    connection = aioice.ice.Connection(ice_controlling=False)
    assert connection._nominated == {} and connection._protocols == []
    assert "self._nominated.get(component)" in source(aioice.ice.Connection.sendto)
    assert "self.transport.sendto(data, addr)" in source(aioice.ice.StunProtocol.send_data)
    assert "self.protocol = protocol" in source(aioice.ice.CandidatePair.__init__)
    assert isinstance(aioice.ice.CandidatePair.remote_addr, property)


async def test_dtls_transport_hooks(dtls: RTCDtlsTransport) -> None:
    assert parameters(dtls._set_role) == ["role"]
    dtls._set_role("server")
    assert dtls._role == "server"
    assert parameters(dtls._handle_rtp_data) == ["data", "arrival_time_ms"]
    assert "_handle_rtp_data(data" in source(RTCDtlsTransport._recv_next)
    assert "self._tx_srtp.protect(data)" in source(RTCDtlsTransport._send_rtp)
    assert "self._state != State.CONNECTED" in source(RTCDtlsTransport._send_rtp)
    assert dtls._state is State.NEW
    assert dtls.transport._connection is not None
    assert hasattr(dtls.transport._connection, "_protocols")
    # The media description takes the DTLS role we set (a=setup:passive).
    assert "media.dtls.role = dtlsTransport._role" in inspect.getsource(RTCPeerConnection)


async def test_receiver_hooks(dtls: RTCDtlsTransport) -> None:
    receiver = RTCRtpReceiver("video", dtls)
    assert parameters(receiver.receive) == ["parameters"]
    assert callable(receiver._RTCRtpReceiver__stop_decoder)
    assert receiver._RTCRtpReceiver__decoder_thread is None
    assert parameters(receiver._send_rtcp_pli) == ["media_ssrc"]
    handler = source(RTCRtpReceiver._handle_rtp_packet)
    # Frames reach a decoder only while the decoder thread exists.
    assert "if encoded_frame is not None and self.__decoder_thread:" in handler
    assert "get_decoder(" in source(inspect.getmodule(RTCRtpReceiver).decoder_worker)


async def test_sender_hooks(dtls: RTCDtlsTransport) -> None:
    sender = RTCRtpSender("video", dtls)
    assert isinstance(sender._ssrc, int) and isinstance(sender._rtx_ssrc, int)
    assert parameters(sender._send_keyframe) == []
    assert parameters(sender._retransmit) == ["sequence_number"]
    rtcp = source(RTCRtpSender._handle_rtcp_packet)
    assert "await self._retransmit(seq)" in rtcp and "self._send_keyframe()" in rtcp
    for counter in ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count"):
        assert getattr(sender, f"_RTCRtpSender__{counter}") == 0
    aiortc_hooks.update_sender_report(sender, rtp_timestamp=5, packets=6, octets=7)
    assert sender._RTCRtpSender__packet_count == 6
    assert "self.__packet_count & 0xFFFFFFFF" in source(RTCRtpSender._run_rtcp)
    # Receiver reports reach the sender through this method (the DTLS transport's RTCP router).
    assert parameters(sender._handle_rtcp_packet) == ["packet"]
    assert "recipient._handle_rtcp_packet(packet)" in source(RTCDtlsTransport._handle_rtcp_data)
    reports: list[int] = []
    aiortc_hooks.intercept_receiver_reports(sender, reports.append)
    block = RtcpReceiverInfo(
        ssrc=sender._ssrc,
        fraction_lost=0,
        packets_lost=0,
        highest_sequence=70_000,
        jitter=0,
        lsr=0,
        dlsr=0,
    )
    other = RtcpReceiverInfo(
        ssrc=sender._ssrc + 1,
        fraction_lost=0,
        packets_lost=0,
        highest_sequence=5,
        jitter=0,
        lsr=0,
        dlsr=0,
    )
    await sender._handle_rtcp_packet(RtcpRrPacket(ssrc=1, reports=[block, other]))
    assert reports == [70_000]


async def test_gather_on_overrides_host_addresses_only_inside_the_block() -> None:
    aiortc_hooks.install_host_address_hook()
    default = aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
    with aiortc_hooks.gather_on(("127.0.0.1",)):
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == default


def test_srtp_buffer_widening_protects_gstreamer_sized_packets() -> None:
    key = bytes(range(30))
    sender = pylibsrtp.Session(
        pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    )
    receiver = pylibsrtp.Session(
        pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)
    )
    header = bytes([0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 42])
    packet = header + bytes(1400 - len(header))  # GStreamer's default payloader MTU
    with pytest.raises(ValueError, match="too long"):
        sender.protect(packet)  # pylibsrtp as shipped: its 1500-byte buffer is too small
    aiortc_hooks.widen_srtp_buffer(sender)
    aiortc_hooks.widen_srtp_buffer(receiver)
    assert receiver.unprotect(sender.protect(packet)) == packet


def test_srtp_addresses_for_the_native_fanout() -> None:
    from pylibsrtp._binding import ffi, lib

    session = pylibsrtp.Session(
        pylibsrtp.Policy(key=bytes(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    )
    assert ffi.typeof(session._srtp) is ffi.typeof("srtp_t *")
    assert aiortc_hooks.srtp_context_address(session) == int(
        ffi.cast("uintptr_t", session._srtp[0])
    )
    assert aiortc_hooks.srtp_context_address(session) != 0
    assert ffi.typeof(lib.srtp_protect) is ffi.typeof("srtp_err_status_t(*)(srtp_t, void *, int *)")
    assert aiortc_hooks.srtp_protect_address() != 0


async def test_sender_report_hook_rebuilds_the_sr_from_our_counters(dtls: RTCDtlsTransport) -> None:
    sender = RTCRtpSender("video", dtls)
    run_rtcp = source(RTCRtpSender._run_rtcp)
    # aiortc builds its SR from these counters, remembers its id, then hands it to _send_rtcp.
    assert "ntp_timestamp=self.__ntp_timestamp" in run_rtcp
    assert "self.__lsr = ((self.__ntp_timestamp) >> 16) & 0xFFFFFFFF" in run_rtcp
    assert "await self._send_rtcp(packets)" in run_rtcp
    assert parameters(sender._send_rtcp) == ["packets"]
    assert sender._RTCRtpSender__lsr is None
    sent: list[list[AnyRtcpPacket]] = []

    async def capture(packets: list[AnyRtcpPacket]) -> None:
        sent.append(packets)

    sender._send_rtcp = capture  # type: ignore[method-assign]
    sent_at = 1_700_000_000.25

    def refresh(s: RTCRtpSender) -> None:
        aiortc_hooks.update_sender_report(s, 90_000, packets=12, octets=3_400, sent_at=sent_at)

    aiortc_hooks.intercept_sender_reports(sender, refresh)
    stale = RtcpSenderInfo(ntp_timestamp=0, rtp_timestamp=0, packet_count=0, octet_count=0)
    await sender._send_rtcp([RtcpSrPacket(ssrc=sender._ssrc, sender_info=stale)])
    info = sent[0][0].sender_info  # type: ignore[union-attr]
    assert (info.rtp_timestamp, info.packet_count, info.octet_count) == (90_000, 12, 3_400)
    assert clock.datetime_from_ntp(info.ntp_timestamp).timestamp() == pytest.approx(sent_at)
    assert sender._RTCRtpSender__lsr == (info.ntp_timestamp >> 16) & 0xFFFFFFFF


async def test_send_route_reads_the_nominated_pair_and_tells_relays_apart(
    dtls: RTCDtlsTransport,
) -> None:
    assert "self._tx_srtp.protect(data)" in source(RTCDtlsTransport._send_rtp)
    assert aiortc_hooks.send_route(dtls) is None  # not connected yet
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, ("127.0.0.1", 0))
    session = pylibsrtp.Session(
        pylibsrtp.Policy(key=bytes(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    )
    dtls._tx_srtp = session
    dtls._state = State.CONNECTED
    connection = dtls.transport._connection
    try:
        for transport, direct in ((udp, True), (TurnLike(), False)):
            pair = SimpleNamespace(protocol=SimpleNamespace(transport=transport))
            pair.remote_addr = ("127.0.0.1", 9)
            connection._nominated[1] = pair
            route = aiortc_hooks.send_route(dtls)
            assert route is not None
            assert (route.session, route.remote_addr, route.direct) == (
                session,
                ("127.0.0.1", 9),
                direct,
            )
            assert route.via is transport
            assert (route.transport is transport) == direct  # a relay is wrapped
    finally:
        udp.close()
    assert "self.transport.sendto(data, addr)" in source(aioice.ice.StunProtocol.send_data)
    # A relayed pair's transport is aioice's TurnTransport: no socket of ours, no is_closing
    # (which the Python fan-out calls), hence RelayedTransport.
    assert not hasattr(aioice.turn.TurnTransport, "is_closing")
    assert parameters(aioice.turn.TurnTransport.sendto) == ["self", "data", "addr"]
    assert parameters(aioice.turn.TurnTransport.get_extra_info) == ["self", "name", "default"]
    turn = TurnLike()
    relayed = aiortc_hooks.RelayedTransport(turn)
    assert not relayed.is_closing()
    relayed.sendto(b"x", ("192.0.2.1", 5))
    assert turn.sent == [(b"x", ("192.0.2.1", 5))]


class TurnLike:
    """What aioice's TurnTransport offers the send path: sendto, and no socket."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append((data, addr))

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


def test_aioice_internals_the_udp_mux_uses() -> None:
    gather = source(aioice.ice.Connection.gather_candidates)
    assert "self.get_component_candidates(component=component, addresses=addresses)" in gather
    assert parameters(aioice.ice.Connection.get_component_candidates) == [
        "self",
        "component",
        "addresses",
        "timeout",
    ]
    # aioice's own gathering: host sockets, then STUN and TURN; ours replaces only the first.
    own = source(aiortc_hooks._original_component_candidates)
    assert "create_datagram_endpoint(" in own and "StunProtocol(self)" in own
    assert "relayed_candidate(" in own and "for protocol in host_protocols" in own
    assert parameters(aioice.ice.server_reflexive_candidate) == ["protocol", "stun_server"]
    assert parameters(aioice.ice.StunProtocol.request) == [
        "self",
        "request",
        "addr",
        "integrity_key",
        "retransmissions",
    ]
    assert "self.transport = " in source(aioice.ice.StunProtocol.connection_made)
    assert "self.transport.close()" in source(aioice.ice.StunProtocol.close)
    assert "await protocol.close()" in source(aioice.ice.Connection.close)
    connection = aioice.ice.Connection(ice_controlling=False)
    assert connection.local_username == connection._local_username and connection.local_password


async def test_gather_through_applies_only_inside_the_block() -> None:
    from sfu.udp_mux import UdpMux

    aiortc_hooks.install_udp_mux_hook()
    mux = UdpMux(("127.0.0.1",), 0)
    await mux.start()
    try:
        inside = aioice.ice.Connection(ice_controlling=False)
        outside = aioice.ice.Connection(ice_controlling=False)
        with aiortc_hooks.gather_through(mux), aiortc_hooks.gather_on(("127.0.0.1",)):
            await inside.gather_candidates()
        with aiortc_hooks.gather_on(("127.0.0.1",)):
            await outside.gather_candidates()
        assert [c.port for c in inside.local_candidates] == [mux.port]
        assert len(inside.local_username) == aiortc_hooks.MUX_UFRAG_LENGTH
        assert [c.port for c in outside.local_candidates] != [mux.port]
        assert mux.stats().connections == 1
        await inside.close()
        await outside.close()
        assert mux.stats().connections == 0
    finally:
        await mux.close()


async def test_connections_on_one_mux_never_share_a_ufrag(monkeypatch: pytest.MonkeyPatch) -> None:
    from sfu.udp_mux import UdpMux

    drawn = iter(["SameSame", "SameSame", "Distinct"])
    monkeypatch.setattr(aiortc_hooks, "new_ufrag", lambda: next(drawn))
    aiortc_hooks.install_udp_mux_hook()
    mux = UdpMux(("127.0.0.1",), 0)
    await mux.start()
    connections = [aioice.ice.Connection(ice_controlling=False) for _ in range(2)]
    try:
        with aiortc_hooks.gather_through(mux), aiortc_hooks.gather_on(("127.0.0.1",)):
            for connection in connections:
                await connection.gather_candidates()
        assert [c.local_username for c in connections] == ["SameSame", "Distinct"]
        # aiortc puts the connection's ufrag into the SDP after gathering.
        assert "self._connection.local_username" in source(RTCIceGatherer.getLocalParameters)
    finally:
        for connection in connections:
            await connection.close()
        await mux.close()


async def test_memory_hooks_internals(dtls: RTCDtlsTransport) -> None:
    pc = RTCPeerConnection()
    certificates = pc._RTCPeerConnection__certificates  # type: ignore[attr-defined]
    assert len(certificates) == 1 and isinstance(certificates[0], RTCCertificate)
    create = pc._RTCPeerConnection__createDtlsTransport  # type: ignore[attr-defined]
    assert "RTCDtlsTransport(iceTransport, self.__certificates)" in source(create)
    assert "self.__local_certificate._create_ssl_context(" in source(RTCDtlsTransport.start)
    assert parameters(RTCCertificate._create_ssl_context) == ["self", "srtp_profiles"]
    receiver = RTCRtpReceiver("video", dtls)
    assert receiver._RTCRtpReceiver__jitter_buffer.capacity == 512  # type: ignore[attr-defined]
    assert receiver._RTCRtpReceiver__remote_bitrate_estimator is not None  # type: ignore[attr-defined]
    handle = source(RTCRtpReceiver._handle_rtp_packet)
    assert "if self.__remote_bitrate_estimator is not None:" in handle
    assert "self.__jitter_buffer.add(packet)" in handle
    assert "_register_rtp_receiver(self, parameters)" in source(RTCRtpReceiver.receive)
    await pc.close()


def test_shared_certificate_shares_one_lean_openssl_context() -> None:
    assert aiortc_hooks.shared_certificate() is aiortc_hooks.shared_certificate()
    # A certificate of its own: pyOpenSSL refuses set_mode (the only way to read the mode) on a
    # context that made a connection, and the process-wide one may have served earlier tests.
    certificate = aiortc_hooks.SharedCertificate(RTCCertificate.generateCertificate())
    profiles = RTCDtlsTransport(RTCIceTransport(RTCIceGatherer()), [certificate])._srtp_profiles
    context = certificate._create_ssl_context(profiles)
    assert certificate._create_ssl_context(list(profiles)) is context
    assert context.set_mode(0) & SSL.MODE_RELEASE_BUFFERS
    assert context.get_session_cache_mode() == SSL.SESS_CACHE_OFF


def test_shared_certificate_is_renewed_at_half_its_lifetime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aged = aiortc_hooks.SharedCertificate(RTCCertificate.generateCertificate())
    lifetime = aged.expires - aged._cert.not_valid_before_utc
    monkeypatch.setattr(memory, "_shared", aged)
    assert aiortc_hooks.shared_certificate() is aged
    later = datetime.datetime.now(tz=datetime.UTC) + lifetime / 2
    monkeypatch.setattr(
        memory, "datetime", SimpleNamespace(datetime=FixedNow(later), UTC=datetime.UTC)
    )
    renewed = aiortc_hooks.shared_certificate()
    assert renewed is not aged and renewed.getFingerprints() != aged.getFingerprints()


class FixedNow:
    def __init__(self, now: datetime.datetime) -> None:
        self._now = now

    def now(self, tz: datetime.tzinfo) -> datetime.datetime:
        return self._now


async def test_drop_receive_state_frees_the_estimator_and_jitter_buffer(
    dtls: RTCDtlsTransport,
) -> None:
    receiver = RTCRtpReceiver("video", dtls)
    aiortc_hooks.drop_receive_state(receiver)
    assert receiver._RTCRtpReceiver__remote_bitrate_estimator is None  # type: ignore[attr-defined]
    assert receiver._RTCRtpReceiver__jitter_buffer.capacity == 2  # type: ignore[attr-defined]
