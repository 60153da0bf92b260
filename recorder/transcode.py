"""One-pass ladder transcode: decode the sources once, feed every rendition's encoder.

Each rendition owns one libx264 encoder; its packets are muxed twice, into a fast-start MP4
and into an HLS rendition (MPEG-TS segments). Audio is decoded once and encoded once (AAC);
the same packets go to every output. Sources are processed in sequence as one timeline, so
the parts of a live recording become one video.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import structlog
from av.container import OutputContainer
from av.stream import Stream
from av.video.reformatter import VideoReformatter

from recorder import hls
from recorder.errors import InvalidMedia
from recorder.ladder import LadderSettings, Rendition, encoder_options, gop_frames
from recorder.probe import open_media

logger = structlog.get_logger(__name__)

ProgressCallback = Callable[[str, float, dict[str, float]], None]

VIDEO_TIME_BASE = Fraction(1, 90_000)
PROGRESS_INTERVAL_S = 0.5
# swscale runs on the decoding thread while libx264's own threads already keep the cores busy:
# slicing each small scale across a thread pool would only add hand-offs.
SCALER_THREADS = 1


@dataclass(frozen=True)
class RenditionResult:
    """Where one rendition landed and what it measures."""

    rendition: Rendition
    mp4_path: Path
    playlist_path: Path
    file_size: int
    duration_s: float
    codecs: str


@dataclass(frozen=True)
class SourceTimeline:
    """How the sources line up: total duration (for progress), frame rate, audio presence."""

    duration_s: float
    frame_rate: float
    has_audio: bool


_Targets = tuple[tuple[Stream, OutputContainer], ...]


class _Output:
    """One rendition: its encoder and the two containers its packets go to."""

    def __init__(
        self,
        rendition: Rendition,
        out_dir: Path,
        settings: LadderSettings,
        timeline: SourceTimeline,
        audio_template: av.AudioStream | None,
    ) -> None:
        self.rendition = rendition
        self.mp4_path = out_dir / f"{rendition.name}.mp4"
        self.hls_dir = out_dir / "hls" / rendition.name
        self.hls_dir.mkdir(parents=True, exist_ok=True)
        self.playlist_path = self.hls_dir / hls.PLAYLIST_NAME
        self.mp4 = av.open(
            str(self.mp4_path), "w", format="mp4", container_options={"movflags": "+faststart"}
        )
        self.video = self._add_video(settings, timeline.frame_rate)
        self.audio = self._add_audio(settings, audio_template) if timeline.has_audio else None
        self.mp4.start_encoding()  # opens the encoders: extradata (SPS/PPS, ASC) now exists
        self.hls = av.open(
            str(self.playlist_path),
            "w",
            format="hls",
            container_options=hls.muxer_options(self.hls_dir, settings.segment_seconds),
        )
        self.hls_video = self.hls.add_stream_from_template(self.video)
        self.hls_audio = self.hls.add_stream_from_template(self.audio) if self.audio else None
        # Where each encoded packet goes: (stream, its container) in HLS, then in MP4.
        self._video_out: _Targets = ((self.hls_video, self.hls), (self.video, self.mp4))
        self._audio_out: _Targets = ()
        if self.audio is not None and self.hls_audio is not None:
            self._audio_out = ((self.hls_audio, self.hls), (self.audio, self.mp4))
        # One scaler for the whole run: ``VideoFrame.reformat`` builds a new swscale context
        # (filter tables, a thread pool) for every frame, which cost 3-5x the scaling itself.
        self.scaler = VideoReformatter()
        self.encoded_s = 0.0

    def _add_video(self, settings: LadderSettings, fps: float) -> av.VideoStream:
        stream = self.mp4.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        ctx = stream.codec_context
        ctx.width, ctx.height = self.rendition.width, self.rendition.height
        ctx.pix_fmt = "yuv420p"
        ctx.bit_rate = self.rendition.video_bitrate
        ctx.time_base = VIDEO_TIME_BASE
        ctx.gop_size = gop_frames(settings, fps)
        # PyAV defaults encoders to slice threads; libx264 then cuts every frame into slices
        # and runs no parallel lookahead. FRAME|SLICE (ffmpeg's default) means frame threads.
        ctx.thread_type = "AUTO"
        ctx.options = encoder_options(self.rendition, settings, fps)
        return stream

    def _add_audio(
        self, settings: LadderSettings, template: av.AudioStream | None
    ) -> av.AudioStream:
        if template is not None:
            return self.mp4.add_stream_from_template(template)
        stream = self.mp4.add_stream("aac", rate=settings.audio_sample_rate)
        stream.codec_context.layout = "stereo"
        stream.codec_context.bit_rate = settings.audio_bitrate
        return stream

    def encode(self, frame: av.VideoFrame | None, scaler: str) -> None:
        """Scale (if a frame) and encode; mux whatever the encoder hands back."""
        if frame is not None:
            r = self.rendition
            scaled = self.scaler.reformat(
                frame, r.width, r.height, "yuv420p", interpolation=scaler, threads=SCALER_THREADS
            )
            scaled.pts, scaled.time_base = frame.pts, frame.time_base
            frame = scaled
        for packet in self.video.encode(frame):
            if packet.pts is not None:  # always, from an encoder
                end = packet.pts + (packet.duration or 0)
                self.encoded_s = max(self.encoded_s, float(end * packet.time_base))
            self.mux(packet, self._video_out)

    def mux(self, packet: av.Packet[Stream], targets: _Targets) -> None:
        """Mux ``packet`` into each stream's container; muxing rebases it, so restore timing."""
        pts, dts, time_base = packet.pts, packet.dts, packet.time_base
        for stream, container in targets:
            packet.pts, packet.dts, packet.time_base = pts, dts, time_base
            packet.stream = stream
            container.mux(packet)

    def mux_audio(self, packet: av.Packet[Stream]) -> None:
        """Mux a shared AAC packet into this rendition's two containers."""
        self.mux(packet, self._audio_out)

    def close(self) -> RenditionResult:
        """Finish both containers (MP4 moves its index to the front here)."""
        self.hls.close()
        self.mp4.close()
        codecs = hls.codecs_attribute(
            hls.first_sps(self.video.codec_context.extradata or b""), self.audio is not None
        )
        return RenditionResult(
            rendition=self.rendition,
            mp4_path=self.mp4_path,
            playlist_path=self.playlist_path,
            file_size=self.mp4_path.stat().st_size,
            duration_s=self.encoded_s,
            codecs=codecs,
        )

    def abort(self) -> None:
        """Close without caring about errors (used when the job fails)."""
        for container in (self.hls, self.mp4):
            try:
                container.close()
            except (av.FFmpegError, ValueError):  # already broken; the job is failing anyway
                logger.debug("transcode_close_after_failure", path=str(self.mp4_path))


