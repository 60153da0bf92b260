"""Users: named queries and the JSON views of a user row."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from billing import USER_COLUMNS
from signaling.db import Db
from signaling.http.json import rfc3339_or_none

COLUMNS = USER_COLUMNS  # what every view of a user reads (me/queries.py selects them too)


async def by_id(pool: Db, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(f"SELECT {COLUMNS} FROM users WHERE id = $1", user_id)  # noqa: S608


def public_view(user: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """What anybody may see of a user."""
    return {
        "id": str(user["id"]),
        "account_id": user["account_id"],
        "username": user["username"],
        "bio": user["bio"],
        "profile_image_url": user["profile_image_url"],
        "is_creator": user["is_creator"],
        "created_at": rfc3339_or_none(user["created_at"]),
    }


def private_view(user: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """What the user sees of themselves."""
    return {
        **public_view(user),
        "email": user["email"],
        "updated_at": rfc3339_or_none(user["updated_at"]),
    }


def brief_view(row: asyncpg.Record | dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Who someone is, from the columns of a row that joined them: `{prefix}id`,
    `{prefix}account_id` and `{prefix}username` (e.g. prefix "creator_" or "reporter_")."""
    return {
        "id": str(row[f"{prefix}id"]),
        "account_id": row[f"{prefix}account_id"],
        "username": row[f"{prefix}username"],
    }
