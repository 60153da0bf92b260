"""Development-only endpoints, routed only when AppConfig.dev_mode is set.

`POST /api/dev/login {"uri": "//Bob"}` signs in as a well-known dev account. The server holds
the dev key, so it plays the wallet's part: it asks for a nonce and signs the message, then goes
through exactly the same nonce/verify functions as a browser wallet would. Nothing is skipped.

`POST /api/dev/topup {"amount": "<planck>"}`: the signed-in dev account sends that much to the
escrow on the chain, as its wallet would; the deposit watcher credits it like any deposit.
"""

from __future__ import annotations

from functools import cache

import structlog
from aiohttp import web
from substrateinterface import Keypair

from billing import ChainExpired, ChainRejected, ChainTimeout
from signaling.auth import signin
from signaling.auth.cookies import session_response
from signaling.auth.models import DevLogin, DevTopUp
from signaling.auth.sessions import require_user
from signaling.http.errors import ApiError
from signaling.http.validation import read_json
from signaling.keys import BILLING, CONFIG

logger = structlog.get_logger(__name__)
routes = web.RouteTableDef()

# The well-known development accounts of every Substrate dev chain (public secrets).
DEV_NAMES = ("Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie")
DEV_URIS = tuple(f"//{name}" for name in DEV_NAMES)


@cache
def dev_keypair(uri: str, ss58_format: int) -> Keypair:
    return Keypair.create_from_uri(uri, ss58_format=ss58_format)


@routes.get("/api/dev/accounts")
async def dev_accounts(request: web.Request) -> web.Response:
    ss58_format = request.app[CONFIG].auth.ss58_format
    items = [
        {"name": name, "uri": uri, "address": dev_keypair(uri, ss58_format).ss58_address}
        for name, uri in zip(DEV_NAMES, DEV_URIS, strict=True)
    ]
    return web.json_response({"items": items})


@routes.post("/api/dev/login")
async def dev_login(request: web.Request) -> web.Response:
    body = await read_json(request, DevLogin)
    if body.uri not in DEV_URIS:
        raise ApiError(422, f"uri: must be one of {', '.join(DEV_URIS)}", "invalid_field")
    keypair = dev_keypair(body.uri, request.app[CONFIG].auth.ss58_format)
    issued = await signin.issue_nonce(request, keypair.ss58_address)
    signature = "0x" + keypair.sign(issued["message"]).hex()
    session = await signin.sign_in(request, keypair.ss58_address, issued["message"], signature)
    logger.info("auth_dev_login", uri=body.uri)
    return session_response(request, session)


@routes.post("/api/dev/topup")
async def dev_topup(request: web.Request) -> web.Response:
    """200 once the transfer is in a finalized block; the balance follows when the deposit
    watcher has seen it (poll GET /api/me/balance)."""
    user = await require_user(request)
    body = await read_json(request, DevTopUp)
    ss58_format = request.app[CONFIG].auth.ss58_format
    keypair = next(
        (
            k
            for k in (dev_keypair(u, ss58_format) for u in DEV_URIS)
            if k.public_key == user["public_key"]
        ),
        None,
    )
    if keypair is None:
        raise ApiError(
            403, "only the dev accounts (//Alice … //Ferdie) can top up from the dev chain"
        )
    billing = request.app.get(BILLING)
    if billing is None or billing.chain is None or billing.escrow is None:
        raise ApiError(503, "this server is not connected to a chain")
    try:
        xt, inclusion = await billing.chain.transfer(
            keypair, billing.escrow.ss58_address, int(body.amount)
        )
    except ChainRejected as exc:  # e.g. more than the dev account holds
        raise ApiError(422, f"the chain refused the transfer: {exc}", "chain_refused") from None
    except (ChainTimeout, ChainExpired):
        raise ApiError(503, "the chain did not take the transfer in time; try again") from None
    if not inclusion.success:
        raise ApiError(422, f"the chain refused the transfer: {inclusion.error}", "chain_refused")
    logger.info("dev_topup_sent", user_id=str(user["id"]), amount=body.amount, xt_hash=xt.hash)
    return web.json_response(
        {"amount": body.amount, "extrinsic_hash": xt.hash, "block_number": inclusion.block_number}
    )
