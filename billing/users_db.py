"""The one query billing and signaling share on users: find or create by public key."""

from __future__ import annotations

import asyncpg

from billing.accounts import to_ss58

USER_COLUMNS = (
    "id, account_id, public_key, username, email, bio, profile_image_url, is_creator, "
    "created_at, updated_at"
)


async def ensure_user(
    db: asyncpg.Pool | asyncpg.Connection, key: bytes, ss58_format: int
) -> asyncpg.Record:
    """The user owning this public key, created on first sight (sign-in or a deposit)."""
    row = await db.fetchrow(
        f"""INSERT INTO users (account_id, public_key) VALUES ($1, $2)
            ON CONFLICT (public_key) DO NOTHING RETURNING {USER_COLUMNS}""",  # noqa: S608
        to_ss58(key, ss58_format),
        key,
    )
    if row is None:
        row = await db.fetchrow(
            f"SELECT {USER_COLUMNS} FROM users WHERE public_key = $1",  # noqa: S608
            key,
        )
    return row
