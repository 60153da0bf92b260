"""Offer handling: errors, ICE candidates from settings, DTLS role, codecs."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from aiortc import AudioStreamTrack, RTCRtpSender

from sfu import (
    AlreadyPublishing,
    BadCandidate,
    IceSettings,
    NotLive,
    Sfu,
    SfuError,
    UnknownPeer,
    UnsupportedOffer,
    aiortc_hooks,
)
from sfu.peering import INGEST_RCVBUF
from tests.sfu.support.peers import start_publisher, start_viewer
from tests.support.rtc_peers import PatternTrack, client_pc

RMEM_MAX = int(Path("/proc/sys/net/core/rmem_max").read_text())


async def offer(video_codec: str | None = "VP8", audio: bool = False, recv: bool = False) -> str:
    """An aiortc offer (sendonly publisher, or recvonly viewer with ``recv``)."""
    pc = client_pc()
    direction = "recvonly" if recv else "sendonly"
    if video_codec:
        transceiver = pc.addTransceiver("video" if recv else PatternTrack(), direction=direction)
        codecs = RTCRtpSender.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in codecs if c.name == video_codec])
    if audio:
        pc.addTransceiver("audio" if recv else AudioStreamTrack(), direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def candidate_addresses(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


@pytest.mark.parametrize("garbage", ["", "hello", "v=0\r\n", "<html></html>"])
async def test_non_sdp_is_unsupported(sfu: Sfu, garbage: str) -> None:
    with pytest.raises(UnsupportedOffer):
        await sfu.publish("s", garbage)
    assert not sfu.is_live("s")


async def test_offer_without_video_is_unsupported(sfu: Sfu) -> None:
    with pytest.raises(UnsupportedOffer, match="no video"):
        await sfu.publish("s", await offer(video_codec=None, audio=True))
    assert not sfu.is_live("s")


async def test_offer_with_unforwardable_codec_is_unsupported(sfu: Sfu) -> None:
    vp9 = (await offer("VP8")).replace("VP8/90000", "VP9/90000")
    with pytest.raises(UnsupportedOffer, match="VP9"):
        await sfu.publish("s", vp9)
    assert not sfu.is_live("s")


async def test_second_publisher_is_refused(sfu: Sfu) -> None:
    await sfu.publish("s", await offer())
    with pytest.raises(AlreadyPublishing):
        await sfu.publish("s", await offer())


async def test_subscribing_to_an_idle_stream_is_not_live(sfu: Sfu) -> None:
    with pytest.raises(NotLive):
        await sfu.subscribe("idle", await offer(recv=True))


async def test_viewer_without_the_publishers_codec_is_unsupported(sfu: Sfu) -> None:
    await sfu.publish("s", await offer("VP8"))
    with pytest.raises(UnsupportedOffer):
        await sfu.subscribe("s", await offer("H264", recv=True))
    assert sfu.subscribers("s") == []


async def test_answers_carry_only_configured_addresses_and_setup_passive() -> None:
    # No loopback patch here: aioice alone would offer this machine's other interfaces.
    server = Sfu(IceSettings(host_addresses=("127.0.0.1",)))
    try:
        _, published = await server.publish("s", await offer(audio=True))
        _, viewed = await server.subscribe("s", await offer(recv=True, audio=True))
        for answer in (published, viewed):
            assert candidate_addresses(answer) == {"127.0.0.1"}
            setups = re.findall(r"a=setup:(\w+)", answer)
            assert setups and set(setups) == {"passive"}
            assert "stun" not in answer.lower()
    finally:
        await server.close()


async def test_announced_address_replaces_candidate_addresses() -> None:
    server = Sfu(IceSettings(host_addresses=("127.0.0.1",), announced_address="203.0.113.7"))
    try:
        _, answer = await server.publish("s", await offer())
        assert candidate_addresses(answer) == {"203.0.113.7"}
        assert "127.0.0.1" not in answer
    finally:
        await server.close()


async def test_h264_publisher_is_forwarded_as_h264(sfu: Sfu) -> None:
    publisher = await start_publisher(sfu, "h", codec="H264")
    viewer = await start_viewer(sfu, "h")
    try:
        assert "H264/90000" in viewer.answer and "VP8" not in viewer.answer
        await viewer.wait_frames(20)
        assert viewer.garbled <= 2
        assert max(viewer.numbers) <= publisher.track.sent
    finally:
        await viewer.close()
        await publisher.pc.close()


async def test_trickled_candidates_are_accepted_for_known_peers_only(sfu: Sfu) -> None:
    publisher_id, _ = await sfu.publish("s", await offer())
    await sfu.add_ice_candidates(
        publisher_id,
        "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\n"
        "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n"
        "a=end-of-candidates\r\n",
    )
    with pytest.raises(UnknownPeer):
        await sfu.add_ice_candidates("nobody", "a=end-of-candidates\r\n")
    with pytest.raises(BadCandidate):
        await sfu.add_ice_candidates(publisher_id, "a=candidate:garbage\r\n")


MALFORMED_CANDIDATES = [
    "a=candidate:garbage",
    "a=candidate:",
    "a=candidate:1 1 udp x 127.0.0.1 50000 typ host",
    "a=candidate:1 1 udp 1 not-an-address 50000 typ host",
    "a=candidate:1 1 udp 1 300.1.1.1 50000 typ host",
    "a=candidate:1 1 udp 1 127.0.0.1 99999999 typ host",
    "a=candidate:1 1 udp 1 127.0.0.1 -5 typ host",
    "a=candidate:1 1 udp 1 127.0.0.1 5000 typ",
    "a=candidate:1 1 udp 1 127.0.0.1 5000 typ weird",
    "a=candidate:1 1 udp 1 127.0.0.1 5000 typ srflx raddr 1.2.3.4 rport y",
]


@pytest.mark.parametrize("line", MALFORMED_CANDIDATES)
async def test_malformed_candidates_are_refused_in_trickle_and_offers(sfu: Sfu, line: str) -> None:
    publisher_id, _ = await sfu.publish("s", await offer())
    with pytest.raises(BadCandidate):
        await sfu.add_ice_candidates(publisher_id, f"a=mid:0\r\n{line}\r\n")
    end = "a=end-of-candidates"
    viewer_offer = (await offer(recv=True)).replace(end, f"{line}\r\n{end}")
    with pytest.raises(UnsupportedOffer):
        await sfu.subscribe("s", viewer_offer)
    assert sfu.subscribers("s") == []


async def test_well_formed_candidates_the_sfu_cannot_use_are_ignored(sfu: Sfu) -> None:
    publisher_id, _ = await sfu.publish("s", await offer())
    await sfu.add_ice_candidates(
        publisher_id,
        "a=candidate:1 1 tcp 1 127.0.0.1 5000 typ host tcptype active\r\n"
        "a=candidate:2 2 udp 1 127.0.0.1 5001 typ host\r\n"
        "a=candidate:3 1 udp 1 ::1 5002 typ host\r\n",
    )


async def test_ingest_socket_gets_a_large_receive_buffer(sfu: Sfu) -> None:
    publisher_id, _ = await sfu.publish("s", await offer())
    pc = next(p.pc for p in sfu._publishers.values() if p.publisher_id == publisher_id)
    allowed = min(RMEM_MAX, INGEST_RCVBUF)
    for transport in aiortc_hooks.dtls_transports(pc):
        for protocol in transport.transport._connection._protocols:
            sock = protocol.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= allowed


CORRUPTIONS = [  # (pattern, replacement): values aiortc parses but may choke on later
    (r"a=group:BUNDLE .*", "a=group:BUNDLE 7 8"),
    (r"a=mid:\S+", "a=mid:"),
    (r"a=setup:\S+", "a=setup:junk"),
    (r"a=fingerprint:\S+ \S+", "a=fingerprint:md5 AA:BB"),
    (r"a=extmap:\d+", "a=extmap:300"),
    (r"(m=\w+ \d+ \S+) .*", r"\1 72"),
    (r"a=rtpmap:(\d+) [^/]+/", r"a=rtpmap:\1 VP9/"),
    (r"a=fmtp:(\d+) .*", r"a=fmtp:\1 ;;==;profile-level-id=zz"),
    (r"a=ice-ufrag:.*", "a=ice-ufrag:x"),
    (r"a=(sendonly|recvonly)", "a=inactive"),
    (r"c=IN IP4 .*", "c=IN IP4 x"),
]


def without_each_line(sdp: str) -> list[str]:
    lines = sdp.split("\r\n")
    deleted = ["\r\n".join(lines[:i] + lines[i + 1 :]) for i in range(len(lines)) if lines[i]]
    return deleted + [re.sub(pattern, value, sdp) for pattern, value in CORRUPTIONS]


async def test_offers_missing_any_one_line_are_answered_or_unsupported(sfu: Sfu) -> None:
    """Issue 10 item 16: whatever line an offer lacks (a=setup made aiortc raise
    AttributeError) or garbles, the sfu answers or raises an SfuError (a 4xx in signaling)."""
    publisher_offer = await offer(audio=True)
    for number, mutated in enumerate(without_each_line(publisher_offer)):
        try:
            await sfu.publish(f"mutant-{number}", mutated)
        except SfuError:
            pass
    await sfu.publish("s", publisher_offer)
    for mutated in without_each_line(await offer(recv=True, audio=True)):
        try:
            await sfu.subscribe("s", mutated)
        except SfuError:
            pass
    with pytest.raises(UnsupportedOffer, match="a=setup"):
        await sfu.publish("no-setup", publisher_offer.replace("a=setup:actpass\r\n", ""))
