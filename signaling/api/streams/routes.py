"""Streams API: creators create, edit, rotate keys and delete streams; anyone lists them."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import Field

from signaling.api.streams import queries as streams_db
from signaling.auth.sessions import require_user
from signaling.auth.tokens import digest, new_secret
from signaling.http.errors import ApiError
from signaling.http.json import planck, rfc3339_or_none
from signaling.http.pagination import next_cursor, page_params
from signaling.http.validation import Body, changes_of, parse_uuid, query_uuid, read_json
from signaling.keys import LIVE, PG

routes = web.RouteTableDef()

STREAM_KEY_PREFIX = "vks"
STATUSES = ("pending", "live", "ended", "archived")
# Prices are planck as decimal strings: u128 does not fit a JS number.
PRICE_PATTERN = r"^(0|[1-9][0-9]{0,37})$"


class StreamCreate(Body):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)
    category_id: uuid.UUID | None = None
    price_per_second: str = Field(pattern=PRICE_PATTERN, description="planck per second")


class StreamUpdate(Body):
    title: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)
    category_id: uuid.UUID | None = None
    price_per_second: str | None = Field(default=None, pattern=PRICE_PATTERN)


def stream_view(request: web.Request, row: asyncpg.Record) -> dict[str, Any]:
    live = request.app[LIVE]
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "description": row["description"],
        "category_id": str(row["category_id"]) if row["category_id"] else None,
        "status": row["status"],
        "price_per_second": planck(row["price_per_second"]),
        "viewer_count": live.viewer_count(row["id"]),
        "total_ticks": row["total_ticks"],
        "start_time": rfc3339_or_none(row["start_time"]),
        "end_time": rfc3339_or_none(row["end_time"]),
        "recording_url": row["recording_url"],
        "thumbnail_url": row["thumbnail_url"],
        "created_at": rfc3339_or_none(row["created_at"]),
        "updated_at": rfc3339_or_none(row["updated_at"]),
        "creator": {
            "id": str(row["creator_id"]),
            "account_id": row["creator_account_id"],
            "username": row["creator_username"],
        },
        "whip_url": f"/whip/{row['id']}",
        "whep_url": f"/whep/{row['id']}",
    }


async def _check_category(request: web.Request, category_id: uuid.UUID | None) -> None:
    if category_id is None:
        return
    if not await streams_db.category_exists(request.app[PG], category_id):
        raise ApiError(422, f"category_id: no category {category_id}", "invalid_field")


async def _own_stream(request: web.Request) -> asyncpg.Record:
    user = await require_user(request)
    stream = await _stream_or_404(request)
    if stream["creator_id"] != user["id"]:
        raise ApiError(403, "only the stream's creator may do this")
    return stream


async def _stream_or_404(request: web.Request) -> asyncpg.Record:
    stream_id = parse_uuid(request.match_info["stream_id"], "stream")
    stream = await streams_db.by_id(request.app[PG], stream_id)
    if stream is None:
        raise ApiError(404, f"no stream {stream_id}")
    return stream


@routes.post("/api/streams")
async def create_stream(request: web.Request) -> web.Response:
    user = await require_user(request)
    if not user["is_creator"]:
        raise ApiError(403, "only creators can create streams (PATCH /api/me is_creator=true)")
    body = await read_json(request, StreamCreate)
    await _check_category(request, body.category_id)
    key = new_secret(STREAM_KEY_PREFIX)
    row = await streams_db.create(request.app[PG], user["id"], body.model_dump(), digest(key))
    return web.json_response({**stream_view(request, row), "stream_key": key}, status=201)


@routes.get("/api/streams")
async def list_streams(request: web.Request) -> web.Response:
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}")
    category = query_uuid(request, "category")
    creator = query_uuid(request, "creator")
    after, limit = page_params(request)
    rows = await streams_db.listing(
        request.app[PG], status=status, category=category, creator=creator, after=after,
        limit=limit,
    )
    return web.json_response(
        {"items": [stream_view(request, row) for row in rows],
         "next_cursor": next_cursor(rows, limit)}
    )


@routes.get("/api/streams/{stream_id}")
async def get_stream(request: web.Request) -> web.Response:
    return web.json_response(stream_view(request, await _stream_or_404(request)))


@routes.patch("/api/streams/{stream_id}")
async def update_stream(request: web.Request) -> web.Response:
    stream = await _own_stream(request)
    body = await read_json(request, StreamUpdate)
    changes = changes_of(body, not_null=("title", "price_per_second"))
    if "price_per_second" in changes:
        if request.app[LIVE].is_live(stream["id"]):
            raise ApiError(409, "the price cannot change while the stream is live")
        changes["price_per_second"] = int(changes["price_per_second"])
    await _check_category(request, changes.get("category_id"))
    row = await streams_db.update(request.app[PG], stream["id"], changes)
    return web.json_response(stream_view(request, row))


@routes.post("/api/streams/{stream_id}/key")
async def rotate_key(request: web.Request) -> web.Response:
    """A new key; the broadcast that used the old one (perhaps leaked) ends at once."""
    stream = await _own_stream(request)
    key = new_secret(STREAM_KEY_PREFIX)
    await streams_db.update(request.app[PG], stream["id"], {"stream_key_hash": digest(key)})
    await _end_broadcast(request, stream, "key_rotated")
    row = await streams_db.by_id(request.app[PG], stream["id"])
    return web.json_response({**stream_view(request, row), "stream_key": key})


@routes.post("/api/streams/{stream_id}/end")
async def end_broadcast(request: web.Request) -> web.Response:
    """The owner ends the live broadcast, whoever publishes it; 409 when it is not live."""
    stream = await _own_stream(request)
    if not await _end_broadcast(request, stream, "ended_by_owner"):
        raise ApiError(409, "the stream is not live")
    return web.json_response(stream_view(request, await streams_db.by_id(request.app[PG],
                                                                          stream["id"])))


async def _end_broadcast(request: web.Request, stream: asyncpg.Record, reason: str) -> bool:
    """End the stream's broadcast (and its views); False when it was not live.

    A stream still marked live that no publisher here serves (the process serving it died)
    is closed in PostgreSQL.
    """
    live = request.app[LIVE]
    if live.is_live(stream["id"]):
        await live.end_broadcast(stream["id"], reason)
        return True
    if stream["status"] == "live":
        await streams_db.end_live(request.app[PG], stream["id"])
        return True
    return False


@routes.delete("/api/streams/{stream_id}")
async def delete_stream(request: web.Request) -> web.Response:
    stream = await _own_stream(request)
    if request.app[LIVE].is_live(stream["id"]) or stream["status"] == "live":
        raise ApiError(409, "a live stream cannot be deleted; end the broadcast first "
                            f"(POST /api/streams/{stream['id']}/end)")
    deleted = await request.app[PG].execute(
        """DELETE FROM streams WHERE id = $1 AND status <> 'live' AND NOT EXISTS
               (SELECT 1 FROM stream_viewers WHERE stream_id = $1 AND paid_amount > 0)""",
        stream["id"],
    )
    if deleted == "DELETE 0":
        raise ApiError(409, "this stream has paid views and is kept for the record")
    return web.Response(status=204)
