"""Streams API: creators create, edit, rotate keys and delete streams; anyone lists them."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from recorder import LIVE_URL_PREFIX, live_thumbnail_path
from signaling.api.streams import queries as streams_db
from signaling.api.streams.models import StreamCreate, StreamUpdate
from signaling.api.streams.views import stream_view
from signaling.auth.roles import require_creator, require_owner
from signaling.auth.sessions import require_user
from signaling.auth.tokens import digest, new_secret
from signaling.http.errors import ApiError
from signaling.http.lookup import row_or_404
from signaling.http.pagination import next_cursor, page_params
from signaling.http.validation import changes_of, query_uuid, read_json
from signaling.keys import CONFIG, LIVE, PG
from signaling.runtime.routing import end_broadcast_on

routes = web.RouteTableDef()

STREAM_KEY_PREFIX = "vks"
STATUSES = ("pending", "live", "ended", "archived")


async def _check_category(request: web.Request, category_id: uuid.UUID | None) -> None:
    if category_id is None:
        return
    if not await streams_db.category_exists(request.app[PG], category_id):
        raise ApiError(422, f"category_id: no category {category_id}", "invalid_field")


async def _own_stream(request: web.Request) -> asyncpg.Record:
    user = await require_user(request)
    stream = await _stream_or_404(request)
    require_owner(user, stream, "only the stream's creator may do this")
    return stream


async def _stream_or_404(request: web.Request) -> asyncpg.Record:
    return await row_or_404(request, "stream_id", "stream", streams_db.by_id)


@routes.post("/api/streams")
async def create_stream(request: web.Request) -> web.Response:
    user = await require_creator(
        request, "only creators can create streams (PATCH /api/me is_creator=true)"
    )
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
        request.app[PG],
        status=status,
        category=category,
        creator=creator,
        after=after,
        limit=limit,
    )
    return web.json_response(
        {
            "items": [stream_view(request, row) for row in rows],
            "next_cursor": next_cursor(rows, limit),
        }
    )


@routes.get("/api/streams/{stream_id}")
async def get_stream(request: web.Request) -> web.Response:
    return web.json_response(stream_view(request, await _stream_or_404(request)))


@routes.get(LIVE_URL_PREFIX + "/{stream_id}/thumbnail.jpg")
async def live_thumbnail(request: web.Request) -> web.FileResponse:
    """The stream's latest live thumbnail (the recorder replaces it about every 30 s)."""
    stream = await _stream_or_404(request)
    path = live_thumbnail_path(request.app[CONFIG].media.media_root, stream["id"])
    if not path.is_file():
        raise ApiError(404, "this stream has no thumbnail yet")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "image/jpeg",
            "Cache-Control": "public, max-age=30",  # its URL changes (?v=) with each new image
            "X-Content-Type-Options": "nosniff",
        },
    )


@routes.patch("/api/streams/{stream_id}")
async def update_stream(request: web.Request) -> web.Response:
    stream = await _own_stream(request)
    body = await read_json(request, StreamUpdate)
    changes = changes_of(body, not_null=("title", "price_per_second"))
    if "price_per_second" in changes:
        if request.app[LIVE].is_live(stream["id"]) or stream["status"] == "live":
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
    return web.json_response(
        stream_view(request, await streams_db.by_id(request.app[PG], stream["id"]))
    )


async def _end_broadcast(request: web.Request, stream: asyncpg.Record, reason: str) -> bool:
    """End the stream's broadcast (and its views); False when it was not live.

    A broadcast another node holds (its origin) is ended there (a command over Redis, answered
    within 2 s). A stream still marked live that no living node serves (the node serving it
    died) is closed in PostgreSQL.
    """
    live = request.app[LIVE]
    if live.is_origin(stream["id"]):
        await live.end_broadcast(stream["id"], reason)
        return True
    if stream["status"] != "live":
        return False
    node_id = await streams_db.live_node(request.app[PG], stream["id"])
    if node_id is None or not await end_broadcast_on(request.app, node_id, stream["id"], reason):
        await streams_db.end_live(request.app[PG], stream["id"])
    return True


@routes.delete("/api/streams/{stream_id}")
async def delete_stream(request: web.Request) -> web.Response:
    stream = await _own_stream(request)
    if request.app[LIVE].is_live(stream["id"]) or stream["status"] == "live":
        raise ApiError(
            409,
            "a live stream cannot be deleted; end the broadcast first "
            f"(POST /api/streams/{stream['id']}/end)",
        )
    if not await streams_db.delete_unpaid(request.app[PG], stream["id"]):
        raise ApiError(409, "this stream has paid views and is kept for the record")
    return web.Response(status=204)
