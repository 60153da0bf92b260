"""The aiohttp application: middlewares, signaling's own background contexts, and one route
table per feature.

What is not HTTP (the sfu and the live sessions on it, the recorder, the VOD worker) is built
by the composition root, vilokanam/wiring.py, and handed in as cleanup contexts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from signaling.api.billing import routes as billing
from signaling.api.catalog import routes as catalog
from signaling.api.comments import routes as comments
from signaling.api.creator import routes as creator
from signaling.api.creator.figures import live_figures
from signaling.api.me import routes as me
from signaling.api.moderation import routes as moderation
from signaling.api.ops import routes as ops
from signaling.api.profiles import routes as profiles
from signaling.api.search import routes as search
from signaling.api.social import routes as social
from signaling.api.streams import routes as streams
from signaling.api.tips import routes as tips
from signaling.api.uploads import routes as uploads
from signaling.api.uploads.expiry import upload_expiry
from signaling.api.videos import routes as videos
from signaling.auth import devtools
from signaling.auth import routes as auth
from signaling.config import AppConfig
from signaling.http.errors import error_middleware
from signaling.http.metrics import metrics_middleware
from signaling.keys import CONFIG, PG, REDIS
from signaling.realtime import routes as realtime
from signaling.realtime.context import close_sockets, stream_events
from signaling.runtime.billing import billing_context
from signaling.runtime.node_liveness import node_liveness
from signaling.runtime.routing import cluster_routing
from signaling.web import routes as web_pages
from signaling.web.not_found import not_found_page
from signaling.webrtc import routes as webrtc
from signaling.webrtc.http import sfu_error_middleware
from signaling.webrtc.relays import relay_context

CleanupContext = Callable[[web.Application], AsyncIterator[None]]

# Bodies beyond this are refused before a handler runs (uploads get their own limit later).
MAX_BODY_BYTES = 1024 * 1024
# redis-py's asyncio pool refuses a command past its max_connections (100 by default) instead of
# waiting for a connection: a burst of session ends or joins (a stream ending for hundreds of
# viewers, viewers cut at once) then lost its bookkeeping and failed WHEP requests with 500
# (bench/cluster.py, docs/benchmarks.md "Cluster"). This pool makes a burst wait instead.
REDIS_MAX_CONNECTIONS = 200
REDIS_POOL_WAIT_S = 10.0

# One route table per feature; one per line so additions do not collide.
ROUTES = (
    ops.routes,
    auth.routes,
    me.routes,
    streams.routes,
    webrtc.routes,
    realtime.routes,
    web_pages.routes,
    billing.routes,
    creator.routes,
    uploads.routes,
    videos.routes,
    catalog.routes,
    social.routes,
    comments.routes,
    moderation.routes,
    search.routes,
    profiles.routes,
    tips.routes,
)


def create_app(
    config: AppConfig, media: CleanupContext, workers: Sequence[CleanupContext] = ()
) -> web.Application:
    """The HTTP app. `media` is the cleanup context that sets app[LIVE] (the live sessions over
    an sfu); `workers` run beside the server for as long as it runs (e.g. a VOD worker)."""
    app = web.Application(
        middlewares=[metrics_middleware, error_middleware, not_found_page, sfu_error_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[CONFIG] = config
    app.cleanup_ctx.append(_postgres)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(media)
    app.cleanup_ctx.append(stream_events(live_figures))  # needs app[LIVE] of the media context
    app.cleanup_ctx.append(billing_context)  # needs app[LIVE] (views) and the events
    app.cleanup_ctx.extend(workers)
    app.cleanup_ctx.append(node_liveness)  # after the media context: its LiveStreams' node id
    app.cleanup_ctx.append(cluster_routing)  # needs app[REGISTRY]
    app.cleanup_ctx.append(relay_context)  # needs app[LIVE] and the registry of node_liveness
    app.cleanup_ctx.append(upload_expiry)
    app.on_shutdown.append(close_sockets)
    app.on_response_prepare.append(_security_headers)
    for table in ROUTES:
        app.add_routes(table)
    if config.dev_mode:  # not even routed otherwise
        app.add_routes(devtools.routes)
    return app


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    # Every response, errors included: a JSON body must never be sniffed into HTML or script.
    response.headers["X-Content-Type-Options"] = "nosniff"


async def _postgres(app: web.Application) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(app[CONFIG].database_url, min_size=1, max_size=10)
    app[PG] = pool
    yield
    await pool.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    pool = aioredis.BlockingConnectionPool.from_url(
        app[CONFIG].redis_url, max_connections=REDIS_MAX_CONNECTIONS, timeout=REDIS_POOL_WAIT_S
    )
    client = aioredis.Redis.from_pool(pool)  # closes the pool with the client
    app[REDIS] = client
    yield
    await client.aclose()
