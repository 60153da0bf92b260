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

LIVE_STREAMS = Gauge(
    "vilokanam_live_streams", "Live streams published on this process (at scrape time)"
)
LIVE_VIEWERS = Gauge(
    "vilokanam_live_viewers", "Viewers this process serves, of any live stream (at scrape time)"
)
RELAYS = Gauge(
    "vilokanam_relays", "Streams this process receives over a relay from their origin node"
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
    # A stream counts on its origin only (summed over nodes it is one stream); its viewers on
    # every node that serves them, relayed or not.
    LIVE_STREAMS.set(sum(1 for stream_id in mine if live.is_origin(stream_id)))
    LIVE_VIEWERS.set(sum(live.viewer_count(stream_id) for stream_id in mine))
    RELAYS.set(live.local_relays())


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
