"""Who may see which video: a video that is not ready, or private (a paid stream's recording),
is visible only to its creator; a deleted one to nobody.

Shared with the features that hang off a video (comments, likes, categories).
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from signaling.api.videos import queries as videos_db
from signaling.auth.sessions import session_user_id
from signaling.http.errors import ApiError
from signaling.http.validation import parse_uuid
from signaling.keys import PG


async def visible_video(request: web.Request) -> asyncpg.Record:
    """The path's {video_id} if this request may see it: ready, or its creator asking.

    Others get 404 for a video that is not ready yet, as if it were absent.
    """
    video_id = parse_uuid(request.match_info["video_id"], "video")
    row = await videos_db.by_id(request.app[PG], video_id)
    if row is None or row["deleted_at"] is not None:
        raise ApiError(404, f"no video {video_id}")
    if not is_public(row) and await session_user_id(request) != row["creator_id"]:
        raise ApiError(404, f"no video {video_id}")
    return row


def is_public(row: asyncpg.Record) -> bool:
    return row["status"] == "ready" and not row["is_private"]
