"""The Prometheus exposition of every metric, with this process's live gauges sampled at scrape
time, for /metrics on the main listener or on a listener of its own (METRICS_ADDRESS).

Other packages register their own metrics in the default registry; /metrics exposes them all.
The live gauges count this process's own streams (LiveStreams), so summing them over processes
gives the whole server.
"""

from __future__ import annotations

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from signaling.keys import LIVE, PG

logger = structlog.get_logger(__name__)

LIVE_STREAMS = Gauge("vilokanam_live_streams", "Streams live in this process (at scrape time)")
LIVE_VIEWERS = Gauge(
    "vilokanam_live_viewers", "Viewers watching this process's live streams (at scrape time)"
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
        logger.warning("metrics_live_gauges_not_sampled", error=str(exc))
        return
    mine = [row["id"] for row in rows if live.is_live(row["id"])]
    LIVE_STREAMS.set(len(mine))
    LIVE_VIEWERS.set(sum(live.viewer_count(stream_id) for stream_id in mine))


async def exposition(app: web.Application) -> web.Response:
    """The Prometheus text of every metric, live gauges sampled from `app` now."""
    await _sample_live(app)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def metrics_app(main: web.Application) -> web.Application:
    """A listener of its own serving only /metrics of `main` (METRICS_ADDRESS)."""
    app = web.Application()

    async def handler(_request: web.Request) -> web.Response:
        return await exposition(main)

    app.router.add_get("/metrics", handler)
    return app
