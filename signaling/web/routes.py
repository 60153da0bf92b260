"""Every page route, and the static JS/CSS the pages load (signaling/web/static/).

Page routes are named "page.<name>": the OpenAPI document leaves them out by that name.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from signaling.web.nodes import node_origins
from signaling.web.pages import STATIC, page

routes = web.RouteTableDef()

FAVICON = "/static/favicon.svg"


def _id_or_404(request: web.Request, name: str) -> None:
    """A page of a thing whose id is not even a UUID: there is no such thing, the 404 page."""
    try:
        uuid.UUID(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound() from None


@routes.get("/", name="page.home")
async def home(_request: web.Request) -> web.Response:
    return page("home")


@routes.get("/broadcast/{stream_id}", name="page.broadcast")
async def broadcast(_request: web.Request) -> web.Response:
    return page("broadcast")


@routes.get("/watch/{stream_id}", name="page.watch")
async def watch(request: web.Request) -> web.Response:
    _id_or_404(request, "stream_id")
    return page("watch", connect=await node_origins(request))


@routes.get("/videos", name="page.videos")
async def videos(_request: web.Request) -> web.Response:
    return page("videos")


@routes.get("/videos/{video_id}", name="page.video")
async def video(request: web.Request) -> web.Response:
    _id_or_404(request, "video_id")
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


@routes.get("/favicon.ico", name="page.favicon")
async def favicon(_request: web.Request) -> web.Response:
    """Browsers ask for /favicon.ico whatever the page links: send them to the page's icon."""
    raise web.HTTPMovedPermanently(FAVICON)


routes.static("/static", STATIC)
