"""HLS playlists: muxer options for a rendition, measured bandwidth, the master playlist."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PLAYLIST_NAME = "index.m3u8"
MASTER_NAME = "master.m3u8"


@dataclass(frozen=True)
class Variant:
    """One line pair of the master playlist."""

    uri: str
    width: int
    height: int
    peak_bandwidth: int
    average_bandwidth: int
    codecs: str


def muxer_options(directory: Path, segment_seconds: float) -> dict[str, str]:
    """Options for FFmpeg's ``hls`` muxer writing a VOD rendition into ``directory``."""
    return {
        "hls_time": f"{segment_seconds:g}",
        "hls_playlist_type": "vod",
        "hls_segment_type": "mpegts",
        "hls_segment_filename": str(directory / "seg_%05d.ts"),
        "hls_flags": "independent_segments",
    }


def measure_bandwidth(playlist: Path) -> tuple[int, int]:
    """(peak, average) bits per second over the segments a media playlist lists."""
    durations: list[tuple[float, str]] = []
    pending: float | None = None
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            pending = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#") and pending is not None:
            durations.append((pending, line))
            pending = None
    if not durations:
        return 0, 0
    sizes = [(d, (playlist.parent / uri).stat().st_size * 8) for d, uri in durations]
    peak = max(bits / d for d, bits in sizes if d > 0)
    average = sum(bits for _, bits in sizes) / sum(d for d, _ in sizes)
    return int(peak), int(average)


def codecs_attribute(sps: bytes | None, has_audio: bool) -> str:
    """RFC 6381 codecs string, e.g. ``avc1.64001f,mp4a.40.2`` (from the SPS bytes)."""
    video = f"avc1.{sps[1]:02x}{sps[2]:02x}{sps[3]:02x}" if sps and len(sps) >= 4 else "avc1"
    return f"{video},mp4a.40.2" if has_audio else video


def write_master(path: Path, variants: list[Variant]) -> Path:
    """Write the master playlist listing every variant in the given order."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in variants:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={v.peak_bandwidth},"
            f"AVERAGE-BANDWIDTH={v.average_bandwidth},"
            f'RESOLUTION={v.width}x{v.height},CODECS="{v.codecs}"'
        )
        lines.append(v.uri)
    path.write_text("\n".join(lines) + "\n")
    return path


def first_sps(annexb: bytes) -> bytes | None:
    """The first H.264 SPS NAL unit (type 7) in Annex-B bytes, without start code."""
    for nal in split_annexb(annexb):
        if nal and nal[0] & 0x1F == 7:
            return nal
    return None


def split_annexb(data: bytes) -> list[bytes]:
    """Split Annex-B bytes into NAL units (start codes 00 00 01 or 00 00 00 01)."""
    units: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        nxt = data.find(b"\x00\x00\x01", begin)
        end = len(data) if nxt < 0 else nxt
        units.append(data[begin:end].rstrip(b"\x00") if nxt >= 0 else data[begin:end])
        start = nxt
    return units
