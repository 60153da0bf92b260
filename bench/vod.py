"""Recorder benchmarks; every figure is a ratio against a baseline measured in the same run.

(a) Recording cost: CPU of ArchiveWriter remuxing a live 720p30 VP8 + Opus stream fed in
    real time, minus an idle run of the same feeding loop, as % of one core (target < 3 %).
(b) Ladder transcode: our one-pass PyAV ladder vs the ``ffmpeg`` CLI doing the same ladder
    (same scaler, libx264 and AAC settings, MP4 + HLS per rendition) on the same source
    (target: PyAV wall time within 1.1x of ffmpeg's). Fairness is checked, not assumed: the
    option string libx264 writes into each 720p output (preset expansion, threads, slices,
    rate control, GOP) is compared and the differences, if any, are printed.

Usage: .venv/bin/python bench/vod.py [--seconds 15] [--skip-ladder] [--skip-recording]
Installs the ffmpeg CLI with apt-get if it is missing (benchmark set-up only).
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recorder.archive import ArchiveWriter  # noqa: E402
from recorder.ladder import LadderSettings, encoder_options, gop_frames, plan_ladder  # noqa: E402
from recorder.transcode import LadderTranscoder, SourceTimeline  # noqa: E402
from sfu import EncodedFrame as Frame  # noqa: E402
from tests.recorder.support.pattern_media import (  # noqa: E402
    encode_opus_packets,
    encode_vp8_packets,
    make_source,
)

FPS = 30


def live_schedule(seconds: float) -> list[tuple[float, Frame]]:
    """(due s, frame): 720p30 VP8 (2.5 Mbit/s) and 20 ms Opus, in arrival order."""
    video = encode_vp8_packets(FPS * 4, width=1280, height=720, fps=FPS, gop=FPS * 2)
    audio = encode_opus_packets(4.0)
    schedule: list[tuple[float, Frame]] = []
    for n in range(int(seconds * FPS)):
        _, key, payload = video[n % len(video)]
        ts = (n * 3000) % (1 << 32)
        schedule.append((n / FPS, Frame("video", "VP8", 90_000, ts, key or n == 0, payload)))
    for n in range(int(seconds * 50)):
        ts = (n * 960) % (1 << 32)
        schedule.append((n * 0.02, Frame("audio", "opus", 48_000, ts, True, audio[n % len(audio)])))
    schedule.sort(key=lambda item: item[0])
    return schedule


def feed(schedule: list[tuple[float, Frame]], sink) -> tuple[float, float]:
    """Deliver frames at their due time; returns (wall s, CPU s of this process)."""
    cpu0, t0 = time.process_time(), time.monotonic()
    for due, frame in schedule:
        delay = t0 + due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sink(frame)
    return time.monotonic() - t0, time.process_time() - cpu0


def bench_recording(seconds: float) -> dict[str, float]:
    schedule = live_schedule(seconds)
    _, idle_cpu = feed(schedule, lambda frame: None)
    with tempfile.TemporaryDirectory() as tmp:
        # Video and audio are both due at 0 s and video sorts first: without expect_audio the
        # part would open with the video track only and drop every Opus frame.
        writer = ArchiveWriter(Path(tmp), 1, expect_audio=True)
        wall, cpu = feed(schedule, writer.write)
        path = writer.close()
        size = path.stat().st_size if path else 0
    return {
        "seconds": wall,
        "idle_cpu_s": idle_cpu,
        "writer_cpu_s": cpu,
        "core_percent": 100.0 * max(0.0, cpu - idle_cpu) / wall,
        "mbit_s": size * 8 / wall / 1e6,
    }


def ffmpeg_ladder_cmd(source: Path, out: Path, settings: LadderSettings) -> list[str]:
    """The same ladder with the ffmpeg CLI: one decode, split, scale, encode, tee to MP4+HLS."""
    renditions = plan_ladder(1280, 720, settings)
    labels = "".join(f"[s{i}]" for i in range(len(renditions)))
    graph = [f"[0:v]split={len(renditions)}{labels}"]
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source)]
    outputs: list[str] = []
    for i, r in enumerate(renditions):
        graph.append(f"[s{i}]scale={r.width}:{r.height}:flags={settings.scaler.lower()}[o{i}]")
        hls_dir = out / "hls" / r.name
        hls_dir.mkdir(parents=True, exist_ok=True)
        opts = encoder_options(r, settings, FPS)
        outputs += ["-map", f"[o{i}]", "-map", "0:a", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
        outputs += ["-b:v", str(r.video_bitrate), "-g", str(gop_frames(settings, FPS))]
        for key, value in opts.items():
            outputs += [f"-{key}:v", value]
        outputs += ["-c:a", "aac", "-b:a", str(settings.audio_bitrate), "-ac", "2"]
        outputs += ["-ar", str(settings.audio_sample_rate), "-f", "tee"]
        outputs.append(
            f"[f=mp4:movflags=+faststart]{out / (r.name + '.mp4')}|"
            f"[f=hls:hls_time={settings.segment_seconds:g}:hls_playlist_type=vod:"
            f"hls_segment_filename={hls_dir / 'seg_%05d.ts'}]{hls_dir / 'index.m3u8'}"
        )
    return [*cmd, "-filter_complex", ";".join(graph), *outputs]


def time_ffmpeg(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(cmd, check=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_pyav(
    source: Path, out: Path, settings: LadderSettings, seconds: float
) -> tuple[float, float]:
    renditions = plan_ladder(1280, 720, settings)
    timeline = SourceTimeline(duration_s=seconds, frame_rate=FPS, has_audio=True)
    cpu0, t0 = time.process_time(), time.monotonic()
    LadderTranscoder([source], out, renditions, timeline, settings).run()
    return time.monotonic() - t0, time.process_time() - cpu0


def x264_settings(mp4: Path) -> tuple[str, dict[str, str]]:
    """(x264 core version, its options) from the SEI libx264 writes into the stream."""
    found = re.search(rb"x264 - core (\d+).*?options: ([^\x00]+)", mp4.read_bytes())
    if found is None:
        return "?", {}
    pairs = (item.partition("=") for item in found.group(2).decode().split())
    return found.group(1).decode(), {key: value for key, _, value in pairs}


def settings_difference(ours: Path, theirs: Path) -> str:
    """'identical' or the x264 options that differ between the two encodes."""
    (our_core, our_opts), (their_core, their_opts) = x264_settings(ours), x264_settings(theirs)
    keys = sorted(
        k for k in our_opts.keys() | their_opts.keys() if our_opts.get(k) != their_opts.get(k)
    )
    diff = ", ".join(f"{k}: {our_opts.get(k)} vs {their_opts.get(k)}" for k in keys)
    return f"{diff or 'identical'} (x264 core {our_core} vs {their_core})"


def bench_ladder(seconds: float, rounds: int) -> dict[str, float | str]:
    if shutil.which("ffmpeg") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "ffmpeg"], check=True)
    settings = LadderSettings()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        source = make_source(tmp_path / "source.mp4", seconds=seconds, width=1280, height=720)
        py: list[tuple[float, float]] = []
        ff: list[tuple[float, float]] = []
        for n in range(rounds):  # alternate, so background load hits both alike
            ff.append(time_ffmpeg(ffmpeg_ladder_cmd(source, tmp_path / f"ff{n}", settings)))
            py.append(time_pyav(source, tmp_path / f"py{n}", settings, seconds))
        settings_check = settings_difference(
            tmp_path / "py0" / "720p.mp4", tmp_path / "ff0" / "720p.mp4"
        )
    py_wall, py_cpu = min(py)
    ff_wall, ff_cpu = min(ff)
    return {
        "pyav_wall_s": py_wall,
        "ffmpeg_wall_s": ff_wall,
        "wall_ratio": py_wall / ff_wall,
        "pyav_cpu_s": py_cpu,
        "ffmpeg_cpu_s": ff_cpu,
        "cpu_ratio": py_cpu / ff_cpu,
        "x264_settings": settings_check,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--ladder-seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-recording", action="store_true")
    parser.add_argument("--skip-ladder", action="store_true")
    args = parser.parse_args()
    if not args.skip_recording:
        rec = bench_recording(args.seconds)
        print(
            f"recording 720p30 VP8+Opus for {rec['seconds']:.1f}s: writer CPU "
            f"{rec['writer_cpu_s']:.3f}s vs idle {rec['idle_cpu_s']:.3f}s -> "
            f"{rec['core_percent']:.2f}% of a core (target < 3%), {rec['mbit_s']:.2f} Mbit/s"
        )
    if not args.skip_ladder:
        lad = bench_ladder(args.ladder_seconds, args.rounds)
        print(
            f"ladder 720p source {args.ladder_seconds:g}s -> 240/360/480/720p MP4+HLS: "
            f"PyAV {lad['pyav_wall_s']:.2f}s wall / {lad['pyav_cpu_s']:.2f}s CPU, "
            f"ffmpeg CLI {lad['ffmpeg_wall_s']:.2f}s wall / {lad['ffmpeg_cpu_s']:.2f}s CPU -> "
            f"wall ratio {lad['wall_ratio']:.2f}x (target <= 1.1x), "
            f"CPU ratio {lad['cpu_ratio']:.2f}x; x264 settings PyAV vs ffmpeg: "
            f"{lad['x264_settings']}"
        )


if __name__ == "__main__":
    main()
