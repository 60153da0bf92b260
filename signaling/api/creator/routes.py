"""The creator dashboard (`/dashboard`) and the viewer's own page (`/me`), with their API.

Creator endpoints answer 401 to anonymous callers and 403 to users who are not creators.
Money is decimal strings of planck; lists take ?cursor=&limit= (signaling/pagination.py).

Live earnings: `live_figures` holds the cumulative counters (the meter's counters in Redis, live
streams in PostgreSQL) with the server's clock. `GET /api/creator/live` answers them for the
dashboard's first paint and as its fallback while the socket is down; the `/ws/creator` socket
(signaling/ws.py) pushes them every second from one task per process
(signaling/earnings_feed.py), with "the last second" already worked out.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from signaling.api.creator import queries as dashboard_db
from signaling.api.creator.queries import RANGES, Range
from signaling.api.videos import queries as videos_db
from signaling.api.videos.routes import processing_view, video_view
from signaling.auth.sessions import require_user
from signaling.http.errors import ApiError
from signaling.http.json import planck, rfc3339_or_none
from signaling.http.pagination import page_body, page_params
from signaling.http.validation import query_uuid
from signaling.keys import BILLING, PG
from signaling.web import pages

routes = web.RouteTableDef()

DEFAULT_RANGE = "24h"
BPS = 10_000
CSV_COLUMNS = ("payment_id", "created_at", "stream_id", "stream_title", "viewer_account",
               "amount_planck", "fee_planck", "creator_amount_planck", "status", "batch_id")
CSV_FLUSH_BYTES = 64 * 1024
# A spreadsheet runs a cell that starts like a formula; free text is defused with a quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@routes.get("/dashboard")
async def dashboard_page(_request: web.Request) -> web.Response:
    return pages.page("dashboard")


@routes.get("/me")
async def me_page(_request: web.Request) -> web.Response:
    return pages.page("me")


async def require_creator(request: web.Request) -> asyncpg.Record:
    """The signed-in creator's row: 401 when signed out, 403 for a user who is not a creator."""
    user = await require_user(request)
    if not user["is_creator"]:
        raise ApiError(403, "the dashboard is for creators; become one with PATCH /api/me "
                            '{"is_creator": true}')
    return user


def _chart_range(request: web.Request) -> tuple[str, Range]:
    name = request.query.get("range", DEFAULT_RANGE)
    if name not in RANGES:
        raise ApiError(400, f"range must be one of {', '.join(RANGES)}")
    return name, RANGES[name]


async def _owned_page(
    request: web.Request,
    owner: asyncpg.Record,
    query: Callable[..., Awaitable[list[asyncpg.Record]]],
    view: Callable[[asyncpg.Record], dict[str, Any]],
) -> web.Response:
    """One ?cursor=&limit= page of the owner's rows: `query(db, owner_id, after, limit)`."""
    after, limit = page_params(request)
    rows = await query(request.app[PG], owner["id"], after, limit)
    return web.json_response(page_body([view(row) for row in rows], rows, limit))


# --- creator: money now --------------------------------------------------------------------


async def earnings_split(app: web.Application, creator_id: uuid.UUID) -> dict[str, str]:
    """Where the creator's money is: pending in Redis, settled in PostgreSQL, paid on chain.

    PostgreSQL is read before Redis: the meter's credited total only grows and settlement only
    ever catches up with it, so the split still adds up to the credited total if a batch
    settles in between (read the other way round, that batch could be counted in neither).
    """
    settled = await dashboard_db.settled_split(app[PG], creator_id)
    credited = await app[BILLING].meter.earnings(str(creator_id))
    total_settled = int(settled["total_earnings"])
    pending = max(0, credited - total_settled)
    return {
        "total": planck(pending + total_settled),
        "pending_redis": planck(pending),
        "settled": planck(total_settled),
        "awaiting_payout": planck(settled["awaiting_payout"]),
        "sending": planck(settled["sending"]),
        "in_block": planck(settled["in_block"]),
        "finalized": planck(settled["finalized"]),
    }


@routes.get("/api/creator/summary")
async def summary(request: web.Request) -> web.Response:
    creator = await require_creator(request)
    totals = await dashboard_db.dashboard_totals(request.app[PG], creator["id"])
    return web.json_response({
        "creator": {"id": str(creator["id"]), "account_id": creator["account_id"],
                    "username": creator["username"]},
        "totals": {
            "streams": totals["total_streams"],
            "videos": totals["total_videos"],
            "video_views": int(totals["total_video_views"]),
            "stream_viewers_now": int(totals["total_stream_viewers"]),
            "last_activity": rfc3339_or_none(totals["last_activity"]),
            "total_earnings": planck(totals["total_earnings"]),
        },
        "earnings": await earnings_split(request.app, creator["id"]),
        "payout_fees": await payout_fees(request.app, creator["id"]),
    })


