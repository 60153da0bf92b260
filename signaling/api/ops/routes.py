"""Operations: GET /api/health (200 when PostgreSQL and Redis answer, 503 naming what does
not; with the id of the node that answered), /metrics (Prometheus; open, behind a token, or on
its own listener) and the OpenAPI document of the whole API at /api/openapi.json."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable

from aiohttp import web

from signaling.api.ops.metrics import exposition
from signaling.api.ops.openapi import document
from signaling.http.errors import ApiError
from signaling.keys import CONFIG, LIVE, PG, REDIS

routes = web.RouteTableDef()

_TIMEOUT_S = 2.0


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, _TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; report its kind
        return f"down: {type(exc).__name__}"
    return "ok"


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    postgres, redis = await asyncio.gather(
        _check(request.app[PG].fetchval("SELECT 1")), _check(request.app[REDIS].ping())
    )
    healthy = postgres == "ok" and redis == "ok"
    return web.json_response(
        {
            "status": "ok" if healthy else "degraded",
            "postgres": postgres,
            "redis": redis,
            "node_id": str(request.app[LIVE].node_id),  # which node of the cluster answered
        },
        status=200 if healthy else 503,
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    if not config.metrics_on_main and config.server.metrics_token is None:
        raise ApiError(404, "metrics are served on the metrics listener")
    if config.server.metrics_token is not None:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(offered.encode(), config.server.metrics_token.encode()):
            raise ApiError(
                401,
                "metrics need the metrics bearer token",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    return await exposition(request.app)


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document(request.app))
