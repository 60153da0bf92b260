"""Roles: admins manage categories, moderators review reports (an admin may also moderate),
creators publish, and only a row's creator may change it.

Flags live on `users` (is_moderator, is_admin) and are set only by `vilokanam grant`.
"""

from __future__ import annotations

import uuid
from typing import Literal

import asyncpg
import structlog
from aiohttp import web

from billing import public_key
from signaling.auth.sessions import require_user
from signaling.db import Db
from signaling.http.errors import ApiError
from signaling.keys import PG

logger = structlog.get_logger(__name__)

Role = Literal["moderator", "admin"]
ROLES: tuple[Role, ...] = ("moderator", "admin")


async def has_role(db: Db, user_id: uuid.UUID, role: Role) -> bool:
    """Whether the user holds `role` (admins hold moderator too)."""
    column = "is_admin" if role == "admin" else "(is_moderator OR is_admin)"
    return bool(await db.fetchval(f"SELECT {column} FROM users WHERE id = $1", user_id))  # noqa: S608


async def require_role(request: web.Request, role: Role) -> asyncpg.Record:
    """The signed-in user's row if they hold `role`; 401 signed out, 403 without the role."""
    user = await require_user(request)
    if not await has_role(request.app[PG], user["id"], role):
        raise ApiError(403, f"only a {role} may do this")
    return user


async def require_creator(request: web.Request, refusal: str) -> asyncpg.Record:
    """The signed-in user's row if they are a creator; 401 signed out, 403 `refusal` otherwise."""
    user = await require_user(request)
    if not user["is_creator"]:
        raise ApiError(403, refusal)
    return user


def require_owner(user: asyncpg.Record, row: asyncpg.Record, refusal: str) -> None:
    """403 `refusal` unless `user` created `row` (its creator_id)."""
    if row["creator_id"] != user["id"]:
        raise ApiError(403, refusal)


async def grant(db: Db, public_key: bytes, role: Role) -> str | None:
    """Give `role` to the user with this public key; their account_id, None if no such user."""
    column = "is_admin" if role == "admin" else "is_moderator"
    account: str | None = await db.fetchval(
        f"UPDATE users SET {column} = TRUE WHERE public_key = $1 RETURNING account_id",  # noqa: S608
        public_key,
    )
    if account is not None:
        logger.info("auth_role_granted", role=role, account_id=account)
    return account


async def grant_address(database_url: str, address: str, role: Role) -> str | None:
    """`vilokanam grant`: give `role` to the user of an SS58 address of any prefix.

    Creates nothing: None when nobody with that key has signed in. ValueError for a bad address.
    """
    key = public_key(address)
    conn = await asyncpg.connect(database_url)
    try:
        return await grant(conn, key, role)
    finally:
        await conn.close()
