"""WHIP ingest (RFC 9725): the stream key as Bearer token, SDP offer in, SDP answer out."""

from __future__ import annotations

import hmac

from aiohttp import web

from sfu import AlreadyPublishing
from signaling.auth.tokens import bearer, digest
from signaling.http.errors import ApiError
from signaling.keys import LIVE, RELAYS
from signaling.webrtc.forwarding import follows_its_node, held
from signaling.webrtc.http import (
    CORS,
    find_session,
    options,
    patch,
    read_offer,
    stream_or_404,
    with_cors,
)
from signaling.webrtc.redirects import refuse_while_draining

routes = web.RouteTableDef()


@routes.post("/whip/{stream_id}")
async def publish(request: web.Request) -> web.Response:
    stream = await stream_or_404(request)
    stream_id = stream["id"]
    key = bearer(request.headers.get("Authorization"))
    if (
        key is None
        or stream["stream_key_hash"] is None
        or not hmac.compare_digest(digest(key), stream["stream_key_hash"])
    ):
        raise ApiError(
            401,
            "wrong or missing stream key (Authorization: Bearer <stream key>)",
            headers={**CORS, "WWW-Authenticate": 'Bearer realm="whip"'},
        )
    offer = await read_offer(request)
    refuse_while_draining(request)
    live = request.app[LIVE]
    if live.is_origin(stream_id):
        raise AlreadyPublishing(str(stream_id))
    if stream["status"] == "archived":
        raise ApiError(409, "the stream is archived; create a new stream", headers=CORS)
    await request.app[RELAYS].make_way(stream_id)  # published on another node: 409 too
    session, answer = await live.start_broadcast(stream_id, offer)
    return await held(request, session, answer)


@routes.patch("/whip/{stream_id}/{session}")
@follows_its_node("whip")
async def trickle(request: web.Request) -> web.Response:
    return await patch(request, "whip")


@routes.delete("/whip/{stream_id}/{session}")
@follows_its_node("whip")
async def stop(request: web.Request) -> web.Response:
    session = await find_session(request, "whip")
    await request.app[LIVE].end_broadcast(session.stream_id, "publisher_left")
    return with_cors(web.Response(status=200))


@routes.options("/whip/{stream_id}")
async def preflight(request: web.Request) -> web.Response:
    return options(request, "POST, OPTIONS")


@routes.options("/whip/{stream_id}/{session}")
async def session_preflight(request: web.Request) -> web.Response:
    return options(request, "PATCH, DELETE, OPTIONS")
