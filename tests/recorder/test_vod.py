"""VOD processing on generated sources: probe, thumbnail, ladder, HLS."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from recorder import InvalidMedia, LadderSettings, plan_ladder, probe, process_video, thumbnail
from tests.recorder.support.pattern_media import make_source, read_counter

SECONDS = 3.5
FPS = 30


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("src") / "source.mp4", seconds=SECONDS, fps=FPS)


@pytest.fixture(scope="module")
def processed(source: Path, tmp_path_factory: pytest.TempPathFactory):
    calls: list[tuple[str, float, dict[str, float]]] = []
    media_root = tmp_path_factory.mktemp("media")
    result = process_video("vid-1", [source], media_root, on_progress=lambda *a: calls.append(a))
    return result, calls, media_root


def decoded(path: Path) -> tuple[list[av.VideoFrame], float]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        duration = container.duration / av.time_base
    return frames, duration


def test_probe_reports_the_source_figures(source: Path) -> None:
    result = probe(source)
    assert (result.width, result.height) == (640, 480)
    assert result.video_codec == "h264" and result.audio_codec == "aac"
    assert result.duration_s == pytest.approx(SECONDS, abs=0.1)
    assert result.frame_rate == pytest.approx(FPS)
    assert result.file_size == source.stat().st_size
    assert result.bit_rate > 0
    assert "mp4" in result.format_name


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"this is a text file, not a video\n" * 20, "not a media file"), (b"", "empty")],
)
def test_probe_rejects_a_non_video_with_a_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(content)
    with pytest.raises(InvalidMedia) as info:
        probe(fake)
    assert reason in info.value.reason


def test_process_video_rejects_a_text_file_without_writing_a_ladder(tmp_path: Path) -> None:
    fake = tmp_path / "upload.mp4"
    fake.write_text("<html>not a video</html>")
    with pytest.raises(InvalidMedia):
        process_video("bad", [fake], tmp_path / "media")
    assert not list((tmp_path / "media").rglob("*.mp4"))


def test_thumbnail_is_a_jpeg_of_the_frame_near_ten_percent(source: Path, tmp_path: Path) -> None:
    out = thumbnail(source, tmp_path / "t.jpg")
    data = out.read_bytes()
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    frames, _ = decoded(out)
    assert (frames[0].width, frames[0].height) == (640, 480)
    assert read_counter(frames[0]) == pytest.approx(SECONDS * 0.10 * FPS, abs=2)


@pytest.mark.parametrize(
    ("size", "names"),
    [
        ((1920, 1080), ["240p", "360p", "480p", "720p", "1080p"]),
        ((1280, 720), ["240p", "360p", "480p", "720p"]),
        ((640, 480), ["240p", "360p", "480p"]),
        ((854, 500), ["240p", "360p", "480p"]),
        ((256, 144), ["144p"]),
    ],
)
def test_ladder_never_upscales(size: tuple[int, int], names: list[str]) -> None:
    renditions = plan_ladder(*size)
    assert [r.name for r in renditions] == names
    assert all(r.height <= size[1] and r.width % 2 == 0 for r in renditions)


def test_ladder_bitrates_are_configurable() -> None:
    settings = LadderSettings(video_bitrates={240: 111_000, 480: 999_000})
    assert [(r.height, r.video_bitrate) for r in plan_ladder(640, 480, settings)] == [
        (240, 111_000),
        (480, 999_000),
    ]


def test_renditions_exist_only_up_to_the_source_height(processed) -> None:
    result, _, media_root = processed
    assert [r.rendition.name for r in result.renditions] == ["240p", "360p", "480p"]
    video_dir = media_root / "videos" / "vid-1"
    assert sorted(p.name for p in video_dir.glob("*.mp4")) == ["240p.mp4", "360p.mp4", "480p.mp4"]
    assert result.thumbnail_path == video_dir / "thumbnail.jpg"


def test_each_mp4_decodes_at_its_height_and_duration(processed) -> None:
    result, _, _ = processed
    for r in result.renditions:
        frames, duration = decoded(r.mp4_path)
        assert {f.height for f in frames} == {r.rendition.height}
        assert duration == pytest.approx(SECONDS, abs=0.5)
        assert [read_counter(f) for f in frames] == list(range(round(SECONDS * FPS)))
        with av.open(str(r.mp4_path)) as container:
            assert [s.type for s in container.streams] == ["video", "audio"]
        head = r.mp4_path.read_bytes()
        assert head.find(b"moov") < head.find(b"mdat"), "MP4 must be fast-start"


def test_hls_renditions_play_and_master_lists_them(processed) -> None:
    result, _, _ = processed
    master = result.master_playlist.read_text().splitlines()
    stream_infs = [line for line in master if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(stream_infs) == 3
    for r, info in zip(result.renditions, stream_infs, strict=True):
        assert f"RESOLUTION={r.rendition.width}x{r.rendition.height}" in info
        bandwidth = int(info.split("BANDWIDTH=")[1].split(",")[0])
        assert bandwidth > 0
        assert f"{r.rendition.name}/index.m3u8" in master
        playlist = r.playlist_path.read_text()
        assert "#EXT-X-ENDLIST" in playlist
        durations = [float(x.split(":")[1].rstrip(",")) for x in playlist.split() if "EXTINF" in x]
        assert max(durations) <= 4.5
        frames, duration = decoded(r.playlist_path)
        assert {f.height for f in frames} == {r.rendition.height}
        assert duration == pytest.approx(SECONDS, abs=0.5)


def test_progress_is_reported_and_ends_at_100(processed) -> None:
    _, calls, _ = processed
    steps = [step for step, _, _ in calls]
    assert steps[0] == "probe" and steps[-1] == "done"
    assert "thumbnail" in steps and "transcode" in steps
    transcode = [(p, per) for step, p, per in calls if step == "transcode"]
    percents = [p for p, _ in transcode]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert set(transcode[-1][1]) == {"240p", "360p", "480p"}


def test_parts_are_joined_into_one_timeline_and_silent_sources_work(tmp_path: Path) -> None:
    parts = [
        make_source(tmp_path / f"part-{i}.mkv", seconds=1.5, video_codec="libvpx", audio_codec=None)
        for i in (1, 2)
    ]
    result = process_video("joined", parts, tmp_path / "media")
    low = result.renditions[0]
    frames, duration = decoded(low.mp4_path)
    assert duration == pytest.approx(3.0, abs=0.5)
    counters = [read_counter(f) for f in frames]
    assert counters == list(range(45)) * 2  # both parts, in order
    assert "mp4a" not in result.master_playlist.read_text()
