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
import uuid
from collections.abc import AsyncIterator
from typing import cast

import asyncpg
import redis.asyncio as aioredis
import structlog
from aiohttp import web
from prometheus_client import Counter

from signaling.background import every, finish
from signaling.keys import CONFIG, LIVE, PG, REDIS

logger = structlog.get_logger(__name__)

ORPHANS_CLOSED = Counter(
    "vilokanam_orphans_closed_total",
    "Live sessions and views left open by a dead server process, closed by a sweep",
    ["kind"],
)

# A heartbeat every TTL/3; a node silent for TTL is dead. Rows younger than TTL are never swept,
# so a node that registered after a sweep read the living set cannot lose its first sessions.
NODE_TTL_S = 15.0
SWEEP_EVERY_S = 5.0

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


def _nodes_key(prefix: str) -> str:
    return f"{prefix}nodes"


async def _redis_now(redis: aioredis.Redis) -> float:
    seconds, micros = await redis.time()
    return seconds + micros / 1e6


async def beat(redis: aioredis.Redis, prefix: str, node_id: uuid.UUID) -> None:
    """Announce this node alive for the next NODE_TTL_S seconds."""
    await redis.zadd(_nodes_key(prefix), {str(node_id): await _redis_now(redis) + NODE_TTL_S})


async def living_nodes(redis: aioredis.Redis, prefix: str) -> list[uuid.UUID]:
    key, now = _nodes_key(prefix), await _redis_now(redis)
    await redis.zremrangebyscore(key, "-inf", now)
    members = cast(list[bytes], await redis.zrange(key, 0, -1))  # no decode_responses: bytes
    return [uuid.UUID(member.decode()) for member in members]


async def sweep(db: asyncpg.Pool, redis: aioredis.Redis, prefix: str) -> asyncpg.Record:
    """Close what dead nodes left open; counts of sessions, views and streams closed."""
    closed = await db.fetchrow(_SWEEP, await living_nodes(redis, prefix), NODE_TTL_S)
    if closed["sessions"] or closed["views"]:
        ORPHANS_CLOSED.labels("session").inc(closed["sessions"])
        ORPHANS_CLOSED.labels("view").inc(closed["views"])
        logger.warning("node_orphans_closed", **dict(closed))
    return closed


async def _beat_and_sweep(app: web.Application) -> None:
    db, redis, prefix = app[PG], app[REDIS], app[CONFIG].server.redis_prefix
    try:
        await beat(redis, prefix, app[LIVE].node_id)
        await sweep(db, redis, prefix)
    except (OSError, asyncpg.PostgresError, aioredis.RedisError) as exc:
        logger.warning("node_heartbeat_or_sweep_failed", error=str(exc))


async def node_liveness(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: beat and sweep while the app runs; leave the living set on a clean stop."""
    await beat(app[REDIS], app[CONFIG].server.redis_prefix, app[LIVE].node_id)
    stop = asyncio.Event()
    task = asyncio.create_task(every(SWEEP_EVERY_S, stop, lambda: _beat_and_sweep(app)))
    yield
    stop.set()
    await finish([task])
    with contextlib.suppress(OSError, aioredis.RedisError):
        await app[REDIS].zrem(_nodes_key(app[CONFIG].server.redis_prefix), str(app[LIVE].node_id))
