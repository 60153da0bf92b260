"""The creator dashboard's API (`/api/creator/…`; the page itself is in signaling/web/).

Every endpoint answers 401 to anonymous callers and 403 to users who are not creators.
Money is decimal strings of planck; lists take ?cursor=&limit= (signaling/http/pagination.py).
What the money figures mean is in figures.py; the live ones are also pushed by `/ws/creator`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from aiohttp import web

from signaling.api.billing.views import payout_view
from signaling.api.creator import queries as dashboard_db
from signaling.api.creator.export import stream_payments
from signaling.api.creator.figures import (
    earned_by_kind,
    earnings_split,
    live_figures,
    payout_fees,
)
from signaling.api.creator.queries import RANGES, Range
from signaling.api.creator.views import series, stream_item, video_item
from signaling.api.videos import queries as videos_db
from signaling.auth import users
from signaling.auth.roles import require_creator as require_creator_user
from signaling.http.errors import ApiError
from signaling.http.json import planck, rfc3339_or_none
from signaling.http.pagination import owned_list
from signaling.http.validation import query_uuid
from signaling.keys import PG

routes = web.RouteTableDef()

DEFAULT_RANGE = "24h"


async def require_creator(request: web.Request) -> asyncpg.Record:
    """The signed-in creator's row: 401 when signed out, 403 for a user who is not a creator."""
    return await require_creator_user(
        request, 'the dashboard is for creators; become one with PATCH /api/me {"is_creator": true}'
    )


def _chart_range(request: web.Request) -> tuple[str, Range]:
    name = request.query.get("range", DEFAULT_RANGE)
    if name not in RANGES:
        raise ApiError(400, f"range must be one of {', '.join(RANGES)}")
    return name, RANGES[name]


# --- money now -----------------------------------------------------------------------------


@routes.get("/api/creator/summary")
async def summary(request: web.Request) -> web.Response:
    creator = await require_creator(request)
    totals = await dashboard_db.dashboard_totals(request.app[PG], creator["id"])
    assert totals is not None  # the view has a row for every creator
    return web.json_response(
        {
            "creator": users.brief_view(creator),
            "totals": {
                "streams": totals["total_streams"],
                "videos": totals["total_videos"],
                "video_views": int(totals["total_video_views"]),
                "stream_viewers_now": int(totals["total_stream_viewers"]),
                "last_activity": rfc3339_or_none(totals["last_activity"]),
                "total_earnings": planck(totals["total_earnings"]),
            },
            "earnings": await earnings_split(request.app, creator["id"]),
            "settled_by_kind": await earned_by_kind(request.app, creator["id"]),
            "payout_fees": await payout_fees(request.app, creator["id"]),
        }
    )


@routes.get("/api/creator/live")
async def live(request: web.Request) -> web.Response:
    """Cumulative counters now: the page's first paint, and its fallback without the socket."""
    creator = await require_creator(request)
    return web.json_response(await live_figures(request.app, creator["id"]))


# --- lists and charts ----------------------------------------------------------------------


routes.get("/api/creator/streams")(
    owned_list(require_creator, dashboard_db.creator_streams, stream_item)
)
routes.get("/api/creator/payouts")(
    owned_list(require_creator, dashboard_db.creator_payouts, payout_view)
)
# every video of mine but the deleted, in any status; a failed one says why
routes.get("/api/creator/videos")(owned_list(require_creator, videos_db.creator_videos, video_item))


@routes.get("/api/creator/earnings")
async def earnings_chart(request: web.Request) -> web.Response:
    """Settled creator earnings per bucket over ?range= (1h, 24h, 7d, 30d)."""
    creator = await require_creator(request)
    name, chart = _chart_range(request)
    rows = await dashboard_db.earnings_series(
        request.app[PG], creator["id"], chart, datetime.now(UTC)
    )
    return web.json_response(series(name, chart, rows, money=True))


@routes.get("/api/creator/viewers")
async def viewers_chart(request: web.Request) -> web.Response:
    """Viewers per bucket over ?range=, of one stream (?stream_id=) or all the creator's."""
    creator = await require_creator(request)
    name, chart = _chart_range(request)
    stream_id = query_uuid(request, "stream_id")
    db = request.app[PG]
    if stream_id is not None and not await dashboard_db.owns_stream(db, creator["id"], stream_id):
        raise ApiError(404, f"you have no stream {stream_id}")
    rows = await dashboard_db.viewers_series(db, creator["id"], stream_id, chart, datetime.now(UTC))
    return web.json_response(series(name, chart, rows, money=False))


@routes.get("/api/creator/payments.csv")
async def payments_csv(request: web.Request) -> web.StreamResponse:
    """Every viewing and tip payment to the creator (?range= to limit), as RFC 4180 CSV."""
    creator = await require_creator(request)
    since = None
    if "range" in request.query:
        since = datetime.now(UTC) - _chart_range(request)[1].span
    return await stream_payments(request, creator["id"], since)
