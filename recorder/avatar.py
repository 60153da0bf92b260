"""Profile pictures: any still image a browser sends, re-encoded as a square JPEG.

Re-encoding (never storing the upload as sent) drops metadata such as a photo's GPS position and
anything that only pretends to be an image. Opening an image decodes it once to learn its size;
FFmpeg's `max_pixels` makes that decode refuse a huge picture, so a small file that claims
one (a "decompression bomb") is refused without allocating it.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import av

from recorder.errors import InvalidMedia
from recorder.thumbnail import encode_jpeg

AVATAR_SIZE = 256  # px, square
MAX_PIXELS = 4096 * 4096  # a larger picture is refused before decoding
# FFmpeg's still-image demuxers; a video or anything else is not an avatar.
IMAGE_CODECS = frozenset({"mjpeg", "png", "webp", "gif", "bmp"})


def avatar_path(media_root: Path, user_id: uuid.UUID) -> Path:
    return Path(media_root) / "avatars" / f"{user_id}.jpg"


def avatar_jpeg(data: bytes, size: int = AVATAR_SIZE) -> bytes:
    """The middle square of the image in `data`, scaled to `size` px, as a JPEG.

    Raises InvalidMedia when `data` is not a still image that decodes, or is too large.
    """
    try:
        # One codec-option dict per stream (PyAV's stub says list[str]; the code takes dicts).
        options: Any = [{"max_pixels": str(MAX_PIXELS)}]
        with av.open(io.BytesIO(data), mode="r", stream_options=options) as container:
            if not container.streams.video:
                raise InvalidMedia("not an image", source="avatar")
            stream = container.streams.video[0]
            codec = stream.codec_context
            if codec.name not in IMAGE_CODECS:
                raise InvalidMedia(f"not a still image ({codec.name})", source="avatar")
            if min(codec.width, codec.height) < 1:  # the probe refused to decode it
                raise InvalidMedia(
                    f"the picture is too large or broken (at most {MAX_PIXELS // 10**6} "
                    "megapixels)",
                    source="avatar",
                )
            frame = next(container.decode(stream), None)
    except av.FFmpegError as exc:
        raise InvalidMedia("the image does not decode", source="avatar") from exc
    if frame is None:
        raise InvalidMedia("the image has no picture", source="avatar")
    side = min(frame.width, frame.height)
    pixels = frame.to_ndarray(format="rgb24")
    top, left = (frame.height - side) // 2, (frame.width - side) // 2
    square = av.VideoFrame.from_ndarray(
        pixels[top : top + side, left : left + side].copy(), format="rgb24"
    )
    return encode_jpeg(square, size, size)
