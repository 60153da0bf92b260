"""The route table of live media over HTTP: WHIP ingest and WHEP playback."""

from __future__ import annotations

from aiohttp import web

from signaling.webrtc import whep, whip

routes: list[web.AbstractRouteDef] = [*whip.routes, *whep.routes]
