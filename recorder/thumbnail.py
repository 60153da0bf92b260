"""A JPEG still from near the start of a video."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import structlog

from recorder.errors import InvalidMedia
from recorder.probe import open_media

logger = structlog.get_logger(__name__)

JPEG_QUALITY_Q = 3  # mjpeg qscale: 2 best .. 31 worst


def thumbnail(
    path: Path | str, out_jpg: Path | str, at_fraction: float = 0.10, max_width: int | None = None
) -> Path:
    """Decode the frame at ``at_fraction`` of the duration and write it as a JPEG.

    The image keeps the source size unless ``max_width`` asks for a smaller one.
    """
    out_jpg = Path(out_jpg)
    with open_media(path) as container:
        if not container.streams.video:
            raise InvalidMedia("no video stream", source=Path(path).name)
        stream = container.streams.video[0]
        frame = _frame_near(container, stream, at_fraction)
    width, height = frame.width, frame.height
    if max_width and width > max_width:
        width, height = max_width, max(2, round(height * max_width / width / 2) * 2)
    out_jpg.parent.mkdir(parents=True, exist_ok=True)
    out_jpg.write_bytes(encode_jpeg(frame, width, height))
    logger.debug("thumbnail_written", path=str(out_jpg), width=width, height=height)
    return out_jpg


def encode_jpeg(frame: av.VideoFrame, width: int, height: int) -> bytes:
    """One JPEG image from a decoded frame (FFmpeg's mjpeg encoder, full-range YUV)."""
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)  # required by the encoder, meaningless for one image
    encoder.qmin = encoder.qmax = JPEG_QUALITY_Q
    picture = frame.reformat(width=width, height=height, format="yuvj420p")
    picture.pts = 0
    return b"".join(bytes(p) for p in [*encoder.encode(picture), *encoder.encode(None)])


def _frame_near(
    container: av.container.InputContainer, stream: av.VideoStream, at_fraction: float
) -> av.VideoFrame:
    duration = container.duration / av.time_base if container.duration else 0.0
    target = max(0.0, duration * at_fraction)
    if target > 0:
        # Seek lands on the keyframe before the target; decode forward from there.
        container.seek(int(target * av.time_base), backward=True)
    stream.thread_type = "AUTO"
    last = None
    try:
        for frame in container.decode(stream):
            last = frame
            if frame.time is None or frame.time >= target:
                return frame
    except av.FFmpegError as exc:
        if last is None:
            raise InvalidMedia("video does not decode", source=Path(container.name).name) from exc
    if last is None:
        raise InvalidMedia("no decodable video frame", source=Path(container.name).name)
    return last
