"""The probe reports only sane figures: a Chromium recording (ms time base) is not 1000 fps."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import pytest

from recorder import probe
from recorder.probe import sane_frame_rate
from tests.recorder.support.pattern_media import make_source, record_like_chromium


def test_a_recording_with_a_millisecond_time_base_probes_at_its_real_frame_rate(
    tmp_path: Path,
) -> None:
    part = record_like_chromium(tmp_path, seconds=4.0, fps=20)
    with av.open(str(part)) as container:  # the trap: what FFmpeg itself makes of the file
        video = container.streams.video[0]
        assert video.time_base == Fraction(1, 1000) and video.guessed_rate == 1000
    result = probe(part)
    assert result.frame_rate == pytest.approx(20, rel=0.05)
    assert result.duration_s == pytest.approx(4.0, abs=0.2)
    assert (result.width, result.height, result.video_codec) == (320, 240, "vp8")
    assert result.audio_codec == "opus" and result.bit_rate > 0


def test_a_stated_frame_rate_is_kept(tmp_path: Path) -> None:
    assert probe(make_source(tmp_path / "ntsc.mp4", seconds=1.0, fps=24)).frame_rate == 24


@pytest.mark.parametrize(
    ("rate", "sane"),
    [
        (Fraction(30000, 1001), 29.97),
        (60, 60.0),
        (1, 1.0),
        (240, 240.0),
        (1000, None),
        (Fraction(90000, 1), None),
        (0.5, None),
        (0, None),
        (None, None),
        (math.nan, None),
        (math.inf, None),
        (-30, None),
    ],
)
def test_only_rates_a_video_can_have_pass(
    rate: Fraction | float | None, sane: float | None
) -> None:
    assert sane_frame_rate(rate) == sane
