"""Development-only endpoints, routed only when AppConfig.dev_mode is set.

`POST /api/dev/login {"uri": "//Bob"}` signs in as a well-known dev account. The server holds
the dev key, so it plays the wallet's part: it asks for a nonce and signs the message, then goes
through exactly the same nonce/verify functions as a browser wallet would. Nothing is skipped.
"""

from __future__ import annotations

from functools import cache

import structlog
from aiohttp import web
from substrateinterface import Keypair

from signaling.auth import signin
from signaling.auth.cookies import session_response
from signaling.auth.models import DevLogin
from signaling.http.errors import ApiError
from signaling.http.validation import read_json
from signaling.keys import CONFIG

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
