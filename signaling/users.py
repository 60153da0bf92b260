"""Users: named queries and the JSON views of a user row."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from billing.accounts import to_ss58
from signaling.json import rfc3339_or_none

COLUMNS = (
    "id, account_id, public_key, username, email, bio, profile_image_url, is_creator, "
    "created_at, updated_at"
)


async def by_id(pool: asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(f"SELECT {COLUMNS} FROM users WHERE id = $1", user_id)  # noqa: S608


async def get_or_create(pool: asyncpg.Pool, key: bytes, ss58_format: int) -> asyncpg.Record:
    """The user owning this public key, created on first sign-in."""
    row = await pool.fetchrow(
        f"""INSERT INTO users (account_id, public_key) VALUES ($1, $2)
            ON CONFLICT (public_key) DO NOTHING RETURNING {COLUMNS}""",  # noqa: S608
        to_ss58(key, ss58_format),
        key,
    )
    if row is None:
        row = await pool.fetchrow(
            f"SELECT {COLUMNS} FROM users WHERE public_key = $1", key  # noqa: S608
        )
    return row


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
