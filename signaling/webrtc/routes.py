"""The route table of live media over HTTP: WHIP ingest, WHEP playback, and relays between
nodes."""

from __future__ import annotations

from aiohttp import web

from signaling.webrtc import internal, whep, whip

routes: list[web.AbstractRouteDef] = [*whip.routes, *whep.routes, *internal.routes]
