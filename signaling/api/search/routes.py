"""GET /api/search?q=words&limit=N: streams (live first) and public videos whose title or
description has every word (as a word or the start of one)."""

from __future__ import annotations

from aiohttp import web

from signaling.api.search import queries as search_db
from signaling.api.streams.views import stream_view
from signaling.api.videos.views import video_view
from signaling.http.errors import ApiError
from signaling.keys import PG

routes = web.RouteTableDef()

MAX_QUERY_CHARS = 200
DEFAULT_LIMIT, MAX_LIMIT = 20, 50


def _limit(request: web.Request) -> int:
    text = request.query.get("limit", str(DEFAULT_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


@routes.get("/api/search")
async def search(request: web.Request) -> web.Response:
    text = request.query.get("q", "")
    if len(text) > MAX_QUERY_CHARS:
        raise ApiError(400, f"q: at most {MAX_QUERY_CHARS} characters")
    query = search_db.tsquery(text)
    if query is None:
        raise ApiError(400, "q: give at least one word to search for")
    limit = _limit(request)
    db = request.app[PG]
    streams = await search_db.streams(db, query, limit)
    videos = await search_db.videos(db, query, limit)
    return web.json_response(
        {
            "q": text,
            "streams": [stream_view(request, row) for row in streams],
            "videos": [video_view(row) for row in videos],
        }
    )
