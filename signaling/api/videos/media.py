"""Processed video files (`/media/videos/<id>/…`: MP4 renditions, HLS playlists and segments,
thumbnail) as the VOD worker writes them, served with Range support.

Served only while the video is ready, not deleted, and public or asked for by its creator;
only known file types; never outside the video's own folder (paths are resolved and must stay
below it).
"""

from __future__ import annotations

import uuid
from pathlib import Path, PurePosixPath

from aiohttp import web

from recorder import video_dir
from signaling.api.videos import queries as videos_db
from signaling.auth.sessions import session_user_id
from signaling.http.errors import ApiError
from signaling.http.validation import parse_uuid
from signaling.keys import CONFIG, PG

routes = web.RouteTableDef()

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


@routes.get(MEDIA_PREFIX + "/videos/{video_id}/{path:.+}")
async def video_file(request: web.Request) -> web.FileResponse:
    video_id = parse_uuid(request.match_info["video_id"], "video")
    viewer = await session_user_id(request)
    if not await videos_db.is_playable(request.app[PG], video_id, viewer):
        raise ApiError(404, f"no video {video_id}")
    path = resolve_media_path(request.app[CONFIG].media_root, video_id, request.match_info["path"])
    if path is None:
        raise ApiError(404, "no such file")
    return web.FileResponse(path, headers={
        "Content-Type": CONTENT_TYPES[path.suffix],
        "Cache-Control": CACHE_CONTROL.get(path.suffix, DEFAULT_CACHE_CONTROL),
        "X-Content-Type-Options": "nosniff",
    })
