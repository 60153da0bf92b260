"""Live archive writer: encoded frames from the sfu go into a Matroska part file as they arrive.

No decode, no encode: every payload becomes one ``av.Packet`` muxed into a stream created
with ``add_mux_stream`` (which has no codec context at all). Timestamps come from RTP
(see :mod:`recorder.rtp_time`). The file opens on the first video keyframe; Matroska
clusters are written out every couple of seconds, so memory stays flat and a crash loses at
most the last cluster. Each publisher session writes its own ``part-NNNN.mkv``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import structlog
from av.container import OutputContainer
from av.stream import Stream

from recorder.h264_sps import h264_picture_size
from recorder.rtp_time import TrackClock
from sfu import EncodedFrame

logger = structlog.get_logger(__name__)

# sfu codec names (SDP spelling) → FFmpeg codec names.
CODECS = {"vp8": "vp8", "vp9": "vp9", "h264": "h264", "av1": "av1", "opus": "opus"}
MUXER_OPTIONS = {
    "cluster_time_limit": "2000",  # ms: bounds memory and what a crash can lose
    "cluster_size_limit": "2097152",
}


def part_name(part: int) -> str:
    """File name of a recording part: ``part-0001.mkv``."""
    return f"part-{part:04d}.mkv"


class ArchiveWriter:
    """Writes one publisher session of a live stream into ``directory/part-NNNN.mkv``."""

    def __init__(
        self,
        directory: Path,
        part: int,
        *,
        expect_audio: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``expect_audio``: add an audio track even if no audio arrived before the first
        keyframe (None: only if it did). ``clock`` gives arrival times in seconds."""
        self.path = Path(directory) / part_name(part)
        self._expect_audio = expect_audio
        self._clock = clock
        self._container: OutputContainer | None = None
        self._streams: dict[str, Stream] = {}
        self._clocks: dict[str, TrackClock] = {}
        self._last_pts: dict[str, int] = {}
        self._audio_codec: str | None = None
        self._start_s = 0.0
        self.frames_written = 0
        self.frames_dropped = 0
        self._closed = False

    @property
    def started(self) -> bool:
        """True once the part file exists (a video keyframe arrived)."""
        return self._container is not None

    def write(self, frame: EncodedFrame) -> None:
        """Mux one encoded frame; frames before the first keyframe or out of order are dropped."""
        if self._closed:
            raise ValueError("ArchiveWriter is closed")
        kind = frame.kind
        container = self._container
        if container is None:
            if kind == "audio":
                self._audio_codec = frame.codec_name  # known now, opened with the video
            if not (kind == "video" and frame.keyframe):
                self.frames_dropped += 1
                return
            container = self._open(frame)
        stream = self._streams.get(kind)
        if stream is None:
            self.frames_dropped += 1  # a track that appeared after the file started
            return
        self._mux(container, stream, frame)

    def close(self) -> Path | None:
        """Finish the part; returns its path, or None if nothing was written."""
        if self._closed:
            return self.path if self.frames_written else None
        self._closed = True
        if self._container is None:
            return None
        self._container.close()
        logger.info(
            "archive_part_closed",
            path=str(self.path),
            frames=self.frames_written,
            dropped=self.frames_dropped,
        )
        return self.path

    def _open(self, keyframe: EncodedFrame) -> OutputContainer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = self._container = av.open(
            str(self.path), "w", format="matroska", container_options=MUXER_OPTIONS
        )
        self._start_s = self._clock()
        width, height = picture_size(keyframe.codec_name, keyframe.payload)
        self._add_track(container, "video", keyframe.codec_name, keyframe.clock_rate, width, height)
        audio_codec = self._audio_codec or ("opus" if self._expect_audio else None)
        if audio_codec and self._expect_audio is not False:
            self._add_track(container, "audio", audio_codec, 48_000)
        logger.info("archive_part_opened", path=str(self.path), tracks=sorted(self._streams))
        return container

    def _add_track(
        self,
        container: OutputContainer,
        kind: str,
        codec_name: str,
        clock_rate: int,
        width: int = 0,
        height: int = 0,
    ) -> None:
        codec = CODECS.get(codec_name.lower())
        if codec is None:
            raise ValueError(f"codec {codec_name!r} cannot be archived")
        extra = {"width": width, "height": height} if kind == "video" else {}
        rate = clock_rate if kind == "audio" else None
        stream = container.add_mux_stream(codec, rate=rate, **extra)
        stream.time_base = Fraction(1, 1000)
        self._streams[kind] = stream
        self._clocks[kind] = TrackClock(clock_rate)

    def _mux(self, container: OutputContainer, stream: Stream, frame: EncodedFrame) -> None:
        kind = frame.kind
        pts = self._clocks[kind].ticks(frame.timestamp, self._clock() - self._start_s)
        if pts < 0 or pts <= self._last_pts.get(kind, -1):
            self.frames_dropped += 1  # duplicate or reordered: the muxer needs rising dts
            return
        self._last_pts[kind] = pts
        packet = av.Packet(frame.payload)
        packet.pts = packet.dts = pts
        packet.time_base = Fraction(1, frame.clock_rate)
        packet.is_keyframe = kind == "audio" or frame.keyframe
        packet.stream = stream
        container.mux(packet)
        self.frames_written += 1


def picture_size(codec_name: str, payload: bytes) -> tuple[int, int]:
    """Width and height from a keyframe: the VP8 frame header or the H.264 SPS; (0, 0) unknown."""
    if codec_name.lower() == "h264":
        return h264_picture_size(payload) or (0, 0)
    if codec_name.lower() != "vp8" or len(payload) < 10 or payload[3:6] != b"\x9d\x01\x2a":
        return 0, 0
    width = int.from_bytes(payload[6:8], "little") & 0x3FFF
    height = int.from_bytes(payload[8:10], "little") & 0x3FFF
    return width, height
