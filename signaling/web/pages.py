"""The browser pages, rendered: each is the `<main>` of `templates/<name>.html` inside one
shared layout (`templates/_layout.html`: head, skip link, header with navigation and sign-in).
The JS modules under /static/ fetch everything else from the JSON API and the WebSockets, so
pages carry no data and are rendered once per process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path

from aiohttp import web

PAGES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# Everything comes from this origin: no CDN, no inline script or style. The watch page may
# also connect to the cluster's nodes (a full node redirects WHEP to another): `{connect}`.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'{connect}; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP.format(connect=""),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Page:
    title: str
    nav: str | None = None  # the navigation entry this page is, if any


PAGE_INFO = {
    "home": Page("Live now", "/"),
    "not_found": Page("Page not found"),
    "watch": Page("Watch"),
    "broadcast": Page("Broadcast"),
    "video": Page("Video"),
    "videos": Page("Videos", "/videos"),
    "dashboard": Page("Creator dashboard", "/dashboard"),
    "me": Page("My account", "/me"),
    "search": Page("Search", "/search"),
    "creator": Page("Creator"),
    "upload": Page("Upload a video", "/upload"),
}
NAV = (
    ("/", "Live now"),
    ("/videos", "Videos"),
    ("/search", "Search"),
    ("/upload", "Upload"),
    ("/dashboard", "Dashboard"),
    ("/me", "My account"),
)


CURRENT = ' aria-current="page"'


def _nav(current: str | None) -> str:
    return " ".join(
        f'<a href="{href}"{CURRENT if href == current else ""}>{escape(label)}</a>'
        for href, label in NAV
    )


@cache
def render(name: str) -> bytes:
    """The full HTML of page `name` (its main inside the layout)."""
    info = PAGE_INFO[name]
    layout = (PAGES / "_layout.html").read_text()
    return layout.format(
        title=escape(f"{info.title} · vilokanam"),
        script=name,
        nav=_nav(info.nav),
        main=(PAGES / f"{name}.html").read_text(),
    ).encode()


def page(name: str, connect: Iterable[str] = (), status: int = 200) -> web.Response:
    """Page `name`; `connect`: origins its scripts may fetch from besides this one."""
    headers = dict(SECURITY_HEADERS)
    if extra := "".join(f" {origin}" for origin in sorted(set(connect))):
        headers["Content-Security-Policy"] = CSP.format(connect=extra)
    return web.Response(
        body=render(name), status=status, content_type="text/html", charset="utf-8", headers=headers
    )
