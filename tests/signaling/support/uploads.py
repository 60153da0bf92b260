"""Uploads through the API and an in-process VOD worker: the upload, videos and playback tests."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient

from recorder import LadderSettings
from recorder.jobs import INTERNAL_FAILURE, fail, lease
from recorder.worker import run_vod_worker
from signaling.config import AppConfig
from signaling.keys import CONFIG
from tests.recorder.support.pattern_media import make_source
from tests.support.configs import configured

CHUNK = 8 * 1024
# Two rungs under the 240p source, so a player has a quality to switch to.
LADDER = LadderSettings(video_bitrates={120: 150_000, 240: 400_000})


def upload_config(config: AppConfig, database_url: str, root: Path) -> AppConfig:
    """Own database and media root; small chunks allowed so a tiny clip has several."""
    return configured(
        config, database_url=database_url, media_root=root / "media", upload_min_chunk_bytes=1024
    )


def make_clip(directory: Path, seconds: float = 2.0) -> bytes:
    """A 320x240 H.264/AAC MP4 made with PyAV."""
    return make_source(directory / "clip.mp4", seconds=seconds, width=320, height=240).read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunks_of(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def start_upload(client: TestClient, headers: dict[str, str], data: bytes, **fields: object):
    """POST /api/uploads for ``data``; the response (fields override the defaults)."""
    body = {
        "filename": "clip.mp4",
        "size": len(data),
        "sha256": sha256(data),
        "chunk_size": CHUNK,
        "title": "My clip",
        "content_type": "video/mp4",
        **fields,
    }
    return await client.post("/api/uploads", json=body, headers=headers)


async def put_chunk(
    client: TestClient,
    headers: dict[str, str],
    upload_id: str,
    index: int,
    data: bytes,
    checksum: str | None = None,
):
    return await client.put(
        f"/api/uploads/{upload_id}/chunks/{index}",
        data=data,
        headers={
            **headers,
            "Content-Type": "application/octet-stream",
            "X-Chunk-SHA256": checksum or sha256(data),
        },
    )


async def upload(client: TestClient, headers: dict[str, str], data: bytes, **fields: object) -> str:
    """Upload ``data`` whole (chunks last to first) and complete it; the new video's id."""
    created = await start_upload(client, headers, data, **fields)
    assert created.status == 201, await created.text()
    upload_id = (await created.json())["id"]
    parts = chunks_of(data, (await created.json())["chunk_size"])
    for index in reversed(range(len(parts))):
        response = await put_chunk(client, headers, upload_id, index, parts[index])
        assert response.status == 201, await response.text()
    done = await client.post(f"/api/uploads/{upload_id}/complete", headers=headers)
    assert done.status == 202, await done.text()
    return (await done.json())["video_id"]


async def failed_upload(
    client: TestClient, db: asyncpg.Pool, headers: dict[str, str], clip: bytes
) -> str:
    """A good upload whose first processing failed for a reason of ours (a worker error with no
    attempt left), recorded as the worker records it; the video's id."""
    video_id = await upload(client, headers, clip, title="Unlucky first time")
    job = await lease(db, "worker-that-fails", 30)
    assert job is not None and str(job.video_id) == video_id
    status = await fail(
        db, job, "worker-that-fails", "OSError: disk full", retryable=False, reason=INTERNAL_FAILURE
    )
    assert status == "failed"
    return video_id


async def process(pool: asyncpg.Pool, media_root: Path, *video_ids: str) -> None:
    """Run a VOD worker in-process until every given video is ready or failed."""
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_vod_worker(pool, media_root, stop, owner="test", poll_s=0.1, settings=LADDER)
    )
    ids = [uuid.UUID(v) for v in video_ids]
    try:
        for _ in range(900):
            finished = await pool.fetchval(
                "SELECT count(*) FROM videos WHERE id = ANY($1) AND status IN ('ready', 'failed')",
                ids,
            )
            if finished == len(ids) or worker.done():
                break
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await worker
    assert finished == len(ids), "the worker did not finish the videos"


def media_root(client: TestClient) -> Path:
    return client.app[CONFIG].media.media_root
