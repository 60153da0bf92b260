"""POST /api/videos/{id}/retry: the creator of a video whose processing failed queues it again,
and a VOD worker then makes it ready (issue 14 item 15). Anything else is refused, nothing queued.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from recorder.jobs import INTERNAL_FAILURE
from tests.signaling.support.accounts import new_user
from tests.signaling.support.uploads import (
    failed_upload,
    media_root,
    process,
    upload,
)

pytestmark = pytest.mark.own_database  # own database and media root (tests/conftest.py)


async def jobs_of(db: asyncpg.Pool, video_id: str) -> list[str]:
    rows = await db.fetch(
        "SELECT status FROM vod_jobs WHERE video_id = $1 ORDER BY created_at", uuid.UUID(video_id)
    )
    return [r["status"] for r in rows]


async def test_the_creator_retries_a_failed_video_and_it_becomes_ready(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice = await new_user(client, creator=True)
    video_id = await failed_upload(client, own_db, alice, clip)
    before = await (await client.get(f"/api/videos/{video_id}", headers=alice)).json()
    assert before["status"] == "failed" and before["processing"]["error"] == INTERNAL_FAILURE

    retried = await client.post(f"/api/videos/{video_id}/retry", headers=alice)
    assert retried.status == 202, await retried.text()
    body = await retried.json()
    assert body["status"] == "processing"
    assert body["processing"]["status"] == "queued" and body["processing"]["error"] is None
    assert body["processing"]["attempts"] == 0
    assert await jobs_of(own_db, video_id) == ["failed", "queued"]  # the failure stays on record

    again = await client.post(f"/api/videos/{video_id}/retry", headers=alice)
    assert again.status == 409 and (await again.json())["error"]["code"] == "conflict"
    assert await jobs_of(own_db, video_id) == ["failed", "queued"]

    await process(own_db, media_root(client), video_id)
    ready = await (await client.get(f"/api/videos/{video_id}")).json()
    assert ready["status"] == "ready" and ready["renditions"]
    done = await client.post(f"/api/videos/{video_id}/retry", headers=alice)
    assert done.status == 409
    assert await jobs_of(own_db, video_id) == ["failed", "done"]


async def test_two_retries_at_once_queue_one_job(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice = await new_user(client, creator=True)
    video_id = await failed_upload(client, own_db, alice, clip)
    answers = await asyncio.gather(
        *(client.post(f"/api/videos/{video_id}/retry", headers=alice) for _ in range(4))
    )
    assert sorted(a.status for a in answers) == [202, 409, 409, 409]
    assert await jobs_of(own_db, video_id) == ["failed", "queued"]


async def test_only_the_creator_may_retry_and_only_a_failed_video(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice = await new_user(client, creator=True)
    video_id = await failed_upload(client, own_db, alice, clip)
    path = f"/api/videos/{video_id}/retry"

    assert (await client.post(path)).status == 401
    other = await client.post(path, headers=await new_user(client, creator=True))
    assert other.status == 403
    unknown = await client.post(f"/api/videos/{uuid.uuid4()}/retry", headers=alice)
    assert unknown.status == 404 and (await unknown.json())["error"]["message"]
    assert (await client.post("/api/videos/nope/retry", headers=alice)).status == 404
    assert await jobs_of(own_db, video_id) == ["failed"]  # nothing queued by any of those

    processing = await upload(client, alice, clip, title="Still in the queue")
    busy = await client.post(f"/api/videos/{processing}/retry", headers=alice)
    assert busy.status == 409
    assert "failed" in (await busy.json())["error"]["message"]
    assert await jobs_of(own_db, processing) == ["queued"]

    assert (await client.delete(f"/api/videos/{video_id}", headers=alice)).status == 204
    assert (await client.post(path, headers=alice)).status == 404
