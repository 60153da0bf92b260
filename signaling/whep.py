"""WHEP playback: the viewer's session token as Bearer token; 409 + Retry-After when not live."""

from __future__ import annotations

from aiohttp import web

from sfu import NotLive, UnsupportedOffer
from signaling.errors import ApiError
from signaling.keys import LIVE
from signaling.sessions import CHALLENGE, session_user_id
from signaling.viewing import ViewRefused
from signaling.webrtc_http import (
    CORS,
    created,
    find_session,
    options,
    patch,
    read_offer,
    stream_or_404,
    with_cors,
)

routes = web.RouteTableDef()

RETRY_AFTER_S = 5


def _not_live() -> ApiError:
    return ApiError(409, "the stream is not live yet", "not_live",
                    headers={**CORS, "Retry-After": str(RETRY_AFTER_S)})


@routes.post("/whep/{stream_id}")
async def subscribe(request: web.Request) -> web.Response:
    stream = await stream_or_404(request)
    viewer_id = await session_user_id(request)
    if viewer_id is None:
        raise ApiError(401, "sign in to watch: missing or expired session token",
                       headers={**CORS, **CHALLENGE})
    offer = await read_offer(request)
    live = request.app[LIVE]
    if not live.is_live(stream["id"]):
        raise _not_live()
    try:
        session, answer = await live.start_view(stream, viewer_id, offer)
    except ViewRefused as exc:
        raise ApiError(402, str(exc), headers=CORS) from None
    except NotLive:
        raise _not_live() from None
    except UnsupportedOffer as exc:
        raise ApiError(422, f"unusable offer: {exc}", headers=CORS) from None
    return created(request, session, answer)


@routes.patch("/whep/{stream_id}/{session}")
async def trickle(request: web.Request) -> web.Response:
    return await patch(request, "whep")


@routes.delete("/whep/{stream_id}/{session}")
async def leave(request: web.Request) -> web.Response:
    session = await find_session(request, "whep")
    await request.app[LIVE].end_view(session, "left")
    return with_cors(web.Response(status=200))


@routes.options("/whep/{stream_id}")
async def preflight(request: web.Request) -> web.Response:
    return options(request, "POST, OPTIONS")


@routes.options("/whep/{stream_id}/{session}")
async def session_preflight(request: web.Request) -> web.Response:
    return options(request, "PATCH, DELETE, OPTIONS")
