"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from recorder import LiveRecorder, run_vod_worker
from sfu import IceSettings, Sfu
from signaling.api.billing import routes as billing_api
from signaling.api.catalog import routes as catalog
from signaling.api.comments import routes as comments
from signaling.api.creator import routes as dashboard
from signaling.api.me import routes as me
from signaling.api.moderation import routes as moderation
from signaling.api.ops import openapi
from signaling.api.ops import routes as health
from signaling.api.social import routes as social
from signaling.api.streams import routes as streams
from signaling.api.uploads import routes as uploads
from signaling.api.uploads.expiry import upload_expiry
from signaling.api.videos import media as media_files
from signaling.api.videos import routes as videos
from signaling.auth import devtools
from signaling.auth import routes as auth
from signaling.config import AppConfig
from signaling.http import metrics
from signaling.http.errors import error_middleware
from signaling.keys import CONFIG, LIVE, PG, REDIS
from signaling.realtime import routes as ws
from signaling.runtime.billing import billing_context
from signaling.runtime.node_liveness import node_liveness
from signaling.runtime.supervisor import supervise
from signaling.web import pages
from signaling.webrtc import whep, whip
from signaling.webrtc.http import sfu_error_middleware
from signaling.webrtc.sessions import LiveStreams

# Bodies beyond this are refused before a handler runs (uploads get their own limit later).
MAX_BODY_BYTES = 1024 * 1024

# Every feature module with a `routes` table; one per line so additions do not collide.
ROUTE_MODULES = (
    health,
    metrics,
    auth,
    me,
    streams,
    whip,
    whep,
    ws,
    pages,
    billing_api,
    dashboard,
    uploads,
    videos,
    media_files,
    catalog,
    social,
    comments,
    moderation,
    openapi,
)


def create_app(config: AppConfig) -> web.Application:
    app = web.Application(
        middlewares=[metrics.metrics_middleware, error_middleware, sfu_error_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[CONFIG] = config
    app.cleanup_ctx.append(_postgres)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_media)
    app.cleanup_ctx.append(ws.stream_events)  # needs the LiveStreams of _media
    app.cleanup_ctx.append(billing_context)  # needs LiveStreams (views) and the events
    app.cleanup_ctx.append(_vod_worker)
    app.cleanup_ctx.append(node_liveness)  # after _media: its LiveStreams' node id
    app.cleanup_ctx.append(upload_expiry)
    app.on_shutdown.append(ws.close_sockets)
    app.on_response_prepare.append(_security_headers)
    for module in ROUTE_MODULES:
        app.add_routes(module.routes)
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
    client = aioredis.from_url(app[CONFIG].redis_url)
    app[REDIS] = client
    yield
    await client.aclose()


async def _media(app: web.Application) -> AsyncIterator[None]:
    """The in-process sfu and the live sessions on top of it."""
    config = app[CONFIG]
    sfu = Sfu(IceSettings(config.rtc_host_addresses, config.rtc_announced_address,
                          config.ice_servers), ack_window=config.viewer_ack_window_s,
              connect_timeout=config.rtc_connect_timeout_s)
    live = LiveStreams(sfu, app[PG], config.public_url, config.max_views_per_viewer)
    app[LIVE] = live
    recorder = _recorder(app, live) if config.recording else None
    stop = asyncio.Event()
    sampler = asyncio.create_task(supervise(
        "analytics", lambda: live.sample_analytics_forever(config.analytics_interval_s), stop))
    yield
    stop.set()
    sampler.cancel()
    await live.close()  # ends broadcasts, so the recorder's taps end too
    if recorder is not None:
        await recorder.close()
    await sfu.close()


def _recorder(app: web.Application, live: LiveStreams) -> LiveRecorder:
    """Record every live stream: the recorder follows live/ended changes of LiveStreams."""
    config = app[CONFIG]
    recorder = LiveRecorder(live.sfu, app[PG], config.media_root, config.reconnect_grace_s)

    def follow(what: str, stream_id: uuid.UUID) -> None:
        if what == "live":
            recorder.stream_live(stream_id, live.live_session_id(stream_id))
        elif what == "ended":
            recorder.stream_ended(stream_id)

    live.on_change(follow)
    return recorder


async def _vod_worker(app: web.Application) -> AsyncIterator[None]:
    """One in-process VOD worker (dev); production runs `vilokanam worker vod` processes."""
    if not app[CONFIG].vod_worker:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(supervise(
        "vod", lambda: run_vod_worker(app[PG], app[CONFIG].media_root, stop), stop))
    yield
    stop.set()
    await task
