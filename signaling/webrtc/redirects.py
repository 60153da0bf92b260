"""A full or draining node sends new viewers to a node with room (RFC 9725 permits a redirect).

The answer is `307 Temporary Redirect` to `{node internal URL}/whep/{stream_id}?ticket=…`.
Browsers drop `Authorization` when a redirect crosses origins, so the viewer's sign-in travels
as a ticket: single use, valid 30 s, taken by the node the viewer lands on (`viewer_of`).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import structlog
from aiohttp import web
from prometheus_client import Counter

from signaling.auth.sessions import CHALLENGE, session_user_id
from signaling.http.errors import ApiError
from signaling.keys import CONFIG, LIVE, REGISTRY, ROUTING
from signaling.webrtc.http import CORS

logger = structlog.get_logger(__name__)

NO_ROOM_RETRY_S = 5
DRAINING_RETRY_S = 1

REDIRECTS = Counter(
    "vilokanam_whep_redirects_total",
    "WHEP offers sent to another node, or refused for want of one (outcome: redirected, no_room)",
    ["outcome"],
)


async def viewer_of(request: web.Request) -> uuid.UUID | None:
    """The viewer a WHEP offer is for: a redirect's ticket (401 when it is not valid any more)
    or the Bearer session token; None when neither is given."""
    ticket = request.query.get("ticket")
    if ticket is None:
        return await session_user_id(request)
    viewer_id = await request.app[REGISTRY].take_ticket(ticket)
    if viewer_id is None:
        raise ApiError(
            401,
            "this redirect ticket is unknown, used or expired; start again at the stream's "
            "WHEP URL with your session token",
            "bad_ticket",
            headers={**CORS, **CHALLENGE},
        )
    return viewer_id


def takes_viewers(app: web.Application) -> bool:
    """Whether this node takes one more viewer: not draining and below NODE_MAX_VIEWERS."""
    limit = app[CONFIG].cluster.node_max_viewers
    if app[ROUTING].draining:
        return False
    return limit <= 0 or app[LIVE].local_viewers() < limit


async def redirect_if_full(
    request: web.Request, stream_id: uuid.UUID, viewer_id: uuid.UUID
) -> None:
    """Raise the 307 to a node with room when this one takes no more viewers; 503 with
    Retry-After when no node has room."""
    if takes_viewers(request.app):
        return
    registry = request.app[REGISTRY]
    node = await registry.with_room()
    if node is None:
        REDIRECTS.labels("no_room").inc()
        raise ApiError(
            503,
            f"every server is full; try again in {NO_ROOM_RETRY_S} s",
            "no_room",
            headers={**CORS, "Retry-After": str(NO_ROOM_RETRY_S)},
        )
    query = {"ticket": await registry.issue_ticket(viewer_id)}
    if "price" in request.query:  # the price the viewer accepted, if it came in the query
        query["price"] = request.query["price"]
    REDIRECTS.labels("redirected").inc()
    logger.info("cluster_whep_redirected", to_node=node.node_id, stream_id=str(stream_id))
    raise web.HTTPTemporaryRedirect(
        f"{node.internal_url}/whep/{stream_id}?{urlencode(query)}", headers=CORS
    )


def refuse_while_draining(request: web.Request) -> None:
    """503 for a new broadcast on a draining node: the publisher's retry lands on another one
    (a stream key is not something to hand to a redirect)."""
    if request.app[ROUTING].draining:
        raise ApiError(
            503,
            f"this server is shutting down; publish again in {DRAINING_RETRY_S} s",
            "draining",
            headers={**CORS, "Retry-After": str(DRAINING_RETRY_S)},
        )
