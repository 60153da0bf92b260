"""Keyframe detection and depacketising on payloads produced by aiortc's own encoders."""

from __future__ import annotations

import fractions

import av
import numpy as np
import pytest
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from sfu.depacketize import FrameAssembler, h264_depacketize, vp8_depacketize
from sfu.keyframes import h264_starts_keyframe, starts_keyframe, vp8_starts_keyframe
from sfu.rtp_rewrite import RtpView, parse_rtp, rewrite_rtp

CODECS = {
    "VP8": RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96),
    "H264": RTCRtpCodecParameters(
        mimeType="video/H264",
        clockRate=90000,
        payloadType=102,
        parameters={"packetization-mode": "1", "profile-level-id": "42e01f"},
    ),
}


def encoded_frames(codec: str, count: int = 4) -> list[list[bytes]]:
    """RTP payloads of ``count`` frames (the first one a keyframe) from aiortc's encoder."""
    encoder = get_encoder(CODECS[codec])
    frames = []
    for i in range(count):
        image = np.full((240, 320, 3), (i * 40) % 256, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = i * 3000, fractions.Fraction(1, 90000)
        payloads, _ = encoder.encode(frame, force_keyframe=(i == 0))
        frames.append(payloads)
    return frames


def packets(frames: list[list[bytes]]) -> list[RtpView]:
    views = []
    seq = 0
    for number, payloads in enumerate(frames):
        for i, payload in enumerate(payloads):
            header = bytes([0x80, (0x80 if i == len(payloads) - 1 else 0) | 96])
            header += seq.to_bytes(2, "big") + (number * 3000).to_bytes(4, "big") + bytes(4)
            views.append(parse_rtp(header + payload))
            seq += 1
    return views


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_only_the_first_packet_of_a_keyframe_starts_one(codec: str) -> None:
    frames = encoded_frames(codec)
    assert starts_keyframe(codec, frames[0][0])
    assert not any(starts_keyframe(codec, p) for frame in frames[1:] for p in frame)
    if codec == "VP8":
        assert not any(vp8_starts_keyframe(p) for p in frames[0][1:])


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_assembled_frames_decode_to_the_encoded_images(codec: str) -> None:
    frames = encoded_frames(codec)
    assembler = FrameAssembler("video", codec, 90000)
    assembled = [f for f in (assembler.push(v) for v in packets(frames)) if f is not None]
    assert [f.keyframe for f in assembled] == [True, False, False, False]
    decoder = av.CodecContext.create(codec.lower(), "r")
    levels = []
    for frame in assembled:
        for picture in decoder.decode(av.Packet(frame.payload)):
            levels.append(round(float(picture.to_ndarray(format="gray").mean()) / 40))
    for picture in decoder.decode(None):
        levels.append(round(float(picture.to_ndarray(format="gray").mean()) / 40))
    assert levels == [0, 1, 2, 3]


def test_a_lost_packet_drops_frames_until_the_next_keyframe() -> None:
    views = packets(encoded_frames("VP8", 3) + encoded_frames("VP8", 2))
    lost_frame_start = next(i for i, v in enumerate(views) if v.timestamp == 3000)
    del views[lost_frame_start]
    assembler = FrameAssembler("video", "VP8", 90000)
    assembled = [f for f in (assembler.push(v) for v in views) if f is not None]
    # Frames 0 (key), then 1 and 2 are dropped, then the second keyframe and its successor.
    assert [f.keyframe for f in assembled] == [True, True, False]


def test_h264_depacketize_handles_stap_a_and_fu_a() -> None:
    sps, pps = b"\x67\x42\x00\x1f", b"\x68\xce\x38\x80"
    stap = bytes([24]) + len(sps).to_bytes(2, "big") + sps + len(pps).to_bytes(2, "big") + pps
    assert h264_depacketize(stap) == b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps
    assert h264_starts_keyframe(stap)
    fu_start = bytes([0x7C, 0x85]) + b"abc"
    assert h264_depacketize(fu_start) == b"\x00\x00\x00\x01\x65abc"
    assert h264_depacketize(bytes([0x7C, 0x05]) + b"def") == b"def"
    assert h264_starts_keyframe(fu_start)
    assert not h264_starts_keyframe(bytes([0x7C, 0x81]) + b"abc")  # FU-A of a non-IDR slice


def test_vp8_descriptor_with_picture_id_is_stripped() -> None:
    payload = bytes([0x90, 0x80, 0x80 | 0x12, 0x34]) + bytes([0x10, 0x02, 0x9D])
    assert vp8_depacketize(payload) == bytes([0x10, 0x02, 0x9D])
    assert vp8_starts_keyframe(payload)


def test_audio_passes_through() -> None:
    view = parse_rtp(bytes([0x80, 111, 0, 1]) + bytes(8) + b"opus")
    frame = FrameAssembler("audio", "opus", 48000).push(view)
    assert frame is not None and frame.payload == b"opus" and not frame.keyframe
    assert rewrite_rtp(
        view, ssrc=1, sequence_number=1, timestamp=1, payload_type=111, extension_block=b""
    ).endswith(b"opus")


def resent(view: RtpView) -> RtpView:
    """The same packet again, as an RTX retransmission or a bandwidth probe delivers it."""
    return parse_rtp(bytes(view.data))


def padding_only(sequence_number: int, timestamp: int) -> RtpView:
    """A padding-only packet (no payload) that takes a sequence number, as browsers send."""
    header = bytes([0xA0, 96]) + sequence_number.to_bytes(2, "big") + timestamp.to_bytes(4, "big")
    return parse_rtp(header + bytes(4) + bytes(19) + b"\x14")


def test_resent_and_padding_packets_never_break_a_frame() -> None:
    views = packets(encoded_frames("VP8", 4))
    # Chromium probes bandwidth by resending earlier packets, mid-frame and between frames,
    # and pads with payload-less packets; sequence numbers shift past each padding packet.
    second = next(i for i, v in enumerate(views) if v.timestamp == 3000)
    arrival = [*views[: second + 1], resent(views[0]), resent(views[second]), *views[second + 1 :]]
    last = arrival[-1]
    pad = padding_only(last.sequence_number + 1, last.timestamp)
    tail = packets(encoded_frames("VP8", 1))  # a new keyframe after the padding
    shifted = [
        parse_rtp(
            bytes(v.data[:2])
            + (last.sequence_number + 2 + i).to_bytes(2, "big")
            + bytes(v.data[4:])
        )
        for i, v in enumerate(tail)
    ]
    assembler = FrameAssembler("video", "VP8", 90000)
    assembled = [f for f in (assembler.push(v) for v in [*arrival, pad, *shifted]) if f]
    assert [f.keyframe for f in assembled] == [True, False, False, False, True]


def test_a_sender_that_restarts_its_sequence_numbers_is_followed() -> None:
    first = packets(encoded_frames("VP8", 2))
    restarted = [
        parse_rtp(bytes(v.data[:2]) + (40_000 + i).to_bytes(2, "big") + bytes(v.data[4:]))
        for i, v in enumerate(packets(encoded_frames("VP8", 2)))
    ]
    assembler = FrameAssembler("video", "VP8", 90000)
    views = [*restarted, *first]  # 40000.. then 0..: 25536 behind, far past any late packet
    assembled = [f for f in (assembler.push(v) for v in views) if f]
    assert [f.keyframe for f in assembled] == [True, False, True, False]


def test_the_tap_asks_for_a_keyframe_as_soon_as_a_frame_is_lost() -> None:
    from sfu.tap import StreamTap

    requests: list[int] = []
    tap = StreamTap({"video": ("VP8", 90000)}, lambda: requests.append(1), lambda _tap: None)
    views = packets(encoded_frames("VP8", 4))
    lost = next(i for i, v in enumerate(views) if v.timestamp == 6000)
    for view in views[:lost]:
        tap.push("video", view)
    assert len(requests) == 1  # joining asks once; whole frames ask nothing
    for view in views[lost + 1 :]:
        tap.push("video", view)
    assert len(requests) >= 2  # the loss asks again, without waiting for a natural keyframe
