"""Sign-in endpoints: a nonce to sign, the signed message for a session, who is signed in,
sign-out of this session or of all the user's sessions.

Signing out also closes every WebSocket signed in with the ended sessions, in every process,
through the realtime fan-out (app[EVENTS]); auth never imports the realtime layer.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from aiohttp import web

from signaling.auth import users
from signaling.auth.cookies import (
    clear_session_cookies,
    from_cookie,
    request_token,
    session_response,
    set_session_cookies,
)
from signaling.auth.models import NonceRequest, VerifyRequest
from signaling.auth.sessions import (
    CHALLENGE,
    close_all_sessions,
    close_session,
    require_user,
    session_expiry,
    token_user_id,
)
from signaling.auth.signin import issue_nonce, sign_in
from signaling.auth.siws import rfc3339
from signaling.auth.tokens import bearer, digest
from signaling.http import rate_limit
from signaling.http.errors import ApiError
from signaling.http.validation import read_json
from signaling.keys import CONFIG, EVENTS, PG

logger = structlog.get_logger(__name__)
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
    return session_response(
        request, await sign_in(request, body.address, body.message, body.signature)
    )


@routes.get("/api/auth/session")
async def current_session(request: web.Request) -> web.Response:
    """Who this request is signed in as (the pages ask on load): {user, expires_at}, both null
    when signed out. A stale session cookie is cleared; a live one renews the CSRF cookie."""
    token = request_token(request)
    user_id = await token_user_id(request, token)
    user = await users.by_id(request.app[PG], user_id) if user_id else None
    expires_at = await session_expiry(request, token) if token and user else None
    if user is None or expires_at is None or token is None:
        response = web.json_response({"user": None, "expires_at": None})
        if from_cookie(request) is not None:
            clear_session_cookies(response, request)
        return response
    response = web.json_response(
        {"user": users.private_view(user), "expires_at": rfc3339(expires_at)}
    )
    if bearer(request.headers.get("Authorization")) is None:
        left = int((expires_at - datetime.now(UTC)).total_seconds())
        set_session_cookies(response, request, token, max_age=max(left, 1))
    return response


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    """End this session (Bearer token or cookie). A dead cookie still gets cleared: 204."""
    token = request_token(request)
    live = token is not None and await close_session(request, token)
    if token is None or (not live and bearer(request.headers.get("Authorization"))):
        raise ApiError(401, "no valid session token", headers=CHALLENGE)
    if live:
        await request.app[EVENTS].revoke_session(digest(token))
        logger.info("auth_signed_out")
    response = web.Response(status=204)
    clear_session_cookies(response, request)
    return response


@routes.post("/api/auth/logout-all")
async def logout_everywhere(request: web.Request) -> web.Response:
    """End every session of the signed-in user, on every device."""
    user = await require_user(request)
    ended = await close_all_sessions(request, user["id"])
    for token_digest in ended:
        await request.app[EVENTS].revoke_session(token_digest)
    logger.info("auth_signed_out_everywhere", user_id=str(user["id"]), sessions=len(ended))
    response = web.json_response({"sessions_ended": len(ended)})
    clear_session_cookies(response, request)
    return response
