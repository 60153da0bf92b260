"""In-process tap of a live stream for the recorder: whole encoded frames, from a keyframe on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from sfu.depacketize import EncodedFrame, FrameAssembler
from sfu.rtp_rewrite import RtpView

logger = structlog.get_logger(__name__)

MAX_QUEUED_FRAMES = 600  # ~10 s of 30 fps video plus audio


class StreamTap:
    """Async iterator of :class:`EncodedFrame`; ends when the publisher leaves or on close().

    Nothing is yielded before the first video keyframe. A tap that falls more than
    MAX_QUEUED_FRAMES behind drops frames and restarts at the next keyframe.
    """

    def __init__(
        self,
        codecs: dict[str, tuple[str, int]],
        request_keyframe: Callable[[], None],
        detach: Callable[[StreamTap], None],
    ) -> None:
        self._assemblers = {
            kind: FrameAssembler(kind, name, rate) for kind, (name, rate) in codecs.items()
        }
        self._request_keyframe = request_keyframe
        self._detach = detach
        self._queue: asyncio.Queue[EncodedFrame | None] = asyncio.Queue()
        self._has_video = "video" in codecs
        self._started = not self._has_video
        self._ended = False
        self.dropped = 0
        request_keyframe()

    @property
    def kinds(self) -> frozenset[str]:
        """The media kinds this tap carries ("video", "audio")."""
        return frozenset(self._assemblers)

    def push(self, kind: str, view: RtpView) -> None:
        """Feed one forwarded packet (called by the publisher's forwarding loop)."""
        assembler = self._assemblers.get(kind)
        if assembler is None or self._ended:
            return
        frame = assembler.push(view)
        if frame is None:
            if kind == "video" and assembler.need_keyframe:
                self._request_keyframe()  # a frame was lost: ask now (rate-limited), not wait
            return
        if not self._started:
            if not frame.keyframe:
                return
            self._started = True
        if self._queue.qsize() >= MAX_QUEUED_FRAMES:
            self._restart()
            return
        self._queue.put_nowait(frame)

    def _restart(self) -> None:
        self.dropped += 1
        if self._has_video:
            self._started = False
            self._assemblers["video"].need_keyframe = True
            self._request_keyframe()
        logger.warning("sfu_tap_behind", queued=self._queue.qsize(), dropped=self.dropped)

    def end(self) -> None:
        """No more frames will come (publisher left)."""
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(None)

    def close(self) -> None:
        """Stop tapping; iteration ends after the frames already queued."""
        self._detach(self)
        self.end()

    def __aiter__(self) -> StreamTap:
        return self

    async def __anext__(self) -> EncodedFrame:
        frame = await self._queue.get()
        if frame is None:
            self._queue.put_nowait(None)  # keep the iterator ended for later calls
            raise StopAsyncIteration
        return frame
