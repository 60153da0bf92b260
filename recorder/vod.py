"""VOD processing of one video: probe, thumbnail, rendition ladder, HLS master playlist.

Layout under ``media_root/videos/<video_id>/``::

    thumbnail.jpg
    240p.mp4 360p.mp4 ...          fast-start MP4 per rendition
    hls/master.m3u8                every rendition with BANDWIDTH and RESOLUTION
    hls/240p/index.m3u8 + seg_NNNNN.ts
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from recorder import hls
from recorder.errors import InvalidMedia
from recorder.ladder import LadderSettings, plan_ladder
from recorder.probe import ProbeResult, probe
from recorder.thumbnail import thumbnail
from recorder.transcode import (
    LadderTranscoder,
    ProgressCallback,
    RenditionResult,
    SourceTimeline,
)

logger = structlog.get_logger(__name__)

THUMBNAIL_NAME = "thumbnail.jpg"
# Encoding rate when the probe found no sane one (the renditions still get every frame's time).
DEFAULT_FRAME_RATE = 30.0


@dataclass(frozen=True)
class VodResult:
    """Everything the worker writes into ``videos`` / ``video_versions`` / ``video_metadata``."""

    video_dir: Path
    probe: ProbeResult
    duration_s: float
    source_size: int
    thumbnail_path: Path
    master_playlist: Path
    renditions: list[RenditionResult]


def video_dir(media_root: Path, video_id: str) -> Path:
    """Where a video's files live."""
    return Path(media_root) / "videos" / str(video_id)


def process_video(
    video_id: str,
    sources: Sequence[Path | str],
    media_root: Path,
    settings: LadderSettings | None = None,
    on_progress: ProgressCallback | None = None,
    out_dir: Path | None = None,
) -> VodResult:
    """Turn ``sources`` (one upload, or the parts of a recording in order) into a VOD.

    Files go to :func:`video_dir` unless ``out_dir`` names another place (a worker stages
    there and moves the result into place when it commits the job).
    """
    settings = settings or LadderSettings()
    paths = [Path(s) for s in sources]
    if not paths:
        raise InvalidMedia("no source files")
    progress = on_progress or _ignore_progress
    progress("probe", 0.0, {})
    probes = [probe(p) for p in paths]
    first = probes[0]
    out_dir = Path(out_dir) if out_dir else video_dir(media_root, video_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress("thumbnail", 0.0, {})
    thumb = thumbnail(paths[0], out_dir / THUMBNAIL_NAME)
    renditions = plan_ladder(first.width, first.height, settings)
    timeline = SourceTimeline(
        duration_s=sum(p.duration_s for p in probes),
        frame_rate=first.frame_rate or DEFAULT_FRAME_RATE,
        has_audio=any(p.audio_codec for p in probes),
    )
    logger.info(
        "vod_transcode_start",
        video_id=video_id,
        sources=len(paths),
        duration_s=round(timeline.duration_s, 2),
        renditions=[r.name for r in renditions],
    )
    results = LadderTranscoder(paths, out_dir, renditions, timeline, settings, progress).run()
    master = hls.write_master(out_dir / "hls" / hls.MASTER_NAME, _variants(results, out_dir))
    progress("done", 100.0, {r.rendition.name: 100.0 for r in results})
    return VodResult(
        video_dir=out_dir,
        probe=first,
        duration_s=max(r.duration_s for r in results),
        source_size=sum(p.file_size for p in probes),
        thumbnail_path=thumb,
        master_playlist=master,
        renditions=results,
    )


def _variants(results: list[RenditionResult], out_dir: Path) -> list[hls.Variant]:
    variants = []
    for r in results:
        peak, average = hls.measure_bandwidth(r.playlist_path)
        variants.append(
            hls.Variant(
                uri=r.playlist_path.relative_to(out_dir / "hls").as_posix(),
                width=r.rendition.width,
                height=r.rendition.height,
                peak_bandwidth=peak,
                average_bandwidth=average,
                codecs=r.codecs,
            )
        )
    return variants


def _ignore_progress(step: str, percent: float, per_rendition: dict[str, float]) -> None:
    """Default progress sink."""
