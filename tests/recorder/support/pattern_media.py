"""Small synthetic media for recorder tests: a frame counter drawn as blocks, a sine tone.

Everything is generated here with PyAV, nothing is downloaded.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

COUNTER_BITS = 12
BLOCK = 32
TONE_HZ = 440.0


def pattern_frame(index: int, width: int, height: int) -> av.VideoFrame:
    """A grey gradient picture with ``index`` written as black/white blocks on the top row."""
    y = np.tile(np.linspace(40, 200, width, dtype=np.uint8), (height, 1))
    for bit in range(COUNTER_BITS):
        x0 = 8 + bit * (BLOCK + 8)
        y[8 : 8 + BLOCK, x0 : x0 + BLOCK] = 235 if index >> bit & 1 else 16
    uv = np.full((height // 2, width), 128, dtype=np.uint8)
    return av.VideoFrame.from_ndarray(np.vstack([y, uv]), format="yuv420p")


def read_counter(frame: av.VideoFrame) -> int:
    """Read back the counter from a decoded frame of any size (blocks scale with it)."""
    gray = frame.reformat(format="gray").to_ndarray()
    scale_x = frame.width / SOURCE_WIDTH_FOR_READ
    scale_y = frame.height / SOURCE_HEIGHT_FOR_READ
    value = 0
    for bit in range(COUNTER_BITS):
        cx = int((8 + bit * (BLOCK + 8) + BLOCK / 2) * scale_x)
        cy = int((8 + BLOCK / 2) * scale_y)
        patch = gray[cy - 2 : cy + 3, cx - 2 : cx + 3]
        if patch.mean() > 128:
            value |= 1 << bit
    return value


SOURCE_WIDTH_FOR_READ = 640
SOURCE_HEIGHT_FOR_READ = 480


def tone(start_sample: int, samples: int, rate: int = 48_000) -> av.AudioFrame:
    """A stereo 440 Hz sine, float planar."""
    t = (np.arange(samples) + start_sample) / rate
    wave = (0.3 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    frame = av.AudioFrame.from_ndarray(np.vstack([wave, wave]), format="fltp", layout="stereo")
    frame.sample_rate = rate
    frame.pts = start_sample
    frame.time_base = Fraction(1, rate)
    return frame


def make_source(
    path: Path,
    seconds: float = 3.0,
    width: int = 640,
    height: int = 480,
    fps: int = 30,
    video_codec: str = "libx264",
    audio_codec: str | None = "aac",
) -> Path:
    """Write a test source file (container from the suffix)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(video_codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if video_codec == "libx264":
            video.codec_context.options = {"preset": "ultrafast"}
        audio = None
        if audio_codec:
            audio = out.add_stream(audio_codec, rate=48_000)
            audio.codec_context.layout = "stereo"
        frames = round(seconds * fps)
        for i in range(frames):
            frame = pattern_frame(i, width, height)
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(video.encode(frame))
        if audio is not None:
            for chunk in _tone_chunks(seconds):
                out.mux(audio.encode(chunk))
            out.mux(audio.encode(None))
        out.mux(video.encode(None))
    return path


def _tone_chunks(seconds: float, chunk: int = 960) -> Iterator[av.AudioFrame]:
    total = int(seconds * 48_000)
    for start in range(0, total, chunk):
        yield tone(start, min(chunk, total - start))


def encode_vp8_packets(
    frames: int, width: int = 640, height: int = 480, fps: int = 30, gop: int = 30
) -> list[tuple[int, bool, bytes]]:
    """(frame index, keyframe, payload) for a VP8 encoding of the pattern, like a WebRTC sender."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, fps)
    encoder.bit_rate = 1_500_000
    encoder.gop_size = gop
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[tuple[int, bool, bytes]] = []
    for i in [*range(frames), None]:
        frame = None
        if i is not None:
            frame = pattern_frame(i, width, height)
            frame.pts = i
        for packet in encoder.encode(frame):
            out.append((int(packet.pts), packet.is_keyframe, bytes(packet)))
    return out


def encode_opus_packets(seconds: float) -> list[bytes]:
    """20 ms Opus packets of the tone."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48_000
    encoder.layout = "stereo"
    encoder.format = "s16"
    encoder.time_base = Fraction(1, 48_000)
    packets: list[bytes] = []
    for chunk in [*_tone_chunks(seconds), None]:
        packets += [bytes(p) for p in encoder.encode(chunk)]
    return packets


def record_like_chromium(
    directory: Path, seconds: float = 3.0, fps: int = 20, jitter_ms: float = 15.0
) -> Path:
    """A live part as the recorder writes one from Chromium: VP8 + Opus through the real
    ArchiveWriter, RTP timestamps from a capture clock that jitters by up to ``jitter_ms``.

    Matroska's millisecond time base and the uneven frame spacing make FFmpeg guess 1000 fps.
    """
    from recorder.archive import ArchiveWriter
    from sfu import EncodedFrame

    rng = random.Random(20)
    feed: list[tuple[float, EncodedFrame]] = []
    for index, keyframe, payload in encode_vp8_packets(round(seconds * fps), 320, 240, fps=fps):
        at_s = index / fps + (rng.uniform(-jitter_ms, jitter_ms) / 1000 if index else 0.0)
        feed.append(
            (at_s, EncodedFrame("video", "VP8", 90_000, round(at_s * 90_000), keyframe, payload))
        )
    for n, payload in enumerate(encode_opus_packets(seconds)):
        feed.append((n * 0.02, EncodedFrame("audio", "opus", 48_000, n * 960, True, payload)))
    feed.sort(key=lambda item: item[0])
    now = [0.0]
    writer = ArchiveWriter(directory, 1, expect_audio=True, clock=lambda: now[0])
    for at_s, frame in feed:
        now[0] = at_s
        writer.write(frame)
    path = writer.close()
    assert path is not None
    return path
