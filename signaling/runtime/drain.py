"""Draining a node before it stops (SIGTERM): new viewers go elsewhere, current ones are told
to reconnect, and what is left is ended after a grace period.

The node process calls `await drain(app, grace_s)` before it stops the app (vilokanam's node
supervisor, on SIGTERM). While draining, the node's card says `draining` (so no node redirects
viewers to it) and its WHEP answers 307 to a node with room (signaling.webrtc.redirects).
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiohttp import web
from prometheus_client import Counter
from redis.exceptions import RedisError

from signaling.keys import EVENTS, LIVE, REGISTRY, ROUTING
from signaling.runtime.node_liveness import card

logger = structlog.get_logger(__name__)

RECONNECT = {"type": "reconnect", "reason": "node_draining"}
_POLL_S = 0.2

DRAINED = Counter(
    "vilokanam_node_drained_sessions_total",
    "Sessions a draining node still held when its grace ran out (ended by the node)",
    ["kind"],
)


async def drain(app: web.Application, grace_s: float) -> None:
    """Mark this node draining, tell its viewers to reconnect, and end its remaining sessions
    once they left or `grace_s` passed. Idempotent; the app keeps serving (307s) meanwhile."""
    live = app[LIVE]
    app[ROUTING].draining = True
    try:
        await app[REGISTRY].beat(card(app))  # other nodes stop sending viewers here now
    except (RedisError, OSError) as exc:
        logger.warning("cluster_drain_beat_failed", error=str(exc))
    views = [s.view for s in live.sessions() if s.view is not None]
    logger.info("cluster_node_draining", views=len(views), grace_s=grace_s)
    if views:
        try:
            await app[EVENTS].to_viewers([(v.stream_id, v.viewer_id, RECONNECT) for v in views])
        except (RedisError, OSError) as exc:
            logger.warning("cluster_drain_notify_failed", error=str(exc))
    deadline = time.monotonic() + grace_s
    # Polled: views end through many paths (DELETE, ICE loss, cuts), none of them drain's.
    while any(s.kind == "whep" for s in live.sessions()) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(_POLL_S)
    for session in live.sessions():
        if session.kind == "whep":
            DRAINED.labels("whep").inc()
            await live.end_view(session, "node_draining")
    for session in live.sessions():
        DRAINED.labels("whip").inc()
        await live.end_broadcast(session.stream_id, "node_draining")
    logger.info("cluster_node_drained")
