"""Opaque cursors for keyset pagination over (created_at, id), newest first, and one page of
an owner's rows."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from signaling.db import Db
from signaling.http.errors import ApiError
from signaling.keys import PG

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, row_id = raw.partition("|")
        return datetime.fromisoformat(moment), uuid.UUID(row_id)
    except ValueError:
        raise ApiError(400, "invalid cursor; use next_cursor from the previous page") from None


def page_params(request: web.Request) -> tuple[tuple[datetime, uuid.UUID] | None, int]:
    """(after, limit) from ?cursor=&limit=."""
    raw_limit = request.query.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise ApiError(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
    cursor = request.query.get("cursor")
    return (decode_cursor(cursor) if cursor else None), int(raw_limit)


def next_cursor(
    rows: list[asyncpg.Record], limit: int, keys: tuple[str, str] = ("created_at", "id")
) -> str | None:
    """The cursor after the last row of a full page; `keys` name its (created_at, id) columns."""
    if len(rows) < limit:
        return None
    return encode_cursor(rows[-1][keys[0]], rows[-1][keys[1]])


Cursor = tuple[datetime, uuid.UUID]


def keyset_args(after: Cursor | None) -> tuple[datetime | None, uuid.UUID | None]:
    """Query arguments for `(created_at, id) < ($n, $n+1)`, both NULL on the first page."""
    return after if after else (None, None)


def page_body(
    items: list[dict[str, Any]],
    rows: list[asyncpg.Record],
    limit: int,
    keys: tuple[str, str] = ("created_at", "id"),
) -> dict[str, Any]:
    """The JSON of one page: {"items": [...], "next_cursor": str | null}."""
    return {"items": items, "next_cursor": next_cursor(rows, limit, keys)}


OwnedQuery = Callable[[Db, uuid.UUID, "Cursor | None", int], Awaitable[list[asyncpg.Record]]]


async def owned_page(
    request: web.Request,
    owner_id: uuid.UUID,
    query: OwnedQuery,
    view: Callable[[asyncpg.Record], dict[str, Any]],
    keys: tuple[str, str] = ("created_at", "id"),
) -> web.Response:
    """One ?cursor=&limit= page of an owner's rows: `query(db, owner_id, after, limit)`."""
    after, limit = page_params(request)
    rows = await query(request.app[PG], owner_id, after, limit)
    return web.json_response(page_body([view(row) for row in rows], rows, limit, keys))


def owned_list(
    owner: Callable[[web.Request], Awaitable[asyncpg.Record]],
    query: OwnedQuery,
    view: Callable[[asyncpg.Record], dict[str, Any]],
    keys: tuple[str, str] = ("created_at", "id"),
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A handler of a list endpoint: one :func:`owned_page` of the rows of whom ``owner`` finds
    (the signed-in user, the path's user; it raises 401/403/404 as it sees fit)."""

    async def handler(request: web.Request) -> web.Response:
        row = await owner(request)
        return await owned_page(request, row["id"], query, view, keys)

    return handler
