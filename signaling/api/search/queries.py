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
    document = DOCUMENT.format(t="s")
    return await db.fetch(
        f"""SELECT {STREAM_COLUMNS}
              FROM streams s JOIN users u ON u.id = s.creator_id,
                   to_tsquery('simple', $1) q
             WHERE {document} @@ q
             ORDER BY s.status = 'live' DESC, ts_rank({document}, q) DESC, s.created_at DESC
             LIMIT $2""",  # noqa: S608 - fixed fragments; the words are bound as $1
        query,
        limit,
    )


async def videos(db: Db, query: str, limit: int) -> list[asyncpg.Record]:
    """Matching public, ready videos, by rank and recency."""
    document = DOCUMENT.format(t="v")
    return await db.fetch(
        f"""SELECT {VIDEO_COLUMNS}
              FROM videos v JOIN users u ON u.id = v.creator_id,
                   to_tsquery('simple', $1) q
             WHERE {document} @@ q
               AND v.status = 'ready' AND v.deleted_at IS NULL AND NOT v.is_private
             ORDER BY ts_rank({document}, q) DESC, v.created_at DESC
             LIMIT $2""",  # noqa: S608 - fixed fragments; the words are bound as $1
        query,
        limit,
    )
