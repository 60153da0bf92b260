"""The 404 page: a path no route matches answers the site's own "Page not found" page (same
layout and navigation) to a browser. The machine interfaces (the JSON API, WHIP/WHEP, the
sockets, media files, metrics, the cluster's internal endpoints) keep their JSON errors.
"""

from __future__ import annotations

import re

from aiohttp import web

from signaling.http.errors import Handler
from signaling.web.pages import page

MACHINE_PATHS = re.compile(r"^/(api|whip|whep|ws|media|internal|metrics)(/|$)")


def wants_page(request: web.Request) -> bool:
    """A browser asking for a page: GET or HEAD of a path outside the machine interfaces."""
    return request.method in ("GET", "HEAD") and not MACHINE_PATHS.match(request.path)


@web.middleware
async def not_found_page(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Inside the JSON error middleware: only aiohttp's own 404 (no route matches, a page
    route's malformed id) becomes the page; a handler's ApiError(404) stays JSON. (A missing
    /static/ file is answered by its FileResponse after the middlewares: a bare 404.)"""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if not wants_page(request):
            raise
        return page("not_found", status=404)
