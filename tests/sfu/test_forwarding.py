"""Forwarding with real aiortc peers on 127.0.0.1: content, late join, no decoder."""

from __future__ import annotations

import asyncio
import threading
import time

import aiortc.rtcrtpreceiver
import pytest
from aiortc import RTCRtpReceiver, clock
from aiortc.rtp import RTCP_RTPFB_NACK, AnyRtcpPacket, RtcpRtpfbPacket, RtcpSrPacket

from sfu import Sfu, aiortc_hooks
from sfu.negotiation import negotiated_tracks
from sfu.rtp_rewrite import parse_rtp
from tests.sfu.support.peers import (
    assert_live_pattern,
    both_fanouts,
    start_publisher,
    start_viewer,
)


@both_fanouts
async def test_three_viewers_decode_the_publishers_frames(
    sfu: Sfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[str] = []
    original = aiortc.rtcrtpreceiver.get_decoder

    def counting_get_decoder(codec):  # type: ignore[no-untyped-def]
        created.append(codec.name)
        return original(codec)

    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", counting_get_decoder)
    threads_before = len([t for t in threading.enumerate() if t.name.endswith("-decoder")])
    publisher = await start_publisher(sfu, "s1")
    viewers = [await start_viewer(sfu, "s1") for _ in range(3)]
    try:
        for viewer in viewers:
            await viewer.wait_frames(30)
        for viewer in viewers:
            assert viewer.garbled <= 2
            assert_live_pattern(viewer.numbers, publisher.track.sent)
        # Only the three viewers decode; the sfu created no decoder and runs no decoder thread.
        assert created == ["VP8"] * 3
        decoder_threads = [t for t in threading.enumerate() if t.name.endswith("-decoder")]
        assert len(decoder_threads) == threads_before + 3
        # Merged keyframe requests: a handful for three joins, not one per viewer and packet.
        assert 1 <= sfu.stats("s1")["keyframe_requests_sent"] <= 6
    finally:
        for viewer in viewers:
            await viewer.close()
        await publisher.pc.close()


@both_fanouts
async def test_late_viewer_gets_a_keyframe_and_decodes_within_2s(sfu: Sfu) -> None:
    publisher = await start_publisher(sfu, "late")
    early = await start_viewer(sfu, "late")
    try:
        await early.wait_frames(10)
        await asyncio.sleep(2.5)  # well past the publisher's last keyframe
        late = await start_viewer(sfu, "late")
        await late.wait_frames(1, within=2.0)
        assert late.first_frame_after is not None and late.first_frame_after < 2.0
        await late.wait_frames(25)
        assert late.garbled == 0 or late.garbled <= len(late.numbers) // 10
        assert_live_pattern(late.numbers, publisher.track.sent)
        await late.close()
    finally:
        await early.close()
        await publisher.pc.close()


@both_fanouts
async def test_nack_is_answered_with_rtx_and_sender_reports_describe_what_was_sent(
    sfu: Sfu,
) -> None:
    publisher = await start_publisher(sfu, "n")
    viewer = await start_viewer(sfu, "n")
    received: list[tuple[float, bytes]] = []
    transceiver = viewer.pc.getTransceivers()[0]
    transport = transceiver.receiver.transport
    aiortc_hooks.intercept_rtp(transport, lambda data: received.append((time.time(), data)))
    reports = spy_sender_reports(transceiver.receiver)
    try:
        await viewer.wait_frames(10)
        media = [parse_rtp(p) for _, p in received]
        rtx_pt = negotiated_tracks(viewer.answer)[transceiver.mid].rtx_payload_type
        assert rtx_pt is not None
        lost = media[-5]
        nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1234, media_ssrc=lost.ssrc)
        nack.lost = [lost.sequence_number]
        await transport._send_rtp(bytes(nack))
        await asyncio.sleep(0.3)
        resent = [v for v in (parse_rtp(p) for _, p in received) if v.payload_type == rtx_pt]
        assert len(resent) == 1
        assert resent[0].payload[:2] == lost.sequence_number.to_bytes(2, "big")
        assert resent[0].payload[2:] == lost.payload
        assert resent[0].ssrc != lost.ssrc

        for _ in range(40):  # RTCP interval is 0.5-1.5 s
            if len(reports) >= 2:
                break
            await asyncio.sleep(0.1)
        arrived_at, report = reports[-1]
        info = report.sender_info
        sent = [(at, v) for at, v in ((at, parse_rtp(p)) for at, p in received)]
        before = [v for at, v in sent if at <= arrived_at and v.ssrc == report.ssrc]
        # It counts the media packets sent up to it (retransmissions aside), no more...
        assert 0 < info.packet_count <= len(before) + 2
        assert info.packet_count >= len(before) - 10  # ...and not a stale count
        assert info.octet_count == sum(
            v.payload_end - v.payload_start for v in before[: info.packet_count]
        )
        # Its RTP timestamp is one that was sent, paired with the wall clock it was sent at.
        sent_at = [
            at for at, v in sent if v.ssrc == report.ssrc and v.timestamp == info.rtp_timestamp
        ]
        assert sent_at
        ntp = clock.datetime_from_ntp(info.ntp_timestamp).timestamp()
        assert abs(ntp - sent_at[-1]) < 0.5
    finally:
        await viewer.close()
        await publisher.pc.close()


def spy_sender_reports(receiver: RTCRtpReceiver) -> list[tuple[float, RtcpSrPacket]]:
    """RTCP sender reports reaching ``receiver``, with their arrival time."""
    reports: list[tuple[float, RtcpSrPacket]] = []
    original = receiver._handle_rtcp_packet

    async def handle_rtcp_packet(packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpSrPacket):
            reports.append((time.time(), packet))
        await original(packet)

    receiver._handle_rtcp_packet = handle_rtcp_packet  # type: ignore[method-assign]
    return reports
