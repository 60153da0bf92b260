"""ArchiveWriter: encoded VP8/Opus frames with RTP timestamps → a playable Matroska part."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import pytest

from recorder.archive import ArchiveWriter, part_name
from recorder.rtp_time import TrackClock, unwrap
from sfu import EncodedFrame as Frame
from tests.recorder.support.pattern_media import (
    encode_opus_packets,
    encode_vp8_packets,
    read_counter,
)

FPS = 30
VIDEO_RTP_START = (1 << 32) - 90_000  # wraps one second into the part
AUDIO_RTP_START = (1 << 32) - 4_800  # wraps after 0.1 s
FIRST_FED = 10  # frames 10..29 are not keyframes: the part must start at frame 30
FIRST_KEYFRAME = 30
LOST = range(75, 90)  # packet loss up to the next keyframe (90): a gap of 0.5 s
LAST = 149


class ArrivalClock:
    """Arrival times as the test feeds frames (the writer reads it once per frame)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def live_feed() -> list[tuple[float, Frame]]:
    """(arrival s, frame) for VP8 video and Opus audio, in arrival order, with loss."""
    feed: list[tuple[float, Frame]] = []
    for index, keyframe, payload in encode_vp8_packets(LAST + 1, fps=FPS):
        if index < FIRST_FED or index in LOST:
            continue
        ts = (VIDEO_RTP_START + index * 90_000 // FPS) % (1 << 32)
        feed.append((index / FPS, Frame("video", "VP8", 90_000, ts, keyframe, payload)))
    for n, payload in enumerate(encode_opus_packets((LAST + 1) / FPS)):
        ts = (AUDIO_RTP_START + n * 960) % (1 << 32)
        feed.append((n * 0.02 + 0.003, Frame("audio", "opus", 48_000, ts, True, payload)))
    feed.sort(key=lambda item: item[0])
    return feed


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ArchiveWriter]:
    clock = ArrivalClock()
    writer = ArchiveWriter(tmp_path_factory.mktemp("rec"), 1, clock=clock)
    calls: list[str] = []

    def watch(frame, event, arg):  # every C-level call made while writing
        if event == "c_call":
            calls.append(getattr(arg, "__qualname__", str(arg)))

    for arrival, frame in live_feed():
        clock.now = arrival
        sys.setprofile(watch)
        try:
            writer.write(frame)
        finally:
            sys.setprofile(None)
    writer.calls = calls  # type: ignore[attr-defined]
    path = writer.close()
    assert path is not None
    return path, writer


def test_unwrap_follows_the_32_bit_wrap() -> None:
    assert unwrap((1 << 32) - 10, 5) == (1 << 32) + 5
    assert unwrap((1 << 32) + 5, (1 << 32) - 10) == (1 << 32) - 10
    clock = TrackClock(90_000)
    assert clock.ticks((1 << 32) - 3000, 0.0) == 0
    assert clock.ticks(3000, 0.5) == 6000  # RTP time rules, not the jittery arrival


def test_a_sender_clock_reset_re_anchors_on_arrival() -> None:
    clock = TrackClock(48_000)
    clock.ticks(1_000, 0.0)
    assert clock.ticks(2_000_000_000, 1.0) == 48_000
    assert clock.resyncs == 1


def test_part_is_named_by_session_and_starts_at_a_keyframe(written) -> None:
    path, writer = written
    assert path.name == part_name(1) == "part-0001.mkv"
    with av.open(str(path)) as container:
        first = next(container.decode(video=0))
    assert read_counter(first) == FIRST_KEYFRAME
    assert first.time == pytest.approx(0.0, abs=0.001)
    assert writer.frames_dropped >= FIRST_KEYFRAME - FIRST_FED


def test_video_timing_and_pattern_survive_wrap_and_gap(written) -> None:
    path, _ = written
    with av.open(str(path)) as container:
        assert [s.codec_context.name for s in container.streams] == ["vp8", "opus"]
        assert container.duration / av.time_base == pytest.approx(
            (LAST + 1 - FIRST_KEYFRAME) / FPS, abs=0.1
        )
        frames = list(container.decode(video=0))
    expected = [i for i in range(FIRST_KEYFRAME, LAST + 1) if i not in LOST]
    assert [read_counter(f) for f in frames] == expected
    for f in frames:  # each picture shows at its real time, across the wrap and the gap
        assert f.time == pytest.approx((read_counter(f) - FIRST_KEYFRAME) / FPS, abs=0.002)
    assert (frames[0].width, frames[0].height) == (640, 480)


def test_audio_is_kept_and_lines_up(written) -> None:
    path, _ = written
    with av.open(str(path)) as container:
        audio = list(container.decode(audio=0))
    assert audio[0].time == pytest.approx(0.0, abs=0.05)
    end = audio[-1].time + audio[-1].samples / audio[-1].sample_rate
    assert end == pytest.approx((LAST + 1 - FIRST_KEYFRAME) / FPS, abs=0.1)


def test_writer_only_remuxes(written) -> None:
    path, writer = written
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context is not None  # reading side decodes
    calls = set(writer.calls)
    assert "OutputContainer.mux" in calls  # the hook does see PyAV's calls
    forbidden = [
        c
        for c in calls
        if "CodecContext" in c or c.split(".")[-1] in {"encode", "decode"} and "str" not in c
    ]
    assert not forbidden
    assert all(s.codec_context is None for s in writer._streams.values())


def test_nothing_written_gives_no_part(tmp_path: Path) -> None:
    writer = ArchiveWriter(tmp_path, 2)
    writer.write(Frame("video", "VP8", 90_000, 0, False, b"\x00" * 20))
    assert writer.close() is None
    assert not (tmp_path / "part-0002.mkv").exists()
