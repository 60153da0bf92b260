"""H.264 recordings: the picture size comes from the SPS, and the part decodes at that size."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from recorder.archive import ArchiveWriter
from recorder.h264_sps import h264_picture_size, nal_units
from sfu import EncodedFrame
from tests.recorder.support.pattern_media import pattern_frame, read_counter


def encode_h264(frames: int, width: int, height: int, profile: str) -> list[tuple[bool, bytes]]:
    """(keyframe, Annex-B access unit) as a WebRTC H.264 sender would hand them over."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.gop_size = 15
    encoder.profile = profile
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency"}
    out = []
    for i in [*range(frames), None]:
        frame = None
        if i is not None:
            frame = pattern_frame(i, width, height)
            frame.pts = i
        out += [(p.is_keyframe, bytes(p)) for p in encoder.encode(frame)]
    return out


@pytest.mark.parametrize(
    ("width", "height", "profile"),
    [
        (320, 240, "Baseline"),
        (1280, 720, "High"),
        (640, 360, "Main"),
        (854, 480, "High"),
    ],
)
def test_sps_gives_the_encoded_size(width: int, height: int, profile: str) -> None:
    keyframe = next(data for key, data in encode_h264(1, width, height, profile) if key)
    assert any(nal[0] & 0x1F == 7 for nal in nal_units(keyframe))
    assert h264_picture_size(keyframe) == (width, height)


def test_no_sps_means_unknown() -> None:
    delta = [data for key, data in encode_h264(5, 320, 240, "Baseline") if not key]
    assert h264_picture_size(delta[0]) is None


def test_h264_part_decodes_at_the_right_size(tmp_path: Path) -> None:
    access_units = encode_h264(45, 640, 360, "Main")
    writer = ArchiveWriter(tmp_path, 1)
    for index, (keyframe, payload) in enumerate(access_units):
        writer.write(EncodedFrame("video", "H264", 90_000, index * 3000, keyframe, payload))
    path = writer.close()
    assert path is not None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
    assert (frames[0].width, frames[0].height) == (640, 360)
    assert [read_counter(f) for f in frames] == list(range(45))
