"""Processed video files (`/media/videos/<id>/…`: MP4 renditions, HLS playlists and segments,
thumbnail) as the VOD worker writes them, served with Range support.

Served only while the video is ready, not deleted, and public or asked for by its creator;
only known file types; never outside the video's own folder (paths are resolved and must stay
below it).
"""

from __future__ import annotations

import uuid
from pathlib import Path, PurePosixPath

from recorder import video_dir

MEDIA_PREFIX = "/media"  # what the VOD worker's media_url_prefix must be

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".m4s": "video/iso.segment",
    ".jpg": "image/jpeg",
}
# Playlists are checked again each time (a deleted video stops); media may be kept briefly.
CACHE_CONTROL = {".m3u8": "no-cache"}
DEFAULT_CACHE_CONTROL = "private, max-age=300"


def resolve_media_path(media_root: Path, video_id: uuid.UUID, relative: str) -> Path | None:
    """The file ``relative`` names inside the video's folder, or None (outside, hidden, absent,
    or not a served type)."""
    parts = PurePosixPath(relative).parts
    if not parts or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    base = video_dir(media_root, str(video_id)).resolve()
    target = base.joinpath(*parts).resolve()
    if not target.is_relative_to(base) or target.suffix not in CONTENT_TYPES:
        return None
    return target if target.is_file() else None
