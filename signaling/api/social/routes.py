"""Follows between users, and likes of videos and comments (the live streams of whom I follow
are one of my lists: signaling/api/me/).

Follow and like are idempotent: repeating one changes nothing and counts nothing twice (unique
keys in PostgreSQL settle even concurrent repeats; counters are kept by triggers).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from signaling.api.comments import queries as comments_db
from signaling.api.social import queries as social_db
from signaling.api.videos.access import visible_video
from signaling.auth import users
from signaling.auth.sessions import require_user
from signaling.http.errors import ApiError
from signaling.http.json import rfc3339_or_none
from signaling.http.lookup import row_or_404
from signaling.http.pagination import owned_list
from signaling.keys import PG

logger = structlog.get_logger(__name__)

routes = web.RouteTableDef()

_FOLLOW_KEYS = ("followed_at", "follow_id")


async def _user_or_404(request: web.Request) -> asyncpg.Record:
    return await row_or_404(request, "user_id", "user", users.by_id)


def _follow_view(row: asyncpg.Record) -> dict[str, Any]:
    return {**users.public_view(row), "followed_at": rfc3339_or_none(row["followed_at"])}


# --- follows ------------------------------------------------------------------------------------


@routes.post("/api/users/{user_id}/follow")
async def follow(request: web.Request) -> web.Response:
    """201 when the follow is new, 204 when it already existed."""
    me = await require_user(request)
    them = await _user_or_404(request)
    if them["id"] == me["id"]:
        raise ApiError(400, "you cannot follow yourself")
    try:
        added = await social_db.follow(request.app[PG], me["id"], them["id"])
    except asyncpg.ForeignKeyViolationError:  # the account was removed meanwhile
        raise ApiError(404, f"no user {them['id']}") from None
    if not added:
        return web.Response(status=204)
    return web.json_response({"following": users.public_view(them)}, status=201)


@routes.delete("/api/users/{user_id}/follow")
async def unfollow(request: web.Request) -> web.Response:
    me = await require_user(request)
    them = await _user_or_404(request)
    await social_db.unfollow(request.app[PG], me["id"], them["id"])
    return web.Response(status=204)


routes.get("/api/users/{user_id}/followers")(
    owned_list(_user_or_404, social_db.followers, _follow_view, _FOLLOW_KEYS)
)
routes.get("/api/users/{user_id}/following")(
    owned_list(_user_or_404, social_db.following, _follow_view, _FOLLOW_KEYS)
)


# --- likes --------------------------------------------------------------------------------------


async def _set_like(
    request: web.Request, user: asyncpg.Record, kind: str, target_id: uuid.UUID, on: bool
) -> web.Response:
    db = request.app[PG]
    try:
        if on:
            count = await social_db.like(db, kind, target_id, user["id"])
        else:
            count = await social_db.unlike(db, kind, target_id, user["id"])
    except asyncpg.ForeignKeyViolationError:  # deleted between our lookup and the like
        raise ApiError(404, f"no {kind} {target_id}") from None
    return web.json_response({"liked": on, "like_count": count})


async def _likeable_comment(request: web.Request, on: bool) -> uuid.UUID:
    comment = await row_or_404(request, "comment_id", "comment", comments_db.comment)
    if on and comment["is_deleted"]:
        raise ApiError(409, "a deleted comment cannot be liked")
    comment_id: uuid.UUID = comment["id"]
    return comment_id


@routes.put("/api/videos/{video_id}/like")
async def like_video(request: web.Request) -> web.Response:
    user = await require_user(request)
    video = await visible_video(request)
    return await _set_like(request, user, "video", video["id"], on=True)


@routes.delete("/api/videos/{video_id}/like")
async def unlike_video(request: web.Request) -> web.Response:
    user = await require_user(request)
    video = await visible_video(request)
    return await _set_like(request, user, "video", video["id"], on=False)


@routes.put("/api/comments/{comment_id}/like")
async def like_comment(request: web.Request) -> web.Response:
    user = await require_user(request)
    comment_id = await _likeable_comment(request, on=True)
    return await _set_like(request, user, "comment", comment_id, on=True)


@routes.delete("/api/comments/{comment_id}/like")
async def unlike_comment(request: web.Request) -> web.Response:
    user = await require_user(request)
    comment_id = await _likeable_comment(request, on=False)
    return await _set_like(request, user, "comment", comment_id, on=False)
