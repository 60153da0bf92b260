"""Full-text queries behind /api/search, served by the GIN indexes of migration 0120."""

from __future__ import annotations

import re

import asyncpg

from signaling.api.streams.queries import STREAM_COLUMNS
from signaling.api.videos.queries import VIDEO_COLUMNS
from signaling.db import Db

# Index expression of migration 0120 (with `s.`/`v.` put in front of the columns).
DOCUMENT = "to_tsvector('simple', {t}.title || ' ' || coalesce({t}.description, ''))"
MAX_WORDS = 8
_WORD = re.compile(r"\w+")


def tsquery(text: str) -> str | None:
    """Every word of `text`, each also matching as a prefix ("coff" finds "coffee"); None
    when `text` has no word. Only word characters reach to_tsquery, so nothing in `text` is
    tsquery syntax."""
    words = _WORD.findall(text.lower())[:MAX_WORDS]
    return " & ".join(f"{word}:*" for word in words) or None


async def streams(db: Db, query: str, limit: int) -> list[asyncpg.Record]:
    """Matching streams, live ones first, then by rank and recency."""
    return await _matching(db, query, limit, "streams s", STREAM_COLUMNS, first="s.status = 'live'")


async def videos(db: Db, query: str, limit: int) -> list[asyncpg.Record]:
    """Matching public, ready videos, by rank and recency."""
    visible = "v.status = 'ready' AND v.deleted_at IS NULL AND NOT v.is_private"
    return await _matching(db, query, limit, "videos v", VIDEO_COLUMNS, where=visible)


async def _matching(
    db: Db,
    query: str,
    limit: int,
    table: str,
    columns: str,
    where: str = "TRUE",
    first: str = "NULL::boolean",
) -> list[asyncpg.Record]:
    """Rows of `table` ("<name> <alias>", its creator joined as u) whose title or description
    has the words of `query`; those meeting `first` lead, then by rank and recency."""
    alias = table.split()[1]
    document = DOCUMENT.format(t=alias)
    return await db.fetch(
        f"""SELECT {columns}
              FROM {table} JOIN users u ON u.id = {alias}.creator_id,
                   to_tsquery('simple', $1) q
             WHERE {document} @@ q AND {where}
             ORDER BY {first} DESC, ts_rank({document}, q) DESC, {alias}.created_at DESC
             LIMIT $2""",  # noqa: S608 - fixed fragments; the words are bound as $1
        query,
        limit,
    )