async def payout_fees(app: web.Application, creator_id: uuid.UUID) -> dict[str, Any]:
    """What the creator's payouts cost in transaction fees (paid by the platform), and the rule
    that keeps that small: a minimum amount and a minimum interval between payouts."""
    fees = await dashboard_db.payout_fees(app[PG], creator_id)
    paid, total, count = int(fees["paid"]), int(fees["fees"]), int(fees["payouts"])
    payouts = app[BILLING].payouts
    return {
        "payouts": count,
        "paid": planck(paid),
        "fees": planck(total),
        "fee_per_payout": planck(total // count if count else 0),
        "fee_bps": -(-total * BPS // paid) if paid else 0,  # rounded up: never understated
        "paid_by": "platform",
        "min_amount": planck(payouts.threshold) if payouts else None,
        "min_interval_s": payouts.min_interval_s if payouts else None,
    }


async def live_figures(app: web.Application, creator_id: uuid.UUID) -> dict[str, Any]:
    """The creator's cumulative counters now: earnings split, live streams with their ticks.

    Behind both GET /api/creator/live and the `/ws/creator` feed; "the last second" is the
    difference of two of these, whose `at_ms` says how far apart they really were.
    """
    meter = app[BILLING].meter
    streams = await dashboard_db.live_streams(app[PG], creator_id)
    earnings = await earnings_split(app, creator_id)
    items = [
        {"id": str(s["id"]), "title": s["title"], "viewers": s["viewer_count"],
         "price_per_second": planck(s["price_per_second"]),
         "ticks": await meter.stream_ticks(str(s["id"]))}
        for s in streams
    ]
    now = datetime.now(UTC)
    return {
        "at": rfc3339_or_none(now),
        "at_ms": int(now.timestamp() * 1000),
        "earnings": earnings,
        "streams": items,
    }


@routes.get("/api/creator/live")
async def live(request: web.Request) -> web.Response:
    """Cumulative counters now: the page's first paint, and its fallback without the socket."""
    creator = await require_creator(request)
    return web.json_response(await live_figures(request.app, creator["id"]))


# --- creator: lists and charts -------------------------------------------------------------


def _stream_item(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "status": row["status"],
        "price_per_second": planck(row["price_per_second"]),
        "viewer_count": row["viewer_count"],
        "viewer_peak": row["viewer_peak"],
        "total_ticks": row["total_ticks"],
        "earnings": planck(row["earnings"]),
        "recording_url": row["recording_url"],
        "start_time": rfc3339_or_none(row["start_time"]),
        "end_time": rfc3339_or_none(row["end_time"]),
        "created_at": rfc3339_or_none(row["created_at"]),
    }


def payout_item(row: asyncpg.Record) -> dict[str, Any]:
    """One payout as its recipient sees it (their own share of a batched payout)."""
    return {
        "id": str(row["id"]),
        "status": row["status"],
        "amount": planck(row["amount"]),
        "to": row["dest_account"],
        "extrinsic_hash": row["extrinsic_hash"],
        "block_number": row["block_number"],
        "block_hash": row["block_hash"],
        "error": row["error"],
        "fee": None if row["fee"] is None else planck(row["fee"]),
        "created_at": rfc3339_or_none(row["created_at"]),
        "updated_at": rfc3339_or_none(row["updated_at"]),
        "finalized_at": rfc3339_or_none(row["finalized_at"]),
    }


@routes.get("/api/creator/streams")
async def creator_streams(request: web.Request) -> web.Response:
    creator = await require_creator(request)
    return await _owned_page(request, creator, dashboard_db.creator_streams, _stream_item)


@routes.get("/api/creator/payouts")
async def creator_payouts(request: web.Request) -> web.Response:
    creator = await require_creator(request)
    return await _owned_page(request, creator, dashboard_db.creator_payouts, payout_item)


def _video_item(row: asyncpg.Record) -> dict[str, Any]:
    job = None
    if row["job_status"] is not None:
        job = {name: row[f"job_{name}"] for name in videos_db.JOB_FIELDS}
    return {**video_view(row), "processing": processing_view(job)}


@routes.get("/api/creator/videos")
async def creator_videos(request: web.Request) -> web.Response:
    """Every video of mine but the deleted, in any status; a failed one says why."""
    creator = await require_creator(request)
    return await _owned_page(request, creator, videos_db.creator_videos, _video_item)


def _series(name: str, chart: Range, rows: list[asyncpg.Record], money: bool) -> dict[str, Any]:
    return {
        "range": name,
        "bucket_s": int(chart.bucket.total_seconds()),
        "points": [{"at": rfc3339_or_none(r["at"]),
                    "value": planck(r["value"]) if money else int(r["value"])} for r in rows],
    }


@routes.get("/api/creator/earnings")
async def earnings_chart(request: web.Request) -> web.Response:
    """Settled creator earnings per bucket over ?range= (1h, 24h, 7d, 30d)."""
    creator = await require_creator(request)
    name, chart = _chart_range(request)
    rows = await dashboard_db.earnings_series(
        request.app[PG], creator["id"], chart, datetime.now(UTC))
    return web.json_response(_series(name, chart, rows, money=True))


@routes.get("/api/creator/viewers")
async def viewers_chart(request: web.Request) -> web.Response:
    """Viewers per bucket over ?range=, of one stream (?stream_id=) or all the creator's."""
    creator = await require_creator(request)
    name, chart = _chart_range(request)
    stream_id = query_uuid(request, "stream_id")
    db = request.app[PG]
    if stream_id is not None and not await dashboard_db.owns_stream(db, creator["id"], stream_id):
        raise ApiError(404, f"you have no stream {stream_id}")
    rows = await dashboard_db.viewers_series(db, creator["id"], stream_id, chart,
                                             datetime.now(UTC))
    return web.json_response(_series(name, chart, rows, money=False))


# --- creator: CSV export -------------------------------------------------------------------


def _text_cell(value: str | None) -> str:
    text = value or ""
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_row(row: asyncpg.Record) -> list[str]:
    return [
        str(row["id"]), rfc3339_or_none(row["created_at"]) or "",
        str(row["stream_id"] or ""), _text_cell(row["stream_title"]), row["viewer_account"],
        planck(row["amount"]), planck(row["fee"]), planck(row["creator_amount"]),
        row["status"], row["batch_id"] or "",
    ]


@routes.get("/api/creator/payments.csv")
async def payments_csv(request: web.Request) -> web.StreamResponse:
    """Every stream-view payment to the creator (?range= to limit), streamed as RFC 4180 CSV."""
    creator = await require_creator(request)
    since = None
    if "range" in request.query:
        since = datetime.now(UTC) - _chart_range(request)[1].span
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="payments.csv"',
        "Cache-Control": "no-store",
    })
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    async with request.app[PG].acquire() as conn, conn.transaction(
        isolation="repeatable_read", readonly=True
    ):
        await response.prepare(request)
        async for row in dashboard_db.payments_export(conn, creator["id"], since):
            writer.writerow(_csv_row(row))
            if buffer.tell() >= CSV_FLUSH_BYTES:
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


