"""A creator's money now: the earnings split, payout fees, and the live figures.

`live_figures` holds the cumulative counters (the meter's counters in Redis, live streams in
PostgreSQL) with the server's clock. `GET /api/creator/live` answers them for the dashboard's
first paint and as its fallback while the socket is down; the `/ws/creator` socket pushes them
every second from one task per process (signaling/realtime/earnings_feed.py, which is handed
`live_figures` by signaling/app.py), with "the last second" already worked out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from signaling.api.creator import queries as dashboard_db
from signaling.http.json import planck, rfc3339_or_none
from signaling.keys import BILLING, PG

BPS = 10_000


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


KINDS = {"stream_view": "viewing", "tip": "tips"}
"""Payment kinds the dashboard shows apart, by the name it shows them under."""


async def earned_by_kind(app: web.Application, creator_id: uuid.UUID) -> dict[str, Any]:
    """Settled earnings apart per kind: {"viewing": {payments, earned}, "tips": {…}}."""
    rows = {r["payment_type"]: r for r in await dashboard_db.earned_by_kind(app[PG], creator_id)}
    return {
        name: {
            "payments": int(rows[kind]["payments"]) if kind in rows else 0,
            "earned": planck(rows[kind]["earned"] if kind in rows else 0),
        }
        for kind, name in KINDS.items()
    }


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
        {
            "id": str(s["id"]),
            "title": s["title"],
            "viewers": s["viewer_count"],
            "price_per_second": planck(s["price_per_second"]),
            "ticks": await meter.stream_ticks(str(s["id"])),
        }
        for s in streams
    ]
    now = datetime.now(UTC)
    return {
        "at": rfc3339_or_none(now),
        "at_ms": int(now.timestamp() * 1000),
        "earnings": earnings,
        "streams": items,
    }
