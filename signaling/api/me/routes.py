"""Everything under /api/me: my profile, my balance and withdrawals, my deposits and spending,
and the live streams of whom I follow.

Lists take ?cursor=&limit= (signaling/http/pagination.py); money is decimal strings of planck.
"""

from __future__ import annotations

import re
import uuid

import asyncpg
from aiohttp import web
from pydantic import HttpUrl

from billing import PayoutError
from signaling.api.billing import queries as billing_db
from signaling.api.billing.access import chain_billing
from signaling.api.billing.views import payout_view
from signaling.api.me import queries as me_db
from signaling.api.me import withdrawals
from signaling.api.me.models import AMOUNT, ProfileUpdate, WithdrawRequest
from signaling.api.me.views import deposit_view, spending_view, tip_view
from signaling.api.social import queries as social_db
from signaling.api.streams.views import stream_view
from signaling.auth import users
from signaling.auth.sessions import require_user
from signaling.http import idempotency
from signaling.http.errors import ApiError
from signaling.http.json import planck
from signaling.http.pagination import owned_list, page_body, page_params
from signaling.http.validation import changes_of, read_json
from signaling.keys import BILLING, PG
from signaling.runtime.billing import BillingRuntime

routes = web.RouteTableDef()


# --- profile ------------------------------------------------------------------------------


@routes.get("/api/me")
async def get_me(request: web.Request) -> web.Response:
    return web.json_response(users.private_view(await require_user(request)))


@routes.patch("/api/me")
async def patch_me(request: web.Request) -> web.Response:
    user = await require_user(request)
    update = await read_json(request, ProfileUpdate)
    changes = {
        name: (str(value) if isinstance(value, HttpUrl) else value)
        for name, value in changes_of(update).items()
    }
    try:
        row = await me_db.update_profile(request.app[PG], user["id"], changes)
    except asyncpg.UniqueViolationError:
        # Only usernames are unique (they are public); emails are not, so nothing here tells
        # whether someone else uses an address (migration 0090).
        raise ApiError(409, "that username is taken", "taken") from None
    return web.json_response(users.private_view(row))


# --- balance and withdrawals (signaling/api/me/withdrawals.py) ----------------------------


@routes.get("/api/me/balance")
async def balance(request: web.Request) -> web.Response:
    user = await require_user(request)
    billing = request.app[BILLING]
    available = await billing.meter.balance(str(user["id"]))
    reserved = await billing_db.reserved(request.app[PG], user["id"])
    return web.json_response({"available": planck(available), "reserved": planck(reserved)})


@routes.get("/api/me/withdraw/quote")
async def withdraw_quote(request: web.Request) -> web.Response:
    """What withdrawing ?amount= (to ?to=, default: my account) would take off my balance."""
    user = await require_user(request)
    amount = request.query.get("amount", "")
    if not re.fullmatch(AMOUNT, amount):
        raise ApiError(400, "amount must be a positive integer of planck", "invalid_field")
    billing = chain_billing(request)
    terms = await withdrawals.terms(billing, user, amount, request.query.get("to"))
    available = await billing.meter.balance(str(user["id"]))
    return web.json_response({**terms.body(), "available": planck(available)})


@routes.post("/api/me/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    """Take amount + fee off my balance and pay it out; once per Idempotency-Key (the payout
    id derives from it, so a retry after a crash finds the same withdrawal)."""
    user = await require_user(request)
    body = await read_json(request, WithdrawRequest)
    billing = chain_billing(request)

    async def run(payout_id: uuid.UUID) -> web.Response:
        return await _withdraw(request, billing, user, body, payout_id)

    return await idempotency.once(request, user["id"], body, run)


async def _withdraw(
    request: web.Request,
    billing: BillingRuntime,
    user: asyncpg.Record,
    body: WithdrawRequest,
    payout_id: uuid.UUID,
) -> web.Response:
    terms = await withdrawals.terms(billing, user, body.amount, body.to)
    if body.fee is not None and terms.fee > int(body.fee):
        raise ApiError(
            409,
            f"the fee is now {terms.fee} planck, above the {body.fee} you "
            "accepted: ask for a new quote",
            "fee_changed",
        )
    payouts = billing.payouts
    assert payouts is not None  # set with the chain (chain_billing)
    try:
        await payouts.create_withdrawal(user["id"], terms.dest, terms.amount, terms.fee, payout_id)
    except PayoutError as exc:
        status = 422 if exc.code == "idempotency_key_reused" else 400
        raise ApiError(status, str(exc), exc.code) from None
    billing.spawn(payouts.drive_or_park(payout_id))
    return web.json_response(
        {"id": str(payout_id), "status": "created", **terms.body()}, status=202
    )


# --- my lists -----------------------------------------------------------------------------


routes.get("/api/me/deposits")(owned_list(require_user, me_db.deposits, deposit_view))
# what I paid per stream, most recently paid first
routes.get("/api/me/spending")(owned_list(require_user, me_db.spending, spending_view))
routes.get("/api/me/withdrawals")(owned_list(require_user, me_db.withdrawals, payout_view))
# the tips I sent, newest first (once settled)
routes.get("/api/me/tips")(owned_list(require_user, me_db.tips, tip_view))


@routes.get("/api/me/following/live")
async def following_live(request: web.Request) -> web.Response:
    me = await require_user(request)
    after, limit = page_params(request)
    rows = await social_db.live_followed(request.app[PG], me["id"], after, limit)
    return web.json_response(page_body([stream_view(request, r) for r in rows], rows, limit))
