"""Header rewrite and extension mapping, checked against aiortc's own RTP parser."""

from __future__ import annotations

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from sfu.rtp_rewrite import (
    build_extension_block,
    map_extensions,
    parse_rtp,
    rewrite_rtp,
    rtx_prefix,
    seq_add,
    seq_diff,
    unwrap_rtx,
)

MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def extensions_map(ids: dict[str, int]) -> HeaderExtensionsMap:
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[RTCRtpHeaderExtensionParameters(id=i, uri=u) for u, i in ids.items()]
        )
    )
    return extensions


def publisher_packet(padding: int = 0) -> bytes:
    packet = RtpPacket(payload_type=96, sequence_number=65534, timestamp=0xFFFFFF00, ssrc=1111)
    packet.marker = 1
    packet.extensions.mid = "0"
    packet.extensions.abs_send_time = 0x123456
    packet.payload = b"\x10\x02" + bytes(range(200))
    packet.padding_size = padding
    return packet.serialize(extensions_map({MID: 4, ABS: 3}))


def test_parse_reads_header_fields_and_extensions() -> None:
    view = parse_rtp(publisher_packet())
    assert (view.payload_type, view.sequence_number, view.timestamp, view.ssrc, view.marker) == (
        96,
        65534,
        0xFFFFFF00,
        1111,
        True,
    )
    assert dict(view.extensions) == {4: b"0", 3: bytes.fromhex("123456")}
    assert view.payload == b"\x10\x02" + bytes(range(200))


def test_rewrite_changes_only_what_the_subscriber_needs() -> None:
    view = parse_rtp(publisher_packet(padding=7))
    block = map_extensions(view, {3: 9}, extra=((2, b"1"),))
    out = rewrite_rtp(
        view, ssrc=42, sequence_number=7, timestamp=99, payload_type=100, extension_block=block
    )
    parsed = RtpPacket.parse(out, extensions_map({MID: 2, ABS: 9}))
    assert (parsed.ssrc, parsed.sequence_number, parsed.timestamp, parsed.payload_type) == (
        42,
        7,
        99,
        100,
    )
    assert parsed.marker == 1
    assert parsed.extensions.mid == "1"
    assert parsed.extensions.abs_send_time == 0x123456
    assert parsed.payload == view.payload
    assert parsed.padding_size == 0


def test_rewrite_without_extensions_clears_the_x_bit() -> None:
    view = parse_rtp(publisher_packet())
    out = rewrite_rtp(
        view, ssrc=1, sequence_number=2, timestamp=3, payload_type=96, extension_block=b""
    )
    assert out[0] & 0x10 == 0
    assert RtpPacket.parse(out).payload == view.payload


def test_rtx_round_trip() -> None:
    view = parse_rtp(publisher_packet())
    rtx = rewrite_rtp(
        view,
        ssrc=5,
        sequence_number=300,
        timestamp=view.timestamp,
        payload_type=97,
        extension_block=b"",
        payload_prefix=rtx_prefix(view.sequence_number),
    )
    original = unwrap_rtx(parse_rtp(rtx), payload_type=96, ssrc=1111)
    assert (original.sequence_number, original.payload_type, original.ssrc) == (65534, 96, 1111)
    assert original.payload == view.payload


def test_sequence_arithmetic_wraps() -> None:
    assert seq_add(65535, 2) == 1
    assert seq_diff(1, 65535) == 2
    assert seq_diff(65535, 1) == -2


def test_extension_block_is_word_aligned_and_skips_invalid_elements() -> None:
    block = build_extension_block([(1, b"ab"), (15, b"x"), (2, b"")])
    assert len(block) % 4 == 0
    assert block[:2] == b"\xbe\xde"
    assert block[4:7] == bytes([0x11]) + b"ab"
    assert build_extension_block([]) == b""


@pytest.mark.parametrize("data", [b"", b"\x80" * 11, b"\x00" * 12, b"\x90\x60" + b"\x00" * 12])
def test_malformed_packets_are_rejected(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_rtp(data)