class LadderTranscoder:
    """Decode ``sources`` in sequence once and encode every rendition from the same frames."""

    def __init__(
        self,
        sources: Sequence[Path],
        out_dir: Path,
        renditions: Sequence[Rendition],
        timeline: SourceTimeline,
        settings: LadderSettings | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.sources = list(sources)
        self.out_dir = out_dir
        self.renditions = list(renditions)
        self.timeline = timeline
        self.settings = settings or LadderSettings()
        self.on_progress = on_progress
        self._outputs: list[_Output] = []
        self._audio_encoder: av.AudioCodecContext | None = None
        self._offset_s = 0.0  # where the current source starts on the output timeline
        self._end_s = 0.0  # latest frame end seen on the output timeline
        self._last_video_pts = -1
        self._frames = 0
        self._last_report = 0.0

    def run(self) -> list[RenditionResult]:
        """Transcode; returns one result per rendition, lowest first."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._open_outputs()
            for source in self.sources:
                self._transcode_source(source)
                self._offset_s = self._end_s
            if self._frames == 0:
                raise InvalidMedia("no decodable video frame in the sources")
            self._flush()
            results = [output.close() for output in self._outputs]
        except BaseException:
            for output in self._outputs:
                output.abort()
            raise
        self._report(force=True)
        return results

    def _open_outputs(self) -> None:
        template = None
        for rendition in self.renditions:
            output = _Output(rendition, self.out_dir, self.settings, self.timeline, template)
            template = template or output.audio
            self._outputs.append(output)
        audio = self._outputs[0].audio
        # One AAC encoder for all renditions; it takes any input layout/rate/frame size.
        self._audio_encoder = audio.codec_context if audio is not None else None

    def _transcode_source(self, source: Path) -> None:
        with open_media(source) as container:
            if not container.streams.video:
                raise InvalidMedia("no video stream", source=source.name)
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            streams: list[Stream] = [video]
            if self._audio_encoder is not None and container.streams.audio:
                streams.append(container.streams.audio[0])
            start_s = container.start_time / av.time_base if container.start_time else 0.0
            for packet in container.demux(*streams):
                for frame in _decode(packet, source):
                    self._on_frame(frame, start_s)

    def _on_frame(self, frame: av.VideoFrame | av.AudioFrame, start_s: float) -> None:
        if frame.pts is None or frame.time_base is None:  # decoders always set a time base
            return
        at_s = float(frame.pts * frame.time_base) - start_s + self._offset_s
        if isinstance(frame, av.AudioFrame):
            self._end_s = max(self._end_s, at_s + frame.samples / frame.sample_rate)
            if self._audio_encoder is not None:  # always: audio is demuxed only with an encoder
                self._encode_audio(self._audio_encoder, frame, at_s)
            return
        pts = round(at_s / VIDEO_TIME_BASE)
        if pts <= self._last_video_pts:
            return  # a repeated or reordered timestamp would break the muxers; drop the frame
        self._last_video_pts = pts
        self._end_s = max(self._end_s, at_s + 1 / (self.timeline.frame_rate or 30.0))
        frame.pts, frame.time_base = pts, VIDEO_TIME_BASE
        for output in self._outputs:
            output.encode(frame, self.settings.scaler)
        self._frames += 1
        self._report()

    def _encode_audio(
        self, encoder: av.AudioCodecContext, frame: av.AudioFrame | None, at_s: float = 0.0
    ) -> None:
        if frame is not None:
            frame.pts = round(at_s * frame.sample_rate)
            frame.time_base = Fraction(1, frame.sample_rate)
        for packet in encoder.encode(frame):
            for output in self._outputs:
                output.mux_audio(packet)

    def _flush(self) -> None:
        if self._audio_encoder is not None:
            self._encode_audio(self._audio_encoder, None)
        for output in self._outputs:
            output.encode(None, self.settings.scaler)

    def _report(self, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_report < PROGRESS_INTERVAL_S:
            return
        self._last_report = now
        total = self.timeline.duration_s or 1.0
        per = {
            o.rendition.name: 100.0 if force else min(99.9, 100.0 * o.encoded_s / total)
            for o in self._outputs
        }
        self.on_progress("transcode", min(per.values(), default=100.0), per)


def _decode(packet: av.Packet[Stream], source: Path) -> list[av.VideoFrame | av.AudioFrame]:
    """Decode one packet; a damaged packet is skipped, not fatal."""
    try:  # only video and audio streams are demuxed, so no subtitles come out
        return cast(list[av.VideoFrame | av.AudioFrame], packet.decode())
    except av.InvalidDataError:
        logger.warning("transcode_packet_undecodable", source=source.name, pts=packet.pts)
        return []
