"""GET /api/health: 200 when PostgreSQL and Redis answer, 503 naming what does not."""

from __future__ import annotations

import asyncio

from aiohttp import web

from signaling.keys import PG, REDIS

routes = web.RouteTableDef()

_TIMEOUT_S = 2.0


async def _check(probe: object) -> str:
    try:
        await asyncio.wait_for(probe, _TIMEOUT_S)  # type: ignore[arg-type]
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
        {"status": "ok" if healthy else "degraded", "postgres": postgres, "redis": redis},
        status=200 if healthy else 503,
    )
