"""The one `row_or_404`: the row a path parameter names, or a 404 that says what is missing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping

import asyncpg
from aiohttp import web

from signaling.db import Db
from signaling.http.errors import ApiError
from signaling.http.validation import parse_uuid
from signaling.keys import PG

Lookup = Callable[[Db, uuid.UUID], Awaitable[asyncpg.Record | None]]


async def row_or_404(
    request: web.Request,
    param: str,
    what: str,
    lookup: Lookup,
    *,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> asyncpg.Record:
    """`lookup(pool, id)` of the path's {param}; 404 "no {what} {id}" (or `message`) when it
    is not a UUID or finds nothing."""
    row_id = parse_uuid(request.match_info[param], what)
    row = await lookup(request.app[PG], row_id)
    if row is None:
        raise ApiError(
            404, message or f"no {what} {row_id}", headers=dict(headers) if headers else None
        )
    return row
