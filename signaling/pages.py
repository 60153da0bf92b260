"""The browser pages (`/`, `/broadcast/{id}`, `/watch/{id}`) and their static JS/CSS.

Pages are static HTML; the JS modules under /static/ fetch everything else from the JSON API
and the stream's WebSocket, so the server renders no templates.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

routes = web.RouteTableDef()

PAGES = Path(__file__).parent / "pages"
STATIC = Path(__file__).parent / "static"

# Everything comes from this origin: no CDN, no inline script or style.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(PAGES / f"{name}.html", headers=SECURITY_HEADERS)


@routes.get("/")
async def home(_request: web.Request) -> web.FileResponse:
    return _page("home")


@routes.get("/broadcast/{stream_id}")
async def broadcast(_request: web.Request) -> web.FileResponse:
    return _page("broadcast")


@routes.get("/watch/{stream_id}")
async def watch(_request: web.Request) -> web.FileResponse:
    return _page("watch")


routes.static("/static", STATIC)
