"""Every page route, and the static JS/CSS the pages load (signaling/web/static/).

Page routes are named "page.<name>": the OpenAPI document leaves them out by that name.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

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


# Pages that are their template and nothing more: path -> page name (templates/<name>.html).
PLAIN_PAGES = {
    "/": "home",
    "/broadcast/{stream_id}": "broadcast",
    "/dashboard": "dashboard",
    "/search": "search",
    "/c/{ref}": "creator",
    "/upload": "upload",
    "/videos": "videos",
    "/me": "me",
}


def _plain(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(_request: web.Request) -> web.Response:
        return page(name)

    return handler


for _path, _name in PLAIN_PAGES.items():
    routes.get(_path, name=f"page.{_name}")(_plain(_name))


@routes.get("/watch/{stream_id}", name="page.watch")
async def watch(request: web.Request) -> web.Response:
    _id_or_404(request, "stream_id")
    return page("watch", connect=await node_origins(request))


@routes.get("/videos/{video_id}", name="page.video")
async def video(request: web.Request) -> web.Response:
    _id_or_404(request, "video_id")
    return page("video")


@routes.get("/favicon.ico", name="page.favicon")
async def favicon(_request: web.Request) -> web.Response:
    """Browsers ask for /favicon.ico whatever the page links: send them to the page's icon."""
    raise web.HTTPMovedPermanently(FAVICON)


routes.static("/static", STATIC)
