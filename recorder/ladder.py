"""The rendition ladder: which heights and bitrates a source gets, never upscaled."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_VIDEO_BITRATES: dict[int, int] = {
    240: 400_000,
    360: 800_000,
    480: 1_400_000,
    720: 2_800_000,
    1080: 5_000_000,
}


@dataclass(frozen=True)
class LadderSettings:
    """Encoder settings shared by every rendition (H.264 + AAC)."""

    video_bitrates: dict[int, int] = field(default_factory=lambda: dict(DEFAULT_VIDEO_BITRATES))
    audio_bitrate: int = 128_000
    audio_sample_rate: int = 48_000
    preset: str = "veryfast"
    profile: str = "high"
    # Peak and buffer relative to the target bitrate (VBV), so BANDWIDTH stays honest.
    maxrate_factor: float = 1.5
    bufsize_factor: float = 2.0
    # A keyframe every 2 s at the same frame in every rendition; HLS cuts 4 s segments on them.
    keyframe_seconds: float = 2.0
    segment_seconds: float = 4.0
    scaler: str = "BICUBIC"


@dataclass(frozen=True)
class Rendition:
    """One output of the ladder."""

    name: str
    width: int
    height: int
    video_bitrate: int


def plan_ladder(
    source_width: int, source_height: int, settings: LadderSettings | None = None
) -> list[Rendition]:
    """Renditions for a source, lowest first; a source below every rung gets its own size."""
    settings = settings or LadderSettings()
    heights = sorted(h for h in settings.video_bitrates if h <= source_height)
    if not heights:
        lowest = min(settings.video_bitrates)
        return [
            _rendition(
                source_width, source_height, _even(source_height), settings.video_bitrates[lowest]
            )
        ]
    return [_rendition(source_width, source_height, h, settings.video_bitrates[h]) for h in heights]


def encoder_options(rendition: Rendition, settings: LadderSettings, fps: float) -> dict[str, str]:
    """libx264 options: fixed GOP without scene cuts, so keyframes align across renditions."""
    gop = gop_frames(settings, fps)
    return {
        "preset": settings.preset,
        "profile": settings.profile,
        "maxrate": str(int(rendition.video_bitrate * settings.maxrate_factor)),
        "bufsize": str(int(rendition.video_bitrate * settings.bufsize_factor)),
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0",
    }


def gop_frames(settings: LadderSettings, fps: float) -> int:
    """Frames between keyframes."""
    return max(1, round(settings.keyframe_seconds * (fps or 30.0)))


def _rendition(source_width: int, source_height: int, height: int, bitrate: int) -> Rendition:
    width = _even(source_width * height / source_height)
    return Rendition(name=f"{height}p", width=width, height=height, video_bitrate=bitrate)


def _even(value: float) -> int:
    """Nearest even integer ≥ 2 (yuv420p needs even sizes)."""
    return max(2, int(round(value / 2)) * 2)
