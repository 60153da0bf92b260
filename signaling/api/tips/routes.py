"""`POST /api/streams/{stream_id}/tips` and `POST /api/videos/{video_id}/tips`: a tip.

`{"amount": "<planck>", "message": "<optional, up to 200 characters>"}` → 201 with the tip. The
viewer's balance pays `amount`; the creator earns it less the platform fee (PLATFORM_FEE_BPS,
the same split as a viewed second: billing.meter.split); settlement writes one `payments` row
(payment_type 'tip', the tip's id). Once per Idempotency-Key (signaling/http/idempotency.py):
the tip's id derives from it, and the meter pays each id once.

Refused, with nothing moved: signed out 401; a bad amount 422; above MAX_TIP_PLANCK 400; a
tip to yourself 400; no such stream or visible video 404; a balance below the amount 402.
A tip to a live stream shows in its chat, for everyone: {"type": "tip", …} on its socket.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import structlog
from aiohttp import web
from redis.exceptions import ResponseError

from billing import Payment
from signaling.api.streams import queries as streams_db
from signaling.api.tips import queries as tips_db
from signaling.api.tips.models import TipRequest
from signaling.api.videos.access import visible_video
from signaling.auth.sessions import require_user
from signaling.http import idempotency
from signaling.http.errors import ApiError
from signaling.http.json import planck, rfc3339_or_none
from signaling.http.lookup import row_or_404
from signaling.http.validation import read_json
from signaling.keys import BILLING, CONFIG, EVENTS, PG

logger = structlog.get_logger(__name__)
routes = web.RouteTableDef()


@routes.post("/api/streams/{stream_id}/tips")
async def tip_stream(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await read_json(request, TipRequest)
    stream = await row_or_404(request, "stream_id", "stream", streams_db.by_id)
    live = stream["id"] if stream["status"] == "live" else None
    return await _tip(request, user, body, ("stream_id", stream["id"], stream["creator_id"]), live)


@routes.post("/api/videos/{video_id}/tips")
async def tip_video(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await read_json(request, TipRequest)
    video = await visible_video(request)
    return await _tip(request, user, body, ("video_id", video["id"], video["creator_id"]), None)


Target = tuple[str, uuid.UUID, uuid.UUID]
"""What a tip is about: ("stream_id" or "video_id", its id, its creator's id)."""


async def _tip(
    request: web.Request,
    user: asyncpg.Record,
    body: TipRequest,
    target: Target,
    live_stream: uuid.UUID | None,
) -> web.Response:
    amount = int(body.amount)
    limit = request.app[CONFIG].billing.max_tip_planck
    if amount > limit:
        raise ApiError(400, f"a tip may be at most {limit} planck", "amount_too_large")
    if user["id"] == target[2]:
        raise ApiError(400, "you cannot tip yourself", "self_tip")

    async def run(tip_id: uuid.UUID) -> web.Response:
        tip = await _pay(request, user, body, target, tip_id)
        if live_stream is not None:
            await _announce(request, user, live_stream, tip)
        return web.json_response(tip, status=201)

    return await idempotency.once(request, user["id"], body, run)


async def _pay(
    request: web.Request, user: asyncpg.Record, body: TipRequest, target: Target, tip_id: uuid.UUID
) -> dict[str, Any]:
    """Move the money once for `tip_id` and keep the message; the tip as the API shows it."""
    field, ref, creator_id = target
    amount = int(body.amount)
    payment = Payment("tip", str(tip_id), str(user["id"]), str(creator_id), str(ref), amount)
    try:
        outcome = await request.app[BILLING].meter.pay(payment)
    except ResponseError as exc:
        if "reused" not in str(exc):
            raise
        raise ApiError(
            422,
            f"this {idempotency.HEADER} was already used for a different tip; use a new key",
            "idempotency_key_reused",
        ) from None
    if not outcome.paid:
        raise ApiError(402, "your balance is below this tip: top up first", "insufficient_balance")
    created = await tips_db.record(request.app[PG], tip_id, body.message)
    logger.info("tip_paid", tip_id=str(tip_id), ref=str(ref), amount=amount, fresh=outcome.fresh)
    return {
        "id": str(tip_id),
        field: str(ref),
        "amount": planck(amount),
        "creator_amount": planck(amount - outcome.fee),
        "fee": planck(outcome.fee),
        "message": body.message,
        "created_at": rfc3339_or_none(created),
    }


async def _announce(
    request: web.Request, user: asyncpg.Record, stream_id: uuid.UUID, tip: dict[str, Any]
) -> None:
    """The tip in the live stream's chat, on every socket of every node (best effort)."""
    author = {"id": str(user["id"]), "account_id": user["account_id"], "username": user["username"]}
    message = {"type": "tip", **tip, "author": author}
    try:
        await request.app[EVENTS].to_stream(stream_id, message)
    except Exception:  # noqa: BLE001 - the tip is paid; its chat line must not undo that
        logger.warning("tip_announce_failed", tip_id=tip["id"], stream_id=str(stream_id))
