"""Sessions and views a dead process left open are closed by the living ones.

Every server process (node) stamps the stream_sessions and stream_viewers rows it opens with its
node id and keeps a heartbeat in Redis (a sorted set: node id → expiry on Redis's clock). A node
killed with SIGKILL stops beating; once its expiry has passed, any node's sweep ends its open
sessions (stream ended unless another live node serves it now) and marks its views inactive.
Money is untouched: charged seconds stay on the views (settlement owns them), and nothing is
charged after the owner died because its tick service died with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import redis.asyncio as aioredis
import structlog
from aiohttp import web
from prometheus_client import Counter

from signaling.background import every, finish
from signaling.cluster.registry import NODE_TTL_S, NodeCard, Registry
from signaling.keys import CONFIG, CPU, LIVE, PG, REDIS, REGISTRY, ROUTING

logger = structlog.get_logger(__name__)

ORPHANS_CLOSED = Counter(
    "vilokanam_orphans_closed_total",
    "Live sessions and views left open by a dead server process, closed by a sweep",
    ["kind"],
)

# A heartbeat every NODE_TTL_S/3. Rows younger than NODE_TTL_S are never swept, so a node that
# registered after a sweep read the living set cannot lose its first sessions.
SWEEP_EVERY_S = NODE_TTL_S / 3

_SWEEP = """
WITH sessions AS (
    UPDATE stream_sessions SET end_time = now()
     WHERE end_time IS NULL AND start_time < now() - make_interval(secs => $2)
       AND (node_id IS NULL OR NOT node_id = ANY($1::uuid[]))
    RETURNING stream_id
), views AS (
    UPDATE stream_viewers SET is_active = FALSE
     WHERE is_active AND join_time < now() - make_interval(secs => $2)
       AND (node_id IS NULL OR NOT node_id = ANY($1::uuid[]))
    RETURNING id
), streams_ended AS (
    UPDATE streams SET status = 'ended', end_time = now(), viewer_count = 0
     WHERE status = 'live' AND id IN (SELECT stream_id FROM sessions)
       AND NOT EXISTS (SELECT 1 FROM stream_sessions s
                        WHERE s.stream_id = streams.id AND s.end_time IS NULL
                          AND s.node_id = ANY($1::uuid[]))
    RETURNING id
)
SELECT (SELECT count(*) FROM sessions) AS sessions, (SELECT count(*) FROM views) AS views,
       (SELECT count(*) FROM streams_ended) AS streams
"""


async def sweep(db: asyncpg.Pool, registry: Registry) -> asyncpg.Record:
    """Close what dead nodes left open; counts of sessions, views and streams closed."""
    living = [uuid.UUID(node_id) for node_id in await registry.living()]
    closed = await db.fetchrow(_SWEEP, living, NODE_TTL_S)
    if closed["sessions"] or closed["views"]:
        ORPHANS_CLOSED.labels("session").inc(closed["sessions"])
        ORPHANS_CLOSED.labels("view").inc(closed["views"])
        logger.warning("node_orphans_closed", **dict(closed))
    return closed


class CpuShare:
    """Share of one core this process used between two readings (1.0: one core busy)."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), time.process_time())

    def read(self) -> float:
        now = (time.monotonic(), time.process_time())
        wall, used = now[0] - self._last[0], now[1] - self._last[1]
        self._last = now
        return round(used / wall, 3) if wall > 0 else 0.0


def card(app: web.Application) -> NodeCard:
    """What this node announces: where other nodes reach it, what it holds, how busy it is."""
    live, config = app[LIVE], app[CONFIG]
    routing = app.get(ROUTING)  # opened after this context's first beat
    cpu = app.get(CPU)
    return NodeCard(
        node_id=str(live.node_id),
        internal_url=config.cluster.node_internal_url or config.public_url,
        media_addresses=list(config.rtc.rtc_host_addresses),
        viewers=live.local_viewers(),
        streams=live.local_streams(),
        relays=live.local_relays(),
        cpu=cpu.read() if cpu is not None else 0.0,
        max_viewers=config.cluster.node_max_viewers,
        pid=os.getpid(),
        draining=routing is not None and routing.draining,
        media_port=live.sfu.udp_port or 0,
    )


async def _beat_and_sweep(app: web.Application) -> None:
    try:
        await app[REGISTRY].beat(card(app))
        await sweep(app[PG], app[REGISTRY])
    except (OSError, asyncpg.PostgresError, aioredis.RedisError) as exc:
        logger.warning("node_heartbeat_or_sweep_failed", error=str(exc))


async def node_liveness(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: beat and sweep while the app runs; leave the living set on a clean stop."""
    registry = Registry(app[REDIS], app[CONFIG].server.redis_prefix, app[LIVE].node_id)
    app[REGISTRY] = registry
    app[CPU] = CpuShare()
    await registry.beat(card(app))
    stop = asyncio.Event()
    task = asyncio.create_task(every(SWEEP_EVERY_S, stop, lambda: _beat_and_sweep(app)))
    yield
    stop.set()
    await finish([task])
    with contextlib.suppress(OSError, aioredis.RedisError):
        await registry.leave()
