"""Billing endpoints: what a wallet needs to top up (balances and withdrawals are mine:
signaling/api/me/)."""

from __future__ import annotations

from aiohttp import web

from billing import to_ss58
from signaling.api.billing.access import chain_billing
from signaling.http.json import planck
from signaling.keys import CONFIG

routes = web.RouteTableDef()


@routes.get("/api/billing/info")
async def info(request: web.Request) -> web.Response:
    billing = chain_billing(request)
    chain, escrow = billing.chain, billing.escrow
    assert chain is not None and escrow is not None  # chain_billing: a chain, so an escrow
    config = request.app[CONFIG]
    return web.json_response(
        {
            "escrow_address": to_ss58(escrow.public_key, chain.ss58_format),
            "ss58_format": chain.ss58_format,
            "chain_url": config.chain_public_url,
            "existential_deposit": planck(billing.existential_deposit),
            "fee_bps": config.billing.platform_fee_bps,
            "token_symbol": chain.token_symbol,
            "token_decimals": chain.token_decimals,
            "min_balance_seconds": config.billing.min_view_seconds,
        }
    )
