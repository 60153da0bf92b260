"""Comments on videos and streams, threaded by parent_id; authors edit, authors or moderators
delete.

Stream chat from the WebSocket is stored as the same rows (signaling/realtime/chat.py); a top-level
comment posted here on a stream is also sent to the stream's chat sockets. Deletion is soft:
the row stays (for moderation) and is shown as deleted, without content or author.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from signaling.api.comments import queries as comments_db
from signaling.api.comments.models import CommentCreate, CommentText
from signaling.api.streams import queries as streams_db
from signaling.api.videos.access import visible_video
from signaling.auth.roles import has_role
from signaling.auth.sessions import require_user
from signaling.http.errors import ApiError
from signaling.http.json import rfc3339_or_none
from signaling.http.lookup import row_or_404
from signaling.http.pagination import page_body, page_params
from signaling.http.validation import parse_uuid, query_uuid, read_json
from signaling.keys import EVENTS, PG
from signaling.realtime import chat

logger = structlog.get_logger(__name__)

routes = web.RouteTableDef()


def comment_view(row: asyncpg.Record) -> dict[str, Any]:
    deleted = row["is_deleted"]
    return {
        "id": str(row["id"]),
        "video_id": _str_or_none(row["video_id"]),
        "stream_id": _str_or_none(row["stream_id"]),
        "parent_id": _str_or_none(row["parent_id"]),
        "is_deleted": deleted,
        "content": None if deleted else row["content"],
        "author": None
        if deleted
        else {
            "id": str(row["author_id"]),
            "account_id": row["account_id"],
            "username": row["username"],
        },
        "like_count": row["like_count"],
        "reply_count": row["reply_count"],
        "created_at": rfc3339_or_none(row["created_at"]),
        "updated_at": rfc3339_or_none(row["updated_at"]),
    }


def _str_or_none(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


async def comment_or_404(request: web.Request) -> asyncpg.Record:
    return await row_or_404(request, "comment_id", "comment", comments_db.comment)


async def _target(request: web.Request, target: str) -> uuid.UUID:
    """The id of the path's video or stream, 404 when unknown (or a video not public yet)."""
    if target == "video":
        video_id: uuid.UUID = (await visible_video(request))["id"]
        return video_id
    stream_id = parse_uuid(request.match_info["stream_id"], "stream")
    if await streams_db.by_id(request.app[PG], stream_id) is None:
        raise ApiError(404, f"no stream {stream_id}")
    return stream_id


async def _check_parent(
    request: web.Request, target: str, target_id: uuid.UUID, parent_id: uuid.UUID | None
) -> None:
    if parent_id is None:
        return
    parent = await comments_db.comment(request.app[PG], parent_id)
    if parent is None or parent[comments_db.TARGETS[target]] != target_id:
        raise ApiError(422, f"parent_id: no comment {parent_id} on this {target}", "invalid_field")


async def _create(request: web.Request, target: str) -> web.Response:
    user = await require_user(request)
    target_id = await _target(request, target)
    body = await read_json(request, CommentCreate)
    await _check_parent(request, target, target_id, body.parent_id)
    try:
        row = await comments_db.create(
            request.app[PG], target, target_id, user["id"], body.content, body.parent_id
        )
    except (asyncpg.CheckViolationError, asyncpg.ForeignKeyViolationError):
        # The parent was deleted between the check and the insert.
        raise ApiError(
            422, f"parent_id: no comment {body.parent_id} on this {target}", "invalid_field"
        ) from None
    if target == "stream" and row["parent_id"] is None:
        await request.app[EVENTS].to_stream(target_id, chat.message_view(row))
    logger.info("comments_posted", target=target, target_id=str(target_id), user_id=str(user["id"]))
    return web.json_response(comment_view(row), status=201)


async def _list(request: web.Request, target: str) -> web.Response:
    target_id = await _target(request, target)
    parent_id = query_uuid(request, "parent_id")
    await _check_parent(request, target, target_id, parent_id)
    after, limit = page_params(request)
    rows = await comments_db.listing(request.app[PG], target, target_id, parent_id, after, limit)
    return web.json_response(page_body([comment_view(r) for r in rows], rows, limit))


@routes.post("/api/videos/{video_id}/comments")
async def create_video_comment(request: web.Request) -> web.Response:
    return await _create(request, "video")


@routes.post("/api/streams/{stream_id}/comments")
async def create_stream_comment(request: web.Request) -> web.Response:
    return await _create(request, "stream")


@routes.get("/api/videos/{video_id}/comments")
async def list_video_comments(request: web.Request) -> web.Response:
    return await _list(request, "video")


@routes.get("/api/streams/{stream_id}/comments")
async def list_stream_comments(request: web.Request) -> web.Response:
    return await _list(request, "stream")


@routes.get("/api/comments/{comment_id}")
async def get_comment(request: web.Request) -> web.Response:
    return web.json_response(comment_view(await comment_or_404(request)))


@routes.patch("/api/comments/{comment_id}")
async def edit_comment(request: web.Request) -> web.Response:
    user = await require_user(request)
    comment = await comment_or_404(request)
    if comment["author_id"] != user["id"]:
        raise ApiError(403, "only the comment's author may edit it")
    body = await read_json(request, CommentText)
    row = await comments_db.edit(request.app[PG], comment["id"], body.content)
    if row is None:
        raise ApiError(409, "a deleted comment cannot be edited")
    return web.json_response(comment_view(row))


@routes.delete("/api/comments/{comment_id}")
async def delete_comment(request: web.Request) -> web.Response:
    user = await require_user(request)
    comment = await comment_or_404(request)
    if comment["author_id"] != user["id"]:
        if not await has_role(request.app[PG], user["id"], "moderator"):
            raise ApiError(403, "only the comment's author or a moderator may delete it")
        logger.info(
            "comments_removed_by_moderator",
            comment_id=str(comment["id"]),
            moderator_id=str(user["id"]),
        )
    # Deleting twice is fine: the second time changes nothing (and no counter).
    await comments_db.soft_delete(request.app[PG], comment["id"])
    return web.Response(status=204)
