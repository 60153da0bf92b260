"""Videos API and page: list ready videos, one video with renditions and processing progress,
edit and (soft) delete by the creator, and view reports from the player.

A video that is not ready, or private (a paid stream's recording), is visible only to its
creator; a deleted one to nobody.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import Field

from signaling.api.videos import queries as videos_db
from signaling.auth.sessions import require_user, session_user_id
from signaling.http import rate_limit
from signaling.http.errors import ApiError
from signaling.http.json import rfc3339_or_none
from signaling.http.pagination import decode_cursor, encode_cursor, page_params
from signaling.http.validation import Body, changes_of, parse_uuid, query_uuid, read_json
from signaling.keys import CONFIG, PG
from signaling.web.pages import page

routes = web.RouteTableDef()

SORTS = ("newest", "most_viewed")


class VideoUpdate(Body):
    title: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)


class ViewReport(Body):
    view_duration: float = Field(ge=0, description="seconds watched")
    watch_completion: float = Field(ge=0, le=100, description="percent of the video")
    # The page's id for one playback: later reports of it update the row instead of adding one.
    playback_id: uuid.UUID | None = None


def video_view(row: asyncpg.Record) -> dict[str, Any]:
    """What a list shows of a video."""
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "duration": row["duration"],
        "width": row["width"],
        "height": row["height"],
        "file_size": row["file_size"],
        "thumbnail_url": row["thumbnail_url"],
        "view_count": row["view_count"],
        "like_count": row["like_count"],
        "comment_count": row["comment_count"],
        "published_at": rfc3339_or_none(row["published_at"]),
        "created_at": rfc3339_or_none(row["created_at"]),
        "updated_at": rfc3339_or_none(row["updated_at"]),
        "creator": {
            "id": str(row["creator_id"]),
            "account_id": row["creator_account_id"],
            "username": row["creator_username"],
        },
        "page_url": f"/videos/{row['id']}",
        "private": row["is_private"],
    }


async def video_detail(pool: asyncpg.Pool, row: asyncpg.Record) -> dict[str, Any]:
    """One video with its renditions, HLS master playlist and processing progress."""
    versions = await videos_db.renditions(pool, row["id"])
    job = await videos_db.latest_job(pool, row["id"])
    return {
        **video_view(row),
        "renditions": [
            {
                "resolution": v["resolution"],
                "width": v["width"],
                "height": v["height"],
                "bitrate_kbps": v["bitrate"],
                "file_size": v["file_size"],
                "url": v["storage_url"],
                "hls_url": v["hls"],
            }
            for v in versions
        ],
        "hls_url": await videos_db.hls_master(pool, row["id"]),
        "processing": processing_view(job),
    }


def processing_view(job: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A VOD job as its creator sees it: progress, and why it failed in plain words (`error`),
    never the operator's detail."""
    if job is None:
        return None
    return {
        "status": job["status"],
        "progress": float(job["progress"]),
        "current_step": job["current_step"],
        "rendition_progress": json.loads(job["rendition_progress"]),
        "attempts": job["attempts"],
        "max_attempts": job["max_attempts"],
        "error": job["failure_reason"],
        "updated_at": rfc3339_or_none(job["updated_at"]),
    }


async def visible_video(request: web.Request) -> asyncpg.Record:
    """The path's {video_id} if this request may see it: ready, or its creator asking.

    Others get 404 for a video that is not ready yet, as if it were absent.
    """
    video_id = parse_uuid(request.match_info["video_id"], "video")
    row = await videos_db.by_id(request.app[PG], video_id)
    if row is None or row["deleted_at"] is not None:
        raise ApiError(404, f"no video {video_id}")
    if not _is_public(row) and await session_user_id(request) != row["creator_id"]:
        raise ApiError(404, f"no video {video_id}")
    return row


def _is_public(row: asyncpg.Record) -> bool:
    return row["status"] == "ready" and not row["is_private"]


async def _own_video(request: web.Request) -> asyncpg.Record:
    user = await require_user(request)
    video_id = parse_uuid(request.match_info["video_id"], "video")
    row = await videos_db.by_id(request.app[PG], video_id)
    if row is None or row["deleted_at"] is not None:
        raise ApiError(404, f"no video {video_id}")
    if row["creator_id"] != user["id"]:
        raise ApiError(403, "only the video's creator may do this")
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
        after = _decode_views_cursor(raw) if raw else None
        rows = await videos_db.most_viewed(pool, **filters, after=after, limit=limit)
        cursor = _views_cursor(rows[-1]) if rows else None
    return web.json_response(
        {"items": [video_view(r) for r in rows],
         "next_cursor": cursor if len(rows) == limit else None}
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


@routes.post("/api/videos/{video_id}/views")
async def report_view(request: web.Request) -> web.Response:
    """A playback report from the player (anonymous allowed); sent again as watching goes on."""
    row = await visible_video(request)
    video_id, pool = row["id"], request.app[PG]
    if row["status"] != "ready":
        raise ApiError(404, f"no video {video_id}")
    report = await read_json(request, ViewReport)
    if round(report.view_duration) > (row["duration"] or 0):
        raise ApiError(422, f"view_duration: at most the video's {row['duration']} s",
                       "invalid_field")
    viewer_id, ip = await session_user_id(request), _client_ip(request)
    view = await videos_db.record_view(pool, video_id, viewer_id, {
        "view_duration": round(report.view_duration),
        "watch_completion": round(report.watch_completion, 2),
        "playback_id": report.playback_id,
        "ip_address": ip,
        "user_agent": request.headers.get("User-Agent", "")[:500] or None,
        "counted": await _counts(request, video_id, viewer_id or f"ip:{ip}", report.playback_id),
    })
    if view is None:
        raise ApiError(409, "playback_id belongs to another video", "invalid_field")
    status = 201 if view["inserted"] else 200
    return web.json_response({"id": str(view["id"]),
                              "counted": view["inserted"] and view["counted"]}, status=status)


async def _counts(
    request: web.Request, video_id: uuid.UUID, viewer: object, playback_id: uuid.UUID | None
) -> bool:
    """Whether a new playback adds a view: one per viewer (user, else IP) per video per
    VIEW_COUNT_WINDOW_S. A later report of a stored playback keeps what its row says."""
    if playback_id is not None and await videos_db.playback_known(request.app[PG], playback_id):
        return True  # ignored: the row exists, its `counted` is not updated
    retry = await rate_limit.retry_after(request.app, "view", f"{video_id}:{viewer}", 1,
                                         request.app[CONFIG].view_count_window_s)
    return retry is None


def _client_ip(request: web.Request) -> str | None:
    try:
        return str(ipaddress.ip_address(request.remote or ""))
    except ValueError:
        return None


@routes.get("/videos/{video_id}")
async def video_page(_request: web.Request) -> web.Response:
    return page("video")
