"""Migration 0100: Chromium recordings that failed on the frame-rate overflow are queued again
(and become videos with the fixed worker); other failures keep their state, with a reason."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from recorder.worker import run_vod_worker
from tests.recorder.support.pattern_media import record_like_chromium
from tests.support.services import fresh_database
from vilokanam.migrate import MIGRATIONS_DIR, migrate

OVERFLOW = (
    "NumericValueOutOfRangeError: numeric field overflow\nDETAIL:  A field with "
    "precision 5, scale 2 must round to an absolute value less than 10^3."
)


@pytest.fixture
def empty_db(pg_admin_url: str) -> Iterator[str]:
    with fresh_database(pg_admin_url, migrated=False) as url:
        yield url


async def failed_job(conn: asyncpg.Connection, source: str, error: str) -> tuple:
    """A live recording whose job failed for good with ``error`` (as the old worker left it)."""
    user = await conn.fetchval(
        "INSERT INTO users (account_id, public_key) VALUES ($1, $2) RETURNING id",
        "5" + secrets.token_hex(20),
        secrets.token_bytes(32),
    )
    stream = await conn.fetchval(
        "INSERT INTO streams (creator_id, title, status) VALUES ($1, 'live', 'ended') RETURNING id",
        user,
    )
    video = await conn.fetchval(
        "INSERT INTO videos (creator_id, title, status) VALUES ($1, 'rec', 'failed') RETURNING id",
        user,
    )
    job = await conn.fetchval(
        """INSERT INTO vod_jobs (video_id, kind, stream_id, source_paths, status, attempts,
                                 last_error, finished_at)
           VALUES ($1, 'live_recording', $2, $3, 'failed', 3, $4, now()) RETURNING id""",
        video,
        stream,
        [source],
        error,
    )
    return video, job


async def test_overflowed_recordings_are_requeued_and_become_videos(
    empty_db: str, tmp_path: Path
) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < "0100":
            shutil.copy(path, before / path.name)
    await migrate(empty_db, before)
    part = record_like_chromium(tmp_path / "rec", seconds=2.0)
    conn = await asyncpg.connect(empty_db)
    try:
        overflowed, _ = await failed_job(conn, str(part), OVERFLOW)
        not_media, _ = await failed_job(conn, str(part), "part-0001.mkv: not a media file")
        await migrate(empty_db)
        jobs = {
            r["video_id"]: r
            for r in await conn.fetch(
                "SELECT video_id, status, attempts, failure_reason FROM vod_jobs"
            )
        }
        assert (jobs[overflowed]["status"], jobs[overflowed]["attempts"]) == ("queued", 0)
        assert (jobs[not_media]["status"], jobs[not_media]["failure_reason"]) == (
            "failed",
            "processing failed",
        )
        assert (
            await conn.fetchval("SELECT status FROM videos WHERE id = $1", overflowed)
            == "processing"
        )
    finally:
        await conn.close()

    pool = await asyncpg.create_pool(empty_db, min_size=1, max_size=3)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_vod_worker(pool, tmp_path / "media", stop, poll_s=0.1))
    try:
        for _ in range(300):
            status = await pool.fetchval("SELECT status FROM videos WHERE id = $1", overflowed)
            if status != "processing":
                break
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await worker
        await pool.close()
    assert status == "ready"
