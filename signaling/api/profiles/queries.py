"""Who a profile reference names, and the figures a profile page shows."""

from __future__ import annotations

import uuid
from typing import cast

import asyncpg

from billing import public_key
from signaling.auth import users
from signaling.db import Db


async def find(db: Db, ref: str) -> asyncpg.Record | None:
    """The user `ref` names: a user id, a username, or an SS58 address of any prefix."""
    try:
        return await users.by_id(db, uuid.UUID(ref))
    except ValueError:
        pass
    value: str | bytes
    try:
        key = public_key(ref)
    except ValueError:
        column, value = "username", ref
    else:
        column, value = "public_key", key
    return await db.fetchrow(
        f"SELECT {users.COLUMNS} FROM users WHERE {column} = $1",  # noqa: S608 - fixed names
        value,
    )


async def follow_counts(db: Db, user_id: uuid.UUID, viewer: uuid.UUID | None) -> asyncpg.Record:
    """followers, following, and whether `viewer` follows this user."""
    row = await db.fetchrow(  # an aggregate: always one row
        """SELECT (SELECT count(*) FROM follows WHERE following_id = $1) AS followers,
                  (SELECT count(*) FROM follows WHERE follower_id = $1) AS following,
                  EXISTS (SELECT 1 FROM follows
                          WHERE follower_id = $2 AND following_id = $1) AS followed""",
        user_id,
        viewer,
    )
    return cast(asyncpg.Record, row)


async def set_avatar(db: Db, user_id: uuid.UUID, url: str | None) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""UPDATE users SET profile_image_url = $2, updated_at = now() WHERE id = $1
            RETURNING {users.COLUMNS}""",  # noqa: S608 - fixed names
        user_id,
        url,
    )
