"""Sign-in endpoints: a nonce to sign, the signed message for a session token, sign-out.

Signing out also closes every WebSocket signed in with that token, in every process, through
the realtime fan-out (app[EVENTS]); auth never imports the realtime layer.
"""

from __future__ import annotations

from aiohttp import web

from signaling.auth.models import NonceRequest, VerifyRequest
from signaling.auth.sessions import CHALLENGE, close_session
from signaling.auth.signin import issue_nonce, sign_in
from signaling.auth.tokens import digest
from signaling.http import rate_limit
from signaling.http.errors import ApiError
from signaling.http.validation import read_json
from signaling.keys import CONFIG, EVENTS

routes = web.RouteTableDef()


@routes.post("/api/auth/nonce")
async def create_nonce(request: web.Request) -> web.Response:
    body = await read_json(request, NonceRequest)
    await rate_limit.enforce(
        request,
        "nonce",
        rate_limit.client_ip(request),
        request.app[CONFIG].limits.nonce_rate_per_minute,
        60,
    )
    return web.json_response(await issue_nonce(request, body.address), status=201)


@routes.post("/api/auth/verify")
async def verify(request: web.Request) -> web.Response:
    body = await read_json(request, VerifyRequest)
    return web.json_response(await sign_in(request, body.address, body.message, body.signature))


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    token = await close_session(request)
    if token is None:
        raise ApiError(401, "no valid session token", headers=CHALLENGE)
    await request.app[EVENTS].revoke_session(digest(token))
    return web.Response(status=204)
