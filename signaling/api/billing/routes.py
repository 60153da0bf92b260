"""Billing endpoints: what a wallet needs to top up, a viewer's balance, withdrawals.

A withdrawal costs its transaction fee, paid by the viewer: `GET /api/me/withdraw/quote` shows
it before they confirm, `POST /api/me/withdraw` takes amount + fee off the balance (409 when the
fee rose above the quote the viewer accepted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import Field

from billing import MAX_BALANCE, PayoutError, public_key, to_ss58
from signaling.auth.sessions import require_user
from signaling.http.errors import ApiError
from signaling.http.json import planck
from signaling.http.validation import Body, read_json
from signaling.keys import BILLING, CONFIG, PG

routes = web.RouteTableDef()

OPEN = ["created", "signed", "submitted", "in_block"]


AMOUNT = r"^[1-9][0-9]{0,37}$"


class WithdrawRequest(Body):
    amount: str = Field(pattern=AMOUNT, description="planck")
    to: str | None = Field(default=None, max_length=64, description="SS58 address; default: mine")
    fee: str | None = Field(default=None, pattern=r"^[0-9]{1,38}$",
                            description="the quoted fee the viewer accepted (planck); 409 if the "
                                        "fee is now higher")


@dataclass(frozen=True)
class WithdrawalTerms:
    dest: str
    amount: int
    fee: int

    def body(self) -> dict[str, str]:
        return {"amount": planck(self.amount), "fee": planck(self.fee),
                "total": planck(self.amount + self.fee), "to": self.dest}


def _billing(request: web.Request):  # type: ignore[no-untyped-def]
    billing = request.app.get(BILLING)
    if billing is None or billing.chain is None:
        raise ApiError(503, "billing is not connected to a chain on this server")
    return billing


@routes.get("/api/billing/info")
async def info(request: web.Request) -> web.Response:
    billing = _billing(request)
    config = request.app[CONFIG]
    return web.json_response({
        "escrow_address": to_ss58(billing.escrow.public_key, billing.chain.ss58_format),
        "ss58_format": billing.chain.ss58_format,
        "chain_url": config.chain_public_url,
        "existential_deposit": planck(billing.existential_deposit),
        "fee_bps": config.platform_fee_bps,
        "token_symbol": billing.chain.token_symbol,
        "token_decimals": billing.chain.token_decimals,
        "min_balance_seconds": config.min_view_seconds,
    })


@routes.get("/api/me/balance")
async def balance(request: web.Request) -> web.Response:
    user = await require_user(request)
    billing = request.app[BILLING]
    available = await billing.meter.balance(str(user["id"]))
    reserved = await request.app[PG].fetchval(
        """SELECT COALESCE(sum(i.amount + p.fee_charged), 0) FROM payout_items i
           JOIN payouts p ON p.id = i.payout_id
           WHERE i.user_id = $1 AND p.kind = 'withdrawal' AND p.status = ANY($2::text[])""",
        user["id"], OPEN,
    )
    return web.json_response({"available": planck(available), "reserved": planck(reserved)})


async def _terms(billing: Any, user: asyncpg.Record, amount_text: str,
                 to: str | None) -> WithdrawalTerms:
    """Where to, how much, and the fee the viewer pays; 400 for what the chain cannot pay."""
    try:
        dest = to_ss58(public_key(to or user["account_id"]), billing.chain.ss58_format)
    except ValueError:
        raise ApiError(400, f"not a valid SS58 address: {to!r}", "invalid_address") from None
    amount = int(amount_text)
    if amount > MAX_BALANCE:  # no balance holds more: refused before any fee is asked of the chain
        raise ApiError(400, f"amount is above the largest balance ({MAX_BALANCE} planck)",
                       "amount_too_large")
    if amount < billing.existential_deposit:
        raise ApiError(400, f"the smallest withdrawal is {billing.existential_deposit} planck "
                            "(the chain's existential deposit)")
    return WithdrawalTerms(dest, amount, await billing.payouts.withdrawal_fee(dest, amount))


@routes.get("/api/me/withdraw/quote")
async def withdraw_quote(request: web.Request) -> web.Response:
    """What withdrawing ?amount= (to ?to=, default: my account) would take off my balance."""
    user = await require_user(request)
    amount = request.query.get("amount", "")
    if not re.fullmatch(AMOUNT, amount):
        raise ApiError(400, "amount must be a positive integer of planck", "invalid_field")
    billing = _billing(request)
    terms = await _terms(billing, user, amount, request.query.get("to"))
    available = await billing.meter.balance(str(user["id"]))
    return web.json_response({**terms.body(), "available": planck(available)})


@routes.post("/api/me/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await read_json(request, WithdrawRequest)
    billing = _billing(request)
    terms = await _terms(billing, user, body.amount, body.to)
    if body.fee is not None and terms.fee > int(body.fee):
        raise ApiError(409, f"the fee is now {terms.fee} planck, above the {body.fee} you "
                            "accepted: ask for a new quote", "fee_changed")
    try:
        payout_id = await billing.payouts.create_withdrawal(user["id"], terms.dest, terms.amount,
                                                            terms.fee)
    except PayoutError as exc:
        raise ApiError(400, str(exc), exc.code) from None
    billing.spawn(billing.payouts.drive_or_park(payout_id))
    return web.json_response({"id": str(payout_id), "status": "created", **terms.body()},
                             status=202)
