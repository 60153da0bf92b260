"""Prometheus metrics for the HTTP layer and the /metrics endpoint.

Other packages register their own metrics in the default registry; /metrics exposes them all.
"""

from __future__ import annotations

import time

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from signaling.errors import Handler

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
        # Path only: query strings and headers may carry secrets.
        logger.info(
            "http",
            method=request.method,
            path=request.path,
            status=status,
            ms=round(elapsed * 1000, 1),
        )


@routes.get("/metrics")
async def metrics(_request: web.Request) -> web.Response:
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
