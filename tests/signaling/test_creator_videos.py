"""A creator's own videos in any status; a failed one says why, in words fit for the creator."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from recorder.jobs import INTERNAL_FAILURE, enqueue, fail, lease
from tests.signaling.support.accounts import new_user
from tests.signaling.support.uploads import media_root, process, upload

pytestmark = pytest.mark.own_database  # own database and media root (tests/conftest.py)


async def my_videos(client: TestClient, headers: dict[str, str]) -> dict[str, dict]:
    response = await client.get("/api/creator/videos", headers=headers)
    assert response.status == 200, await response.text()
    return {v["id"]: v for v in (await response.json())["items"]}


async def test_the_creator_sees_a_failed_video_with_its_reason_and_no_internals(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice = await new_user(client, creator=True)
    good = await upload(client, alice, clip, title="Works")
    bad = await upload(
        client,
        alice,
        b"my shopping list, not a video\n" * 400,
        filename="holiday.mp4",
        title="Broken",
    )
    await process(own_db, media_root(client), good, bad)

    mine = await my_videos(client, alice)
    assert mine[good]["status"] == "ready" and mine[good]["processing"]["error"] is None
    failed = mine[bad]
    assert (failed["title"], failed["status"], failed["processing"]["status"]) == (
        "Broken",
        "failed",
        "failed",
    )
    reason = failed["processing"]["error"]
    assert reason.startswith("not a media file")
    assert "/" not in reason and "source" not in reason  # no server path or file name
    detail = await client.get(f"/api/videos/{bad}", headers=alice)
    assert (await detail.json())["processing"]["error"] == reason
    # The operator keeps the detail: which file.
    last_error = await own_db.fetchval(
        "SELECT last_error FROM vod_jobs WHERE video_id = $1", uuid.UUID(bad)
    )
    assert last_error.endswith(reason) and last_error != reason

    assert await my_videos(client, await new_user(client, creator=True)) == {}
    assert (await client.get("/api/creator/videos", headers=await new_user(client))).status == 403
    assert (await client.get("/api/creator/videos")).status == 401


async def failed_by(
    db: asyncpg.Pool, client: TestClient, headers: dict[str, str], how: str
) -> dict:
    """A video whose job failed for a reason of ours; the creator's view of it."""
    creator_id = (await (await client.get("/api/me", headers=headers)).json())["id"]
    video = await db.fetchval(
        "INSERT INTO videos (creator_id, title) VALUES ($1, 'Unlucky') RETURNING id",
        uuid.UUID(creator_id),
    )
    await enqueue(db, video, "upload", ["/srv/media/uploads/x/source"], max_attempts=1)
    job = await lease(db, "worker-1", 0.2)
    assert job is not None and job.video_id == video
    if how == "exception":
        await fail(
            db,
            job,
            "worker-1",
            "NumericValueOutOfRangeError: numeric field overflow",
            retryable=True,
            reason=INTERNAL_FAILURE,
        )
    else:  # the worker died with its lease, and no attempt is left
        await asyncio.sleep(0.4)
        assert await lease(db, "worker-2", 30) is None
    return (await my_videos(client, headers))[str(video)]


@pytest.mark.parametrize(
    ("how", "reason"),
    [("exception", INTERNAL_FAILURE), ("lease", "processing was interrupted (1 attempt)")],
)
async def test_an_internal_failure_is_told_without_its_detail(
    client: TestClient, own_db: asyncpg.Pool, how: str, reason: str
) -> None:
    video = await failed_by(own_db, client, await new_user(client, creator=True), how)
    assert video["status"] == "failed" and video["processing"]["error"] == reason
    assert "Numeric" not in str(video) and "/srv" not in str(video)
