"""Live chat on a stream: `comments` rows with a stream_id, their JSON view, the stream's recent
tips (highlighted in the chat), and the stream a chat socket joins."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from signaling.db import Db
from signaling.http.json import rfc3339_or_none

MAX_CHARS = 500
HISTORY = 50

# Columns of message_view; `c` is a comments row (or the INSERT's RETURNING), `u` its author.
_COLUMNS = "c.id, c.stream_id, c.content, c.created_at, u.id AS author_id, u.account_id, u.username"


class ChatRefused(ValueError):
    """A chat message that may not be posted; the text is shown to the sender."""


def clean(content: object) -> str:
    """The message text, stripped; ChatRefused when it is not text, empty or too long."""
    if not isinstance(content, str):
        raise ChatRefused("content must be text")
    text = content.strip()
    if not text:
        raise ChatRefused("the message is empty")
    if len(text) > MAX_CHARS:
        raise ChatRefused(f"the message is longer than {MAX_CHARS} characters")
    if "\x00" in text:
        raise ChatRefused("the message must not contain NUL characters")  # PostgreSQL text
    return text


async def stream_of(db: Db, stream_id: uuid.UUID) -> asyncpg.Record | None:
    """What a stream socket needs of its stream: status and stored viewer count."""
    return await db.fetchrow(
        "SELECT id, status, viewer_count FROM streams WHERE id = $1", stream_id
    )


async def post(db: Db, stream_id: uuid.UUID, author_id: uuid.UUID, content: str) -> dict[str, Any]:
    """Store a cleaned message and return it as sent to sockets."""
    row = await db.fetchrow(
        f"""WITH c AS (INSERT INTO comments (stream_id, author_id, content)
                       VALUES ($1, $2, $3) RETURNING *)
            SELECT {_COLUMNS} FROM c JOIN users u ON u.id = c.author_id""",  # noqa: S608
        stream_id,
        author_id,
        content,
    )
    return message_view(row)


async def recent(db: Db, stream_id: uuid.UUID, limit: int = HISTORY) -> list[dict[str, Any]]:
    """The last `limit` messages of a stream, oldest first."""
    rows = await db.fetch(
        f"""SELECT {_COLUMNS} FROM comments c JOIN users u ON u.id = c.author_id
            WHERE c.stream_id = $1 AND NOT c.is_deleted
            ORDER BY c.created_at DESC, c.id DESC LIMIT $2""",  # noqa: S608
        stream_id,
        limit,
    )
    return [message_view(row) for row in reversed(rows)]


async def recent_tips(db: Db, stream_id: uuid.UUID, limit: int = HISTORY) -> list[dict[str, Any]]:
    """The last `limit` settled tips to a stream, oldest first, as the live tip events."""
    rows = await db.fetch(
        """SELECT p.id, p.amount, p.fee, m.message, m.created_at,
                  u.id AS author_id, u.account_id, u.username
           FROM payments p
           JOIN tip_messages m ON m.payment_id = p.id
           JOIN users u ON u.id = p.from_user_id
           WHERE p.payment_type = 'tip' AND p.reference_id = $1
           ORDER BY p.created_at DESC, p.id DESC LIMIT $2""",
        stream_id,
        limit,
    )
    return [tip_event(row, stream_id) for row in reversed(rows)]


def tip_event(row: asyncpg.Record | dict[str, Any], stream_id: uuid.UUID) -> dict[str, Any]:
    """A tip as the chat shows it (also published live by signaling/api/tips/routes.py)."""
    amount, fee = int(row["amount"]), int(row["fee"])
    return {
        "type": "tip",
        "id": str(row["id"]),
        "stream_id": str(stream_id),
        "amount": str(amount),
        "creator_amount": str(amount - fee),
        "fee": str(fee),
        "message": row["message"],
        "created_at": rfc3339_or_none(row["created_at"]),
        "author": {
            "id": str(row["author_id"]),
            "account_id": row["account_id"],
            "username": row["username"],
        },
    }


def message_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "type": "chat",
        "id": str(row["id"]),
        "stream_id": str(row["stream_id"]),
        "content": row["content"],
        "created_at": rfc3339_or_none(row["created_at"]),
        "author": {
            "id": str(row["author_id"]),
            "account_id": row["account_id"],
            "username": row["username"],
        },
    }
