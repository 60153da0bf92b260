"""The composition root: what one server process is made of, beyond HTTP.

`create_app(config)` is signaling's HTTP app (signaling/app.py) with the media plane plugged in:
an sfu and the live sessions on it, the recorder following them, the analytics sampler and, when
configured (`make run`), an in-process VOD worker. Only this module knows all of sfu, recorder
and signaling; each of them knows only what it is handed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from recorder import LiveRecorder, run_vod_worker
from sfu import IceSettings, Sfu
from signaling import app as http_app
from signaling.background import every, finish, supervise
from signaling.config import AppConfig
from signaling.keys import CONFIG, LIVE, PG
from signaling.webrtc.sessions import LiveStreams


def create_app(config: AppConfig) -> web.Application:
    """The whole server app: HTTP, live media, recording and (if configured) VOD processing."""
    workers = [vod_worker] if config.runs_vod_worker else []
    return http_app.create_app(config, media=media, workers=workers)


async def media(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the in-process sfu, the live sessions on top of it (app[LIVE]), the
    recorder following them and the viewer-count sampler."""
    config = app[CONFIG]
    rtc = config.rtc
    sfu = Sfu(
        IceSettings(
            rtc.rtc_host_addresses,
            rtc.rtc_announced_address,
            rtc.ice_servers,
            udp_port=rtc.rtc_udp_port if rtc.rtc_udp_mux else None,
        ),
        ack_window=rtc.viewer_ack_window_s,
        connect_timeout=rtc.rtc_connect_timeout_s,
        fanout=rtc.sfu_fanout,
        max_packet_age=rtc.sfu_max_packet_age_s,
    )
    # stream_sessions.sfu_server_url: where other nodes reach this one (the origin).
    internal_url = config.cluster.node_internal_url or config.public_url
    live = LiveStreams(sfu, app[PG], internal_url, config.limits.max_views_per_viewer)
    app[LIVE] = live
    recorder = record(app, live) if config.media.recording else None
    stop = asyncio.Event()
    sampler = asyncio.create_task(
        supervise(
            "analytics",
            lambda: every(config.media.analytics_interval_s, stop, live.sample_analytics),
            stop,
        )
    )
    yield
    stop.set()
    await finish([sampler])
    await live.close()  # ends broadcasts, so the recorder's taps end too
    if recorder is not None:
        await recorder.close()
    await sfu.close()


def record(app: web.Application, live: LiveStreams) -> LiveRecorder:
    """Record every live stream: the recorder follows live/ended changes of LiveStreams."""
    config = app[CONFIG]
    media = config.media
    recorder = LiveRecorder(
        live.sfu, app[PG], media.media_root, media.reconnect_grace_s, media.thumbnail_interval_s
    )

    def follow(what: str, stream_id: uuid.UUID) -> None:
        if what == "live":
            recorder.stream_live(stream_id, live.live_session_id(stream_id))
        elif what == "ended":
            recorder.stream_ended(stream_id)

    live.on_change(follow)
    return recorder


async def vod_worker(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one in-process VOD worker (dev); production runs `vilokanam worker vod`."""
    settings = app[CONFIG].media
    stop = asyncio.Event()
    task = asyncio.create_task(
        supervise(
            "vod",
            lambda: run_vod_worker(
                app[PG], settings.media_root, stop, lease_s=settings.vod_lease_s
            ),
            stop,
        )
    )
    yield
    stop.set()
    await finish([task], grace_s=30.0)  # a transcode in progress stops at its next check
