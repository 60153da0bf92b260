"""Every page route, and the static JS/CSS the pages load (signaling/web/static/).

Page routes are named "page.<name>": the OpenAPI document leaves them out by that name.
"""

from __future__ import annotations

from aiohttp import web

from signaling.web.nodes import node_origins
from signaling.web.pages import STATIC, page

routes = web.RouteTableDef()


@routes.get("/", name="page.home")
async def home(_request: web.Request) -> web.Response:
    return page("home")


@routes.get("/broadcast/{stream_id}", name="page.broadcast")
async def broadcast(_request: web.Request) -> web.Response:
    return page("broadcast")


@routes.get("/watch/{stream_id}", name="page.watch")
async def watch(request: web.Request) -> web.Response:
    return page("watch", connect=await node_origins(request))


@routes.get("/videos/{video_id}", name="page.video")
async def video(_request: web.Request) -> web.Response:
    return page("video")


@routes.get("/dashboard", name="page.dashboard")
async def dashboard(_request: web.Request) -> web.Response:
    return page("dashboard")


@routes.get("/search", name="page.search")
async def search(_request: web.Request) -> web.Response:
    return page("search")


@routes.get("/c/{ref}", name="page.creator")
async def creator(_request: web.Request) -> web.Response:
    return page("creator")


@routes.get("/upload", name="page.upload")
async def upload(_request: web.Request) -> web.Response:
    return page("upload")


@routes.get("/me", name="page.me")
async def me(_request: web.Request) -> web.Response:
    return page("me")


routes.static("/static", STATIC)
