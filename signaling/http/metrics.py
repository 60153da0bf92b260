"""Prometheus metrics of the HTTP layer (latency and errors by route template) and the access
log line of every request; /metrics itself is served by signaling/api/ops/."""

from __future__ import annotations

import time

import structlog
from aiohttp import web
from prometheus_client import Counter, Histogram

from signaling.http.errors import Handler

logger = structlog.get_logger("signaling.http")

HTTP_LATENCY = Histogram(
    "vilokanam_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
)
HTTP_ERRORS = Counter("vilokanam_http_errors_total", "HTTP responses with status >= 500", ["route"])


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
            "http_request",
            method=request.method,
            path=route if "{session}" in route else request.path,
            status=status,
            ms=round(elapsed * 1000, 1),
        )
