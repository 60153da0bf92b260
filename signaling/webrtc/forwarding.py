"""Session URLs follow their node: WHIP/WHEP PATCH and DELETE reach the node holding the session.

Each node records the sessions it creates in the registry (`hold`, before the 201 answer, so a
trickle PATCH landing on another node right after finds it). A PATCH or DELETE for a session
this node does not hold is forwarded to the holding node's internal URL (signaling.cluster.
forwarding), once: a forwarded request is never forwarded again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from signaling.cluster.forwarding import forward, node_request
from signaling.http.errors import Handler
from signaling.http.validation import parse_uuid
from signaling.keys import LIVE, REGISTRY, ROUTING
from signaling.webrtc.http import created, enforce_session_limit
from signaling.webrtc.sessions import Kind, PeerSession

logger = structlog.get_logger(__name__)


async def held(request: web.Request, session: PeerSession, answer: str) -> web.Response:
    """The 201 of a new session, once the registry says this node holds it."""
    try:
        await request.app[REGISTRY].hold_session(session.token)
    except (RedisError, OSError) as exc:  # the session still works when it lands here
        logger.warning("cluster_session_hold_failed", kind=session.kind, error=str(exc))
    return created(request, session, answer)


def follows_its_node(kind: Kind) -> Callable[[Handler], Handler]:
    """Wrap a session handler (PATCH/DELETE): forward to the node holding the session when it is
    another one; otherwise (held here, unknown, or forwarded already) the handler answers."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def routed(request: web.Request) -> web.StreamResponse:
            routing = request.app[ROUTING]
            if node_request(request, routing.secret) or not routing.secret:
                return await handler(request)  # loop guard; without a credential, no forwarding
            stream_id = parse_uuid(request.match_info["stream_id"], "stream")
            token = request.match_info["session"]
            if request.app[LIVE].session(kind, stream_id, token) is not None:
                return await handler(request)
            node = await request.app[REGISTRY].session_node(token)
            if node is None:
                return await handler(request)  # 404 as before
            await enforce_session_limit(request)  # counted here, not again on the holder
            logger.info("cluster_session_forwarded", kind=kind, to_node=node.node_id)
            return await forward(routing.client, request, node.internal_url, routing.secret)

        return routed

    return wrap
