"""`vilokanam worker vod`: process VOD jobs (recordings and uploads) until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal

import asyncpg

from recorder.worker import default_owner, run_vod_worker
from vilokanam.settings import Settings, SettingsError


async def run(settings: Settings, name: str) -> None:
    if not settings.database_url:
        raise SettingsError("invalid settings: the VOD worker needs DATABASE_URL")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    try:
        # The lease owner must be unique per process: a dead worker's lease is told apart.
        owner = f"{name}@{default_owner()}"
        await run_vod_worker(pool, settings.media_root, stop, owner=owner,
                             lease_s=settings.vod_lease_s)
    finally:
        await pool.close()
