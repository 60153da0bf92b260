"""Categories (admins manage them, anyone lists them), video categorisation and video analytics.

Streams are categorised through PATCH /api/streams/{id} `category_id`; videos here, by their
creator. Video listing and playback belong to the videos API, not to this module.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from aiohttp import web

from signaling.api.catalog import queries as catalog_db
from signaling.api.catalog.models import CategoryCreate, CategoryUpdate
from signaling.api.videos.access import visible_video
from signaling.auth.roles import require_owner, require_role
from signaling.auth.sessions import require_user
from signaling.http.errors import ApiError
from signaling.http.json import rfc3339_or_none
from signaling.http.lookup import row_or_404
from signaling.http.pagination import page_body, page_params
from signaling.http.validation import changes_of, parse_uuid, read_json
from signaling.keys import PG

logger = structlog.get_logger(__name__)

routes = web.RouteTableDef()


def category_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "description": row["description"],
        "created_at": rfc3339_or_none(row["created_at"]),
    }


async def category_or_404(request: web.Request) -> asyncpg.Record:
    return await row_or_404(request, "category_id", "category", catalog_db.category)


async def own_video(request: web.Request) -> asyncpg.Record:
    """The path's video when the signed-in user created it; 401/403/404 otherwise."""
    user = await require_user(request)
    video = await visible_video(request)
    require_owner(user, video, "only the video's creator may do this")
    return video


def _taken(name: str) -> ApiError:
    return ApiError(409, f"a category named {name!r} exists already", "taken")


# --- categories ---------------------------------------------------------------------------------


@routes.get("/api/categories")
async def list_categories(request: web.Request) -> web.Response:
    after, limit = page_params(request)
    rows = await catalog_db.categories(request.app[PG], after, limit)
    return web.json_response(page_body([category_view(r) for r in rows], rows, limit))


@routes.get("/api/categories/{category_id}")
async def get_category(request: web.Request) -> web.Response:
    return web.json_response(category_view(await category_or_404(request)))


@routes.post("/api/categories")
async def create_category(request: web.Request) -> web.Response:
    admin = await require_role(request, "admin")
    body = await read_json(request, CategoryCreate)
    try:
        row = await catalog_db.create_category(request.app[PG], body.name, body.description)
    except asyncpg.UniqueViolationError:
        raise _taken(body.name) from None
    logger.info("catalog_category_created", category_id=str(row["id"]), admin_id=str(admin["id"]))
    return web.json_response(category_view(row), status=201)


@routes.patch("/api/categories/{category_id}")
async def update_category(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    category = await category_or_404(request)
    body = await read_json(request, CategoryUpdate)
    changes = changes_of(body, not_null=("name",))
    try:
        row = await catalog_db.update_category(request.app[PG], category["id"], changes)
    except asyncpg.UniqueViolationError:
        raise _taken(changes["name"]) from None
    if row is None:  # deleted meanwhile
        raise ApiError(404, f"no category {category['id']}")
    return web.json_response(category_view(row))


@routes.delete("/api/categories/{category_id}")
async def delete_category(request: web.Request) -> web.Response:
    admin = await require_role(request, "admin")
    category_id = parse_uuid(request.match_info["category_id"], "category")
    # Streams in it become uncategorised; videos lose the link (see migration 0030).
    if not await catalog_db.delete_category(request.app[PG], category_id):
        raise ApiError(404, f"no category {category_id}")
    logger.info("catalog_category_deleted", category_id=str(category_id), admin_id=str(admin["id"]))
    return web.Response(status=204)


# --- videos -------------------------------------------------------------------------------------


@routes.get("/api/videos/{video_id}/categories")
async def list_video_categories(request: web.Request) -> web.Response:
    video = await visible_video(request)
    after, limit = page_params(request)
    rows = await catalog_db.video_categories(request.app[PG], video["id"], after, limit)
    return web.json_response(page_body([category_view(r) for r in rows], rows, limit))


@routes.put("/api/videos/{video_id}/categories/{category_id}")
async def add_video_category(request: web.Request) -> web.Response:
    video = await own_video(request)
    category = await category_or_404(request)
    try:
        await catalog_db.add_video_category(request.app[PG], video["id"], category["id"])
    except asyncpg.ForeignKeyViolationError:  # the video or category was deleted meanwhile
        raise ApiError(404, "the video or the category no longer exists") from None
    return web.Response(status=204)


@routes.delete("/api/videos/{video_id}/categories/{category_id}")
async def remove_video_category(request: web.Request) -> web.Response:
    video = await own_video(request)
    category = await category_or_404(request)
    await catalog_db.remove_video_category(request.app[PG], video["id"], category["id"])
    return web.Response(status=204)


@routes.get("/api/videos/{video_id}/analytics")
async def video_analytics(request: web.Request) -> web.Response:
    video = await own_video(request)
    row = await catalog_db.video_analytics(request.app[PG], video["id"])
    if row is None:
        raise ApiError(409, f"no analytics while the video is {video['status']}; wait until ready")
    return web.json_response(analytics_view(row))


def analytics_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "video_id": str(row["video_id"]),
        "title": row["title"],
        "creator_id": str(row["creator_id"]),
        "creator_username": row["creator_username"],
        "duration": row["duration"],
        "view_count": row["view_count"],
        "like_count": row["like_count"],
        "comment_count": row["comment_count"],
        "unique_viewers": row["unique_viewers"],
        # Seconds and percent: averages, so fractional; null before the first view.
        "avg_view_duration": _number(row["avg_view_duration"]),
        "avg_watch_completion": _number(row["avg_watch_completion"]),
        "published_at": rfc3339_or_none(row["published_at"]),
        "created_at": rfc3339_or_none(row["created_at"]),
    }


def _number(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)
