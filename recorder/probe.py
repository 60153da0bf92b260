"""Probe a media file: duration, size, codecs, rates (PyAV, no decode beyond headers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import structlog

from recorder.errors import InvalidMedia

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ProbeResult:
    """What a worker needs to know about a source before transcoding it."""

    duration_s: float
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    frame_rate: float
    format_name: str
    file_size: int
    bit_rate: int


def open_media(path: Path | str) -> av.container.InputContainer:
    """Open ``path`` for reading or raise :class:`InvalidMedia` with the reason."""
    path = Path(path)
    if not path.is_file():
        raise InvalidMedia(f"{path.name}: no such file")
    if path.stat().st_size == 0:
        raise InvalidMedia(f"{path.name}: file is empty")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise InvalidMedia(f"{path.name}: not a media file ({exc.strerror})") from exc


def probe(path: Path | str) -> ProbeResult:
    """Return the figures of ``path``; raise :class:`InvalidMedia` if it has no usable video."""
    path = Path(path)
    with open_media(path) as container:
        if not container.streams.video:
            raise InvalidMedia(f"{path.name}: no video stream")
        video = container.streams.video[0]
        if not video.codec_context.width or not video.codec_context.height:
            raise InvalidMedia(f"{path.name}: video stream has no picture size")
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = _duration_s(container, video)
        if duration <= 0:
            raise InvalidMedia(f"{path.name}: duration unknown or zero")
        file_size = path.stat().st_size
        rate = video.average_rate or video.guessed_rate or video.base_rate
        return ProbeResult(
            duration_s=duration,
            width=video.codec_context.width,
            height=video.codec_context.height,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio else None,
            frame_rate=float(rate) if rate else 0.0,
            format_name=container.format.name,
            file_size=file_size,
            bit_rate=container.bit_rate or int(file_size * 8 / duration),
        )


def _duration_s(container: av.container.InputContainer, video: av.VideoStream) -> float:
    """Container duration, else the video stream's, in seconds."""
    if container.duration:
        return container.duration / av.time_base
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    return 0.0
