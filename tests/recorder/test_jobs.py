"""VOD job queue and worker against real PostgreSQL, incl. a worker killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from recorder.jobs import LeaseLost, Progress, enqueue, lease, renew
from recorder.worker import run_vod_worker
from tests.recorder.support.pattern_media import make_source, record_like_chromium
from tests.recorder.support.rows import new_video

ROOT = Path(__file__).resolve().parents[2]


async def wait_for(pool: asyncpg.Pool, sql: str, *args: object, limit_s: float = 120.0):
    """Poll the database until ``sql`` returns a row (the state a user would look at)."""
    for _ in range(int(limit_s / 0.2)):
        row = await pool.fetchrow(sql, *args)
        if row is not None:
            return row
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {sql}")


async def test_two_workers_never_lease_the_same_job(db: asyncpg.Pool, tmp_path: Path) -> None:
    video, _ = await new_video(db)
    job_id = await enqueue(db, video, "upload", [str(tmp_path / "x.mp4")])
    assert await db.fetchval("SELECT status FROM videos WHERE id = $1", video) == "processing"
    owners = [f"w{i}" for i in range(4)]
    got = await asyncio.gather(*(lease(db, owner, 30) for owner in owners))
    mine = [(owner, j) for owner, j in zip(owners, got, strict=True) if j and j.id == job_id]
    assert len(mine) == 1
    owner, job = mine[0]
    assert job.attempts == 1
    # The owner renews and records progress; a stranger cannot.
    await renew(db, job, owner, 30, Progress("transcode", 42.0, {"240p": 42.0}))
    row = await db.fetchrow("SELECT progress, current_step FROM vod_jobs WHERE id = $1", job_id)
    assert (float(row["progress"]), row["current_step"]) == (42.0, "transcode")
    with pytest.raises(LeaseLost):
        await renew(db, job, "stranger", 30, Progress())
    await db.execute("UPDATE vod_jobs SET status='failed', finished_at=now() WHERE id=$1", job_id)


async def test_worker_processes_an_upload_and_fills_the_tables(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    source = make_source(tmp_path / "upload.mp4", seconds=2.0)
    video, _ = await new_video(db)
    job_id = await enqueue(db, video, "upload", [str(source)])
    media = tmp_path / "media"
    stop = asyncio.Event()
    worker = asyncio.create_task(run_vod_worker(db, media, stop, owner="solo", lease_s=5))
    await wait_for(db, "SELECT 1 FROM vod_jobs WHERE id = $1 AND status = 'done'", job_id)
    stop.set()
    await worker
    v = await db.fetchrow("SELECT * FROM videos WHERE id = $1", video)
    assert (v["status"], v["width"], v["height"], v["duration"]) == ("ready", 640, 480, 2)
    assert v["file_size"] == source.stat().st_size and v["published_at"] is not None
    assert v["thumbnail_url"] == f"/media/videos/{video}/thumbnail.jpg"
    assert (media / "videos" / str(video) / "thumbnail.jpg").is_file()
    versions = await db.fetch(
        "SELECT resolution, storage_url FROM video_versions WHERE video_id = $1 ORDER BY bitrate",
        video,
    )
    assert [r["resolution"] for r in versions] == ["240p", "360p", "480p"]
    for r in versions:
        assert (media / r["storage_url"].removeprefix("/media/")).is_file()
    meta = await db.fetchrow("SELECT * FROM video_metadata WHERE video_id = $1", video)
    assert (meta["codec"], meta["audio_codec"], meta["aspect_ratio"]) == ("h264", "aac", "4:3")
    assert not list((media / "videos" / ".staging").iterdir())


async def test_a_text_file_fails_the_job_once_with_the_reason(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    fake = tmp_path / "movie.mp4"
    fake.write_text("definitely not a video\n" * 10)
    video, _ = await new_video(db)
    job_id = await enqueue(db, video, "upload", [str(fake)])
    stop = asyncio.Event()
    worker = asyncio.create_task(run_vod_worker(db, tmp_path / "m", stop, owner="t", lease_s=5))
    job = await wait_for(db, "SELECT * FROM vod_jobs WHERE id = $1 AND status = 'failed'", job_id)
    stop.set()
    await worker
    assert job["attempts"] == 1 and "not a media file" in job["last_error"]
    assert await db.fetchval("SELECT status FROM videos WHERE id = $1", video) == "failed"


async def test_a_recording_with_a_millisecond_time_base_becomes_ready_first_time(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    part = record_like_chromium(tmp_path / "rec", seconds=3.0, fps=20)  # probes at 1000 fps
    video, stream = await new_video(db, with_stream=True)
    job_id = await enqueue(db, video, "live_recording", [str(part)], stream_id=stream)
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_vod_worker(db, tmp_path / "media", stop, owner="t", lease_s=5, poll_s=0.1)
    )
    job = await wait_for(
        db, "SELECT * FROM vod_jobs WHERE id = $1 AND status IN ('done', 'failed')", job_id
    )
    stop.set()
    await worker
    assert (job["status"], job["attempts"], job["last_error"]) == ("done", 1, None)
    v = await db.fetchrow("SELECT status, duration FROM videos WHERE id = $1", video)
    assert (v["status"], v["duration"]) == ("ready", 3)
    meta = await db.fetchrow(
        "SELECT codec, frame_rate FROM video_metadata WHERE video_id = $1", video
    )
    assert meta["codec"] == "vp8" and abs(meta["frame_rate"] - 20) <= 1


def start_worker(database_url: str, media: Path, owner: str) -> subprocess.Popen:
    """`vilokanam worker vod` as it runs in production, with a 3 s lease."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media),
        "VOD_LEASE_S": "3",
        "VILOKANAM_ENV": "dev",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "vilokanam", "worker", "vod", "--name", owner],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_killed_worker_job_is_taken_over_and_completes_once(
    db: asyncpg.Pool, own_database_url: str, tmp_path: Path
) -> None:
    database_url = own_database_url  # the database behind `db` (tests/recorder/conftest.py)
    parts = [
        make_source(
            tmp_path / f"part-000{i}.mkv", seconds=6.0, width=1280, height=720, video_codec="libvpx"
        )
        for i in (1, 2)
    ]
    video, stream = await new_video(db, with_stream=True)
    job_id = await enqueue(db, video, "live_recording", [str(p) for p in parts], stream_id=stream)
    media = tmp_path / "media"
    first = start_worker(database_url, media, "doomed")
    try:
        await wait_for(
            db,
            "SELECT 1 FROM vod_jobs WHERE id = $1 AND lease_owner LIKE 'doomed@%' "
            "AND current_step = 'transcode' AND progress > 0",
            job_id,
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert await db.fetchval("SELECT status FROM vod_jobs WHERE id = $1", job_id) == "running"
    # Two fresh workers race for the orphaned job once its lease expires.
    others = [start_worker(database_url, media, f"heir-{i}") for i in (1, 2)]
    try:
        job = await wait_for(
            db, "SELECT * FROM vod_jobs WHERE id = $1 AND status = 'done'", job_id, limit_s=170
        )
    finally:
        for p in others:
            p.terminate()
        for p in others:
            p.wait(timeout=60)
    assert job["attempts"] == 2 and job["finished_at"] is not None
    assert job["last_error"] is None
    versions = await db.fetch("SELECT resolution FROM video_versions WHERE video_id = $1", video)
    assert sorted(r["resolution"] for r in versions) == ["240p", "360p", "480p", "720p"]
    s = await db.fetchrow("SELECT status, recording_url FROM streams WHERE id = $1", stream)
    assert s["status"] == "archived"
    assert s["recording_url"] == f"/media/videos/{video}/hls/master.m3u8"
    assert (media / "videos" / str(video) / "hls" / "master.m3u8").is_file()
    v = await db.fetchrow("SELECT status, duration FROM videos WHERE id = $1", video)
    assert (v["status"], v["duration"]) == ("ready", 12)
