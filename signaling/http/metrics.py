"""Prometheus metrics for the HTTP layer, live streams and viewers, and the /metrics endpoint.

Other packages register their own metrics in the default registry; /metrics exposes them all.
The live gauges count this process's own streams (LiveStreams), sampled at scrape time, so
summing them over processes gives the whole server.
"""

from __future__ import annotations

import hmac
import time

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from signaling.http.errors import ApiError, Handler
from signaling.keys import CONFIG, LIVE, PG

logger = structlog.get_logger("signaling.http")
routes = web.RouteTableDef()

HTTP_LATENCY = Histogram(
    "vilokanam_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
)
HTTP_ERRORS = Counter(
    "vilokanam_http_errors_total", "HTTP responses with status >= 500", ["route"]
)

LIVE_STREAMS = Gauge("vilokanam_live_streams", "Streams live in this process (at scrape time)")
LIVE_VIEWERS = Gauge(
    "vilokanam_live_viewers", "Viewers watching this process's live streams (at scrape time)"
)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    # Templates, not paths: ids must not explode label cardinality.
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = _route(request)
        HTTP_LATENCY.labels(request.method, route, str(status)).observe(elapsed)
        if status >= 500:
            HTTP_ERRORS.labels(route).inc()
        # Path only (query strings and headers may carry secrets), and only the route template
        # where the path itself is a capability (WHIP/WHEP session URLs).
        logger.info(
            "http",
            method=request.method,
            path=route if "{session}" in route else request.path,
            status=status,
            ms=round(elapsed * 1000, 1),
        )


async def _sample_live(app: web.Application) -> None:
    """Set the live gauges from this process's LiveStreams.

    PostgreSQL names the streams live anywhere; LiveStreams says which of them this process
    serves and how many watch each. Without PostgreSQL the gauges keep their last value.
    """
    live = app[LIVE]
    try:
        rows = await app[PG].fetch("SELECT id FROM streams WHERE status = 'live'")
    except (asyncpg.PostgresError, OSError) as exc:
        logger.warning("live gauges not sampled", error=str(exc))
        return
    mine = [row["id"] for row in rows if live.is_live(row["id"])]
    LIVE_STREAMS.set(len(mine))
    LIVE_VIEWERS.set(sum(live.viewer_count(stream_id) for stream_id in mine))


async def exposition(app: web.Application) -> web.Response:
    """The Prometheus text of every metric, live gauges sampled from `app` now."""
    await _sample_live(app)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    if not config.metrics_on_main and config.metrics_token is None:
        raise ApiError(404, "metrics are served on the metrics listener")
    if config.metrics_token is not None:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(offered.encode(), config.metrics_token.encode()):
            raise ApiError(401, "metrics need the metrics bearer token",
                           headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return await exposition(request.app)


def metrics_app(main: web.Application) -> web.Application:
    """A listener of its own serving only /metrics of `main` (METRICS_ADDRESS)."""
    app = web.Application()

    async def handler(_request: web.Request) -> web.Response:
        return await exposition(main)

    app.router.add_get("/metrics", handler)
    return app
