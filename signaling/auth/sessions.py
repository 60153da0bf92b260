"""Session tokens: random, returned once, kept in Redis only as their SHA-256 digest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

import asyncpg
from aiohttp import web

from signaling.auth import users
from signaling.auth.tokens import bearer, digest, new_secret
from signaling.http.errors import ApiError
from signaling.keys import CONFIG, PG, REDIS

TOKEN_PREFIX = "vkt"  # noqa: S105 - a label, not a secret
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="vilokanam"'}


def redis_key(request: web.Request, *parts: str) -> str:
    return request.app[CONFIG].server.redis_prefix + ":".join(parts)


async def open_session(request: web.Request, user_id: uuid.UUID) -> tuple[str, datetime]:
    ttl = request.app[CONFIG].auth.session_ttl_s
    token = new_secret(TOKEN_PREFIX)
    await request.app[REDIS].set(redis_key(request, "session", digest(token)), str(user_id), ex=ttl)
    return token, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=ttl)


async def close_session(request: web.Request) -> str | None:
    """Revoke the bearer token of this request and return it; None when it was not a live one."""
    token = bearer(request.headers.get("Authorization"))
    if token is None:
        return None
    deleted = await request.app[REDIS].delete(redis_key(request, "session", digest(token)))
    return token if deleted else None


async def session_user_id(request: web.Request) -> uuid.UUID | None:
    """The signed-in user's id from the bearer session token, or None."""
    return await token_user_id(request, bearer(request.headers.get("Authorization")))


async def token_user_id(request: web.Request, token: str | None) -> uuid.UUID | None:
    """The user id a session token belongs to, or None (also for WebSocket auth messages)."""
    if token is None or not token.startswith(TOKEN_PREFIX + "_"):
        return None
    key = redis_key(request, "session", digest(token))
    value = cast(bytes | None, await request.app[REDIS].get(key))  # no decode_responses: bytes
    return uuid.UUID(value.decode()) if value else None


async def require_user(request: web.Request) -> asyncpg.Record:
    """The signed-in user's row; 401 when the token is missing, unknown or expired."""
    user_id = await session_user_id(request)
    user = await users.by_id(request.app[PG], user_id) if user_id else None
    if user is None:
        raise ApiError(401, "sign in first: missing or expired session token", headers=CHALLENGE)
    return user
