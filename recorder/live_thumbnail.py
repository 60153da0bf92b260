"""Live thumbnails: about every 30 s, one video keyframe of the recorder's tap becomes the
stream's ``thumbnail.jpg`` and ``streams.thumbnail_url`` points at it.

Only that keyframe is decoded (a keyframe needs no other frame), in a worker thread: a few
milliseconds of CPU per stream every interval, so it may run in a node process, unlike VOD
transcoding. The file is replaced atomically, so a reader never sees half an image.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import cast

import asyncpg
import av
import structlog
from av.video.codeccontext import VideoCodecContext

from recorder.errors import InvalidMedia
from recorder.files import replace_file
from recorder.thumbnail import encode_jpeg
from sfu import EncodedFrame

logger = structlog.get_logger(__name__)

THUMBNAIL_INTERVAL_S = 30.0
MAX_WIDTH = 640
"""Home-page cards are small: a wider keyframe is scaled down to this."""
LIVE_URL_PREFIX = "/media/live"
_DECODERS = {"vp8": "vp8", "vp9": "vp9", "h264": "h264", "av1": "libdav1d"}


def live_thumbnail_path(media_root: Path, stream_id: uuid.UUID) -> Path:
    """Where a live stream's current thumbnail lives (media_root/live/<stream id>/thumbnail.jpg)."""
    return Path(media_root) / "live" / str(stream_id) / "thumbnail.jpg"


def keyframe_jpeg(frame: EncodedFrame, max_width: int = MAX_WIDTH) -> bytes:
    """Decode one video keyframe on its own and encode it as a JPEG no wider than `max_width`."""
    name = _DECODERS.get(frame.codec_name.lower())
    if name is None:
        raise InvalidMedia(f"no decoder for {frame.codec_name}", source="live")
    decoder = cast(VideoCodecContext, av.CodecContext.create(name, "r"))
    try:
        pictures = [*decoder.decode(av.Packet(frame.payload)), *decoder.decode(None)]
    except av.FFmpegError as exc:
        raise InvalidMedia("keyframe does not decode", source="live") from exc
    if not pictures:
        raise InvalidMedia("keyframe gave no picture", source="live")
    picture = pictures[0]
    width, height = picture.width, picture.height
    if width > max_width:
        width, height = max_width, max(2, round(height * max_width / width / 2) * 2)
    return encode_jpeg(picture, width, height)


class LiveThumbnailer:
    """Turns a keyframe of one stream into its thumbnail, at most once per interval."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        media_root: Path,
        stream_id: uuid.UUID,
        interval_s: float = THUMBNAIL_INTERVAL_S,
    ) -> None:
        self.pool = pool
        self.path = live_thumbnail_path(media_root, stream_id)
        self.stream_id = stream_id
        self.interval_s = interval_s
        self._next_at = 0.0  # the first keyframe makes one at once
        self._task: asyncio.Task[None] | None = None

    def offer(self, frame: EncodedFrame) -> None:
        """Called with every frame of the tap; cheap unless a thumbnail is due."""
        if frame.kind != "video" or not frame.keyframe or time.monotonic() < self._next_at:
            return
        if self._task is not None and not self._task.done():
            return  # the previous one is still being written
        self._next_at = time.monotonic() + self.interval_s
        self._task = asyncio.create_task(self._write(frame))

    async def _write(self, frame: EncodedFrame) -> None:
        try:
            jpeg = await asyncio.to_thread(keyframe_jpeg, frame)
            await asyncio.to_thread(replace_file, self.path, jpeg)
            url = f"{LIVE_URL_PREFIX}/{self.stream_id}/thumbnail.jpg?v={time.time_ns() // 10**6}"
            await self.pool.execute(
                "UPDATE streams SET thumbnail_url = $2 WHERE id = $1", self.stream_id, url
            )
        except (InvalidMedia, OSError, asyncpg.PostgresError) as exc:
            # A thumbnail is cosmetic: the recording goes on; the next keyframe tries again.
            logger.warning(
                "recorder_thumbnail_failed", stream_id=str(self.stream_id), error=str(exc)
            )
            return
        logger.debug("recorder_thumbnail_written", stream_id=str(self.stream_id), bytes=len(jpeg))

    async def close(self) -> None:
        """Let a thumbnail being written finish (the tap ended)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
