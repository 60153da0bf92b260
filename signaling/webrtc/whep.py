"""WHEP playback: the viewer's session token as Bearer token; 409 + Retry-After when not live.

Any node serves any viewer: a stream published on another node is relayed here first
(signaling/webrtc/relays.py).

The price a viewer pays is the one they accepted: a paid stream's WHEP request carries it
(`Vilokanam-Price` header or `?price=`), and a view starts only when it equals the stream's
current price; otherwise 412 with the current price, and nothing starts. The view keeps that
price until it ends, whatever the creator sets meanwhile (billing charges the view's price).
"""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from signaling.auth.sessions import CHALLENGE
from signaling.http.errors import ApiError
from signaling.keys import LIVE, RELAYS
from signaling.runtime.viewing import TooManyViews, ViewRefused
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
from signaling.webrtc.redirects import redirect_if_full, viewer_of

routes = web.RouteTableDef()

PRICE_HEADER = "Vilokanam-Price"


def accepted_price(request: web.Request) -> str | None:
    """The price (planck per second) the viewer agreed to, from the header or the query."""
    return request.headers.get(PRICE_HEADER) or request.query.get("price")


def check_price(request: web.Request, price: Decimal) -> None:
    """412 unless the viewer accepted ``price``; a free stream needs no agreement."""
    accepted = accepted_price(request)
    if accepted is None and price == 0:
        return
    if accepted is not None and accepted.isascii() and accepted.isdigit():
        if int(accepted) == price:
            return
    current = str(int(price))
    message = (
        f"this stream costs {current} planck per second; send the price you accept in "
        f"the {PRICE_HEADER} header"
        if accepted is None
        else f"the price is now {current} planck per second: accept it first"
    )
    raise ApiError(
        412,
        message,
        "price_changed" if accepted else "price_required",
        headers={**CORS, PRICE_HEADER: current},
        details={"price": current},
    )


@routes.post("/whep/{stream_id}")
async def subscribe(request: web.Request) -> web.Response:
    stream = await stream_or_404(request)
    viewer_id = await viewer_of(request)
    if viewer_id is None:
        raise ApiError(
            401, "sign in to watch: missing or expired session token", headers={**CORS, **CHALLENGE}
        )
    await redirect_if_full(request, stream["id"], viewer_id)
    offer = await read_offer(request)
    check_price(request, stream["price_per_second"])
    live = request.app[LIVE]
    try:
        # Published on another node: served here all the same, through a relay from there.
        async with request.app[RELAYS].serving(stream["id"]):
            session, answer = await live.start_view(stream, viewer_id, offer)
    except ViewRefused as exc:
        raise ApiError(402, str(exc), headers=CORS) from None
    except TooManyViews as exc:
        raise ApiError(429, str(exc), "too_many_views", headers=CORS) from None
    return await held(request, session, answer)


@routes.patch("/whep/{stream_id}/{session}")
@follows_its_node("whep")
async def trickle(request: web.Request) -> web.Response:
    return await patch(request, "whep")


@routes.delete("/whep/{stream_id}/{session}")
@follows_its_node("whep")
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
