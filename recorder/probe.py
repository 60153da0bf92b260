"""Probe a media file: duration, size, codecs, rates (PyAV, no decode beyond headers).

Every figure is checked before anyone stores it: files claim absurd things. A live recording
from Chromium has a millisecond time base and variable frame timing, so FFmpeg's guessed rate
is the time base itself (1000 fps); the rate is then measured from packet timestamps. A figure
that stays outside its sane range is reported as unknown (None), never passed on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import structlog

from recorder.errors import InvalidMedia

logger = structlog.get_logger(__name__)

# Frame rates a person can be shown: below 1 fps is a slideshow, above 240 a time base.
MIN_FRAME_RATE = 1.0
MAX_FRAME_RATE = 240.0
# Packets read (demuxed, not decoded) to measure a frame rate the container does not state.
RATE_SAMPLE_PACKETS = 300
MIN_RATE_SAMPLE_PACKETS = 5
# Longer than any real video (a year): a claimed duration beyond it is a broken header.
MAX_DURATION_S = 365 * 24 * 3600.0


@dataclass(frozen=True)
class ProbeResult:
    """What a worker needs to know about a source before transcoding it; every figure sane."""

    duration_s: float
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    frame_rate: float | None  # None: no sane rate stated or measurable
    format_name: str
    file_size: int
    bit_rate: int


def open_media(path: Path | str) -> av.container.InputContainer:
    """Open ``path`` for reading or raise :class:`InvalidMedia` with the reason."""
    path = Path(path)
    if not path.is_file():
        raise InvalidMedia("no such file", source=path.name)
    if path.stat().st_size == 0:
        raise InvalidMedia("file is empty", source=path.name)
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise InvalidMedia(f"not a media file ({exc.strerror})", source=path.name) from exc


def probe(path: Path | str) -> ProbeResult:
    """Return the figures of ``path``; raise :class:`InvalidMedia` if it has no usable video."""
    path = Path(path)
    with open_media(path) as container:
        if not container.streams.video:
            raise InvalidMedia("no video stream", source=path.name)
        video = container.streams.video[0]
        if not video.codec_context.width or not video.codec_context.height:
            raise InvalidMedia("video stream has no picture size", source=path.name)
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = _duration_s(container, video)
        if not 0 < duration <= MAX_DURATION_S:
            raise InvalidMedia("duration unknown, zero or absurd", source=path.name)
        file_size = path.stat().st_size
        frame_rate = frame_rate_of(container, video)
        if frame_rate is None:
            logger.warning("probe_frame_rate_unknown", source=path.name)
        return ProbeResult(
            duration_s=duration,
            width=video.codec_context.width,
            height=video.codec_context.height,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio else None,
            frame_rate=frame_rate,
            format_name=container.format.name,
            file_size=file_size,
            bit_rate=_bit_rate(container.bit_rate, file_size, duration),
        )


def frame_rate_of(container: av.container.InputContainer, video: av.VideoStream) -> float | None:
    """The stream's average rate if sane, else one measured from packet timing, else the
    container's guess if sane, else None. Reads packets: call it last on an open container."""
    stated = sane_frame_rate(video.average_rate)
    if stated is not None:
        return stated
    measured = sane_frame_rate(_measured_rate(container, video))
    return measured if measured is not None else sane_frame_rate(video.guessed_rate)


def sane_frame_rate(rate: Fraction | float | None) -> float | None:
    """``rate`` as a float with two decimals if it is a frame rate a video can have, else None."""
    if not rate:
        return None
    value = float(rate)
    if not math.isfinite(value) or not MIN_FRAME_RATE <= value <= MAX_FRAME_RATE:
        return None
    return round(value, 2)


def _measured_rate(container: av.container.InputContainer, video: av.VideoStream) -> float | None:
    """Frames per second over the first packets' timestamps (demuxed, never decoded)."""
    stamps: set[int] = set()
    try:
        for packet in container.demux(video):
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is not None:
                stamps.add(stamp)
            if len(stamps) >= RATE_SAMPLE_PACKETS:
                break
    except av.FFmpegError:
        pass  # a damaged tail: measure on what was read
    if len(stamps) < MIN_RATE_SAMPLE_PACKETS or not video.time_base:
        return None
    span_s = float((max(stamps) - min(stamps)) * video.time_base)
    return (len(stamps) - 1) / span_s if span_s > 0 else None


def _bit_rate(stated: int | None, file_size: int, duration_s: float) -> int:
    """The container's bit rate if it has one, else the file's average."""
    if stated and stated > 0:
        return int(stated)
    return int(file_size * 8 / duration_s)


def _duration_s(container: av.container.InputContainer, video: av.VideoStream) -> float:
    """Container duration, else the video stream's, in seconds (0.0 when unknown)."""
    if container.duration:
        seconds = container.duration / av.time_base
    elif video.duration and video.time_base:
        seconds = float(video.duration * video.time_base)
    else:
        return 0.0
    return seconds if math.isfinite(seconds) else 0.0
