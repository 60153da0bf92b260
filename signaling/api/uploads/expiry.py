"""Abandoned uploads expire: an upload still receiving with no activity for UPLOAD_EXPIRY_S
loses its row, its chunk rows and its files, so it stops holding disk and quota."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import Counter

from signaling.api.uploads.files import upload_dir
from signaling.background import every, finish
from signaling.keys import CONFIG, PG

logger = structlog.get_logger(__name__)
EXPIRED = Counter("vilokanam_uploads_expired_total", "Abandoned uploads removed")
SWEEP_EVERY_S = 300.0

# Last activity: the row's update or its latest chunk.
_EXPIRE = """
DELETE FROM uploads u
 WHERE u.status = 'receiving'
   AND GREATEST(u.updated_at, (SELECT max(c.received_at) FROM upload_chunks c
                                WHERE c.upload_id = u.id)) < now() - make_interval(secs => $1)
RETURNING u.id
"""


async def expire_abandoned(db: asyncpg.Pool, media_root: Path, max_age_s: float) -> list[uuid.UUID]:
    """Remove uploads idle for longer than `max_age_s`: rows first, then their folders."""
    ids = [row["id"] for row in await db.fetch(_EXPIRE, float(max_age_s))]
    for upload_id in ids:
        await asyncio.to_thread(shutil.rmtree, upload_dir(media_root, upload_id), True)
    if ids:
        EXPIRED.inc(len(ids))
        logger.info("upload_abandoned_expired", count=len(ids))
    return ids


async def _sweep(app: web.Application) -> None:
    config = app[CONFIG]
    try:
        await expire_abandoned(app[PG], config.media.media_root, config.uploads.upload_expiry_s)
    except (OSError, asyncpg.PostgresError) as exc:
        logger.warning("upload_expiry_sweep_failed", error=str(exc))


async def upload_expiry(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: sweep abandoned uploads while the app runs."""
    stop = asyncio.Event()
    interval_s = min(SWEEP_EVERY_S, app[CONFIG].uploads.upload_expiry_s)
    task = asyncio.create_task(every(interval_s, stop, lambda: _sweep(app)))
    yield
    stop.set()
    await finish([task])
