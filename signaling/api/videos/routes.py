"""Videos API: list ready videos, one video with renditions and processing progress, edit,
(soft) delete and retry of failed processing by the creator, view reports from the player,
and the processed files.

Who may see a video is decided in access.py; processed files are served only while the video
may be played (media.py says which files exist and what type they are).
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from recorder import retry_failed
from signaling.api.videos import queries as videos_db
from signaling.api.videos.access import visible_video
from signaling.api.videos.media import (
    CACHE_CONTROL,
    CONTENT_TYPES,
    DEFAULT_CACHE_CONTROL,
    MEDIA_PREFIX,
    resolve_media_path,
)
from signaling.api.videos.models import VideoUpdate, ViewReport
from signaling.api.videos.views import video_detail, video_view
from signaling.auth.roles import require_owner
from signaling.auth.sessions import require_user, session_user_id
from signaling.http import rate_limit
from signaling.http.errors import ApiError
from signaling.http.pagination import decode_cursor, encode_cursor, page_params
from signaling.http.validation import changes_of, parse_uuid, query_uuid, read_json
from signaling.keys import CONFIG, PG

routes = web.RouteTableDef()

SORTS = ("newest", "most_viewed")


async def _own_video(request: web.Request) -> asyncpg.Record:
    user = await require_user(request)
    video_id = parse_uuid(request.match_info["video_id"], "video")
    row = await videos_db.by_id(request.app[PG], video_id)
    if row is None or row["deleted_at"] is not None:
        raise ApiError(404, f"no video {video_id}")
    require_owner(user, row, "only the video's creator may do this")
    return row


def _views_cursor(row: asyncpg.Record) -> str:
    """most_viewed cursor: view count, then the (created_at, id) cursor of pagination."""
    return f"{row['view_count']}.{encode_cursor(row['created_at'], row['id'])}"


def _decode_views_cursor(cursor: str) -> tuple[int, Any, uuid.UUID]:
    views, _, rest = cursor.partition(".")
    if not views.isdigit():
        raise ApiError(400, "invalid cursor; use next_cursor from the previous page")
    moment, row_id = decode_cursor(rest)
    return int(views), moment, row_id


def _limit(request: web.Request) -> int:
    """?limit= checked as pagination checks it (a most_viewed cursor is ours to decode)."""
    return page_params(request.clone(rel_url=request.rel_url.without_query_params("cursor")))[1]


@routes.get("/api/videos")
async def list_videos(request: web.Request) -> web.Response:
    sort = request.query.get("sort", "newest")
    if sort not in SORTS:
        raise ApiError(400, f"sort must be one of {', '.join(SORTS)}")
    filters = {
        "creator": query_uuid(request, "creator"),
        "category": query_uuid(request, "category"),
    }
    pool = request.app[PG]
    if sort == "newest":
        after, limit = page_params(request)
        rows = await videos_db.newest(pool, **filters, after=after, limit=limit)
        cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if rows else None
    else:
        limit = _limit(request)
        raw = request.query.get("cursor")
        views_after = _decode_views_cursor(raw) if raw else None
        rows = await videos_db.most_viewed(pool, **filters, after=views_after, limit=limit)
        cursor = _views_cursor(rows[-1]) if rows else None
    return web.json_response(
        {
            "items": [video_view(r) for r in rows],
            "next_cursor": cursor if len(rows) == limit else None,
        }
    )


@routes.get("/api/videos/{video_id}")
async def get_video(request: web.Request) -> web.Response:
    row = await visible_video(request)
    return web.json_response(await video_detail(request.app[PG], row))


@routes.patch("/api/videos/{video_id}")
async def update_video(request: web.Request) -> web.Response:
    row = await _own_video(request)
    body = await read_json(request, VideoUpdate)
    changes = changes_of(body, not_null=("title",))
    pool = request.app[PG]
    await videos_db.update(pool, row["id"], changes)
    return web.json_response(await video_detail(pool, await videos_db.by_id(pool, row["id"])))


@routes.delete("/api/videos/{video_id}")
async def delete_video(request: web.Request) -> web.Response:
    row = await _own_video(request)
    await videos_db.soft_delete(request.app[PG], row["id"])
    return web.Response(status=204)


@routes.post("/api/videos/{video_id}/publish")
async def publish_video(request: web.Request) -> web.Response:
    """Make a private video (a paid stream's recording) public: listed and free to watch."""
    row = await _own_video(request)
    pool = request.app[PG]
    await videos_db.publish(pool, row["id"])
    return web.json_response(await video_detail(pool, await videos_db.by_id(pool, row["id"])))


@routes.post("/api/videos/{video_id}/retry")
async def retry_processing(request: web.Request) -> web.Response:
    """Process my failed video again (202: queued); 409 unless its processing failed."""
    row = await _own_video(request)
    pool = request.app[PG]
    if await retry_failed(pool, row["id"]) is None:
        raise ApiError(409, "only a video whose processing failed can be processed again")
    return web.json_response(
        await video_detail(pool, await videos_db.by_id(pool, row["id"])), status=202
    )


@routes.post("/api/videos/{video_id}/views")
async def report_view(request: web.Request) -> web.Response:
    """A playback report from the player (anonymous allowed); sent again as watching goes on."""
    row = await visible_video(request)
    video_id, pool = row["id"], request.app[PG]
    if row["status"] != "ready":
        raise ApiError(404, f"no video {video_id}")
    report = await read_json(request, ViewReport)
    if round(report.view_duration) > (row["duration"] or 0):
        raise ApiError(
            422, f"view_duration: at most the video's {row['duration']} s", "invalid_field"
        )
    viewer_id, ip = await session_user_id(request), _client_ip(request)
    view = await videos_db.record_view(
        pool,
        video_id,
        viewer_id,
        {
            "view_duration": round(report.view_duration),
            "watch_completion": round(report.watch_completion, 2),
            "playback_id": report.playback_id,
            "ip_address": ip,
            "user_agent": request.headers.get("User-Agent", "")[:500] or None,
            "counted": await _counts(
                request, video_id, viewer_id or f"ip:{ip}", report.playback_id
            ),
        },
    )
    if view is None:
        raise ApiError(409, "playback_id belongs to another video", "invalid_field")
    status = 201 if view["inserted"] else 200
    return web.json_response(
        {"id": str(view["id"]), "counted": view["inserted"] and view["counted"]}, status=status
    )


async def _counts(
    request: web.Request, video_id: uuid.UUID, viewer: object, playback_id: uuid.UUID | None
) -> bool:
    """Whether a new playback adds a view: one per viewer (user, else IP) per video per
    VIEW_COUNT_WINDOW_S. A later report of a stored playback keeps what its row says."""
    if playback_id is not None and await videos_db.playback_known(request.app[PG], playback_id):
        return True  # ignored: the row exists, its `counted` is not updated
    retry = await rate_limit.retry_after(
        request.app,
        "view",
        f"{video_id}:{viewer}",
        1,
        request.app[CONFIG].limits.view_count_window_s,
    )
    return retry is None


def _client_ip(request: web.Request) -> str | None:
    try:
        return str(ipaddress.ip_address(request.remote or ""))
    except ValueError:
        return None


@routes.get(MEDIA_PREFIX + "/videos/{video_id}/{path:.+}")
async def video_file(request: web.Request) -> web.FileResponse:
    video_id = parse_uuid(request.match_info["video_id"], "video")
    viewer = await session_user_id(request)
    if not await videos_db.is_playable(request.app[PG], video_id, viewer):
        raise ApiError(404, f"no video {video_id}")
    path = resolve_media_path(
        request.app[CONFIG].media.media_root, video_id, request.match_info["path"]
    )
    if path is None:
        raise ApiError(404, "no such file")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": CONTENT_TYPES[path.suffix],
            "Cache-Control": CACHE_CONTROL.get(path.suffix, DEFAULT_CACHE_CONTROL),
            "X-Content-Type-Options": "nosniff",
        },
    )
