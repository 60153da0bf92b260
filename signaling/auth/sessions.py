"""Session tokens: random, returned once, kept in Redis only as their SHA-256 digest.

Redis holds `session:{digest}` → user id (expiring with the session) and, per user,
`user-sessions:{user id}` → the set of their session digests, so that "sign out everywhere"
can end every one of them. A request presents its token as a Bearer header or the pages'
session cookie (signaling/auth/cookies.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

import asyncpg
from aiohttp import web

from signaling.auth import users
from signaling.auth.cookies import request_token
from signaling.auth.tokens import digest, new_secret
from signaling.http.errors import ApiError
from signaling.keys import CONFIG, PG, REDIS

TOKEN_PREFIX = "vkt"  # noqa: S105 - a label, not a secret
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="vilokanam"'}


def redis_key(request: web.Request, *parts: str) -> str:
    return request.app[CONFIG].server.redis_prefix + ":".join(parts)


async def open_session(request: web.Request, user_id: uuid.UUID) -> tuple[str, datetime]:
    ttl = request.app[CONFIG].auth.session_ttl_s
    token = new_secret(TOKEN_PREFIX)
    mine = _user_sessions_key(request, user_id)
    pipe = request.app[REDIS].pipeline(transaction=True)
    pipe.set(redis_key(request, "session", digest(token)), str(user_id), ex=ttl)
    pipe.sadd(mine, digest(token))
    pipe.expire(mine, ttl)  # this session is the user's last to expire
    await pipe.execute()
    return token, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=ttl)


def _user_sessions_key(request: web.Request, user_id: uuid.UUID) -> str:
    return redis_key(request, "user-sessions", str(user_id))


async def close_session(request: web.Request, token: str) -> bool:
    """End the session of `token`; whether it was a live one."""
    key = redis_key(request, "session", digest(token))
    value = cast(bytes | None, await request.app[REDIS].getdel(key))
    if value is None:
        return False
    await request.app[REDIS].srem(
        _user_sessions_key(request, uuid.UUID(value.decode())), digest(token)
    )
    return True


async def close_all_sessions(request: web.Request, user_id: uuid.UUID) -> list[str]:
    """End every session of the user, on every device; the digests of those that were live."""
    mine = _user_sessions_key(request, user_id)
    redis = request.app[REDIS]
    digests = [d.decode() for d in cast(set[bytes], await redis.smembers(mine))]
    if not digests:
        return []
    pipe = redis.pipeline(transaction=True)
    for token_digest in digests:
        pipe.delete(redis_key(request, "session", token_digest))
    pipe.srem(mine, *digests)  # not DEL: a sign-in meanwhile keeps its place
    deleted = (await pipe.execute())[:-1]
    return [d for d, gone in zip(digests, deleted, strict=True) if gone]


async def session_expiry(request: web.Request, token: str) -> datetime | None:
    """When the session of `token` ends, or None when it is not live."""
    ttl = int(await request.app[REDIS].ttl(redis_key(request, "session", digest(token))))
    if ttl < 0:
        return None
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=ttl)


async def session_user_id(request: web.Request) -> uuid.UUID | None:
    """The signed-in user's id from the request's Bearer token or session cookie, or None."""
    return await token_user_id(request, request_token(request))


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
