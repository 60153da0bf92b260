"""Billing endpoints: what a wallet needs to top up, a viewer's balance, withdrawals."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from billing import PayoutError, public_key, to_ss58
from signaling.errors import ApiError
from signaling.json import planck
from signaling.keys import BILLING, CONFIG, PG
from signaling.sessions import require_user
from signaling.validation import Body, read_json

routes = web.RouteTableDef()

OPEN = ["created", "signed", "submitted", "in_block"]


class WithdrawRequest(Body):
    amount: str = Field(pattern=r"^[1-9][0-9]{0,37}$", description="planck")
    to: str | None = Field(default=None, max_length=64, description="SS58 address; default: mine")


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
        """SELECT COALESCE(sum(i.amount), 0) FROM payout_items i
           JOIN payouts p ON p.id = i.payout_id
           WHERE i.user_id = $1 AND p.kind = 'withdrawal' AND p.status = ANY($2::text[])""",
        user["id"], OPEN,
    )
    return web.json_response({"available": planck(available), "reserved": planck(reserved)})


@routes.post("/api/me/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await read_json(request, WithdrawRequest)
    billing = _billing(request)
    dest = body.to or user["account_id"]
    try:
        dest = to_ss58(public_key(dest), billing.chain.ss58_format)
    except ValueError:
        raise ApiError(400, f"not a valid SS58 address: {body.to!r}", "invalid_address") from None
    amount = int(body.amount)
    if amount < billing.existential_deposit:
        raise ApiError(400, f"the smallest withdrawal is {billing.existential_deposit} planck "
                            "(the chain's existential deposit)")
    try:
        payout_id = await billing.payouts.create_withdrawal(user["id"], dest, amount)
    except PayoutError as exc:
        raise ApiError(400, str(exc), exc.code) from None
    billing.spawn(billing.payouts.drive_or_park(payout_id))
    return web.json_response(
        {"id": str(payout_id), "status": "created", "amount": planck(amount), "to": dest},
        status=202,
    )