# --- viewer --------------------------------------------------------------------------------


def _deposit_item(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "from": row["from_account"],
        "amount": planck(row["amount"]),
        "block_number": row["block_number"],
        "block_hash": row["block_hash"],
        "credited": row["credited_at"] is not None,
        "created_at": rfc3339_or_none(row["created_at"]),
    }


def _spending_item(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "stream": {"id": str(row["id"]), "title": row["title"],
                   "price_per_second": planck(row["price_per_second"]),
                   "creator": {"account_id": row["creator_account"],
                               "username": row["creator_username"]}},
        "amount": planck(row["amount"]),
        "seconds": int(row["seconds"]),
        "views": row["views"],
        "last_paid_at": rfc3339_or_none(row["created_at"]),
    }


@routes.get("/api/me/deposits")
async def my_deposits(request: web.Request) -> web.Response:
    user = await require_user(request)
    return await _owned_page(request, user, dashboard_db.deposits, _deposit_item)


@routes.get("/api/me/spending")
async def my_spending(request: web.Request) -> web.Response:
    """What I paid per stream, most recently paid first."""
    user = await require_user(request)
    return await _owned_page(request, user, dashboard_db.spending, _spending_item)


@routes.get("/api/me/withdrawals")
async def my_withdrawals(request: web.Request) -> web.Response:
    user = await require_user(request)
    return await _owned_page(request, user, dashboard_db.withdrawals, payout_item)
