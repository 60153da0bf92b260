"""Every live stream becomes a VOD: WHIP in, remuxed parts, a video row and job, renditions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import av
import pytest
from aiohttp.test_utils import TestClient, TestServer

from recorder import LadderSettings
from recorder.worker import run_vod_worker
from signaling.config import AppConfig
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.webrtc_clients import whip
from tests.support.configs import configured
from tests.support.rtc_peers import read_pattern
from vilokanam.wiring import create_app

pytestmark = pytest.mark.usefixtures("loopback")


@pytest.fixture
async def client(app_config: AppConfig, own_database_url: str, redis) -> AsyncIterator[TestClient]:
    config = configured(
        app_config, database_url=own_database_url, recording=True, reconnect_grace_s=1.5
    )
    async with TestClient(TestServer(create_app(config))) as test_client:
        yield test_client


async def wait_for(query, db: asyncpg.Pool, *args, within: float = 15.0):  # type: ignore
    for _ in range(int(within / 0.1)):
        value = await db.fetchval(query, *args)
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"no result for {query}")


def decoded_numbers(path: Path) -> tuple[list[int], float]:
    """Frame counters drawn by the publisher, and the duration, decoded from a part file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        numbers = [
            n
            for frame in container.decode(stream)
            if (n := read_pattern(frame.to_ndarray(format="gray"))) is not None
        ]
        duration = (
            float(stream.duration * stream.time_base)
            if stream.duration
            else (container.duration / 1_000_000)
        )
    return numbers, duration


async def broadcast_for(client: TestClient, stream: dict, seconds: float) -> int:
    publisher = await whip(client, stream["id"], stream["stream_key"])
    await asyncio.sleep(seconds)
    sent = publisher.track.sent
    await client.delete(publisher.location)
    await publisher.pc.close()
    return sent


async def test_live_stream_is_recorded_and_becomes_a_vod(
    client: TestClient, own_db: asyncpg.Pool, app_config: AppConfig
) -> None:
    stream = await new_stream(client, await new_user(client, creator=True), title="Recorded")
    await broadcast_for(client, stream, 4.0)
    video_id = await wait_for(
        "SELECT recording_id FROM stream_sessions WHERE stream_id = $1::uuid", own_db, stream["id"]
    )
    video = await own_db.fetchrow("SELECT title, status FROM videos WHERE id = $1", video_id)
    assert (video["title"], video["status"]) == ("Recorded", "processing")
    job = await own_db.fetchrow(
        "SELECT kind, source_paths FROM vod_jobs WHERE video_id = $1", video_id
    )
    assert job["kind"] == "live_recording" and len(job["source_paths"]) == 1
    numbers, duration = decoded_numbers(Path(job["source_paths"][0]))
    assert abs(duration - 4.0) <= 1.0
    assert len(numbers) >= 60  # ~30 fps of the publisher's own frames, remuxed
    assert sum(1 for a, b in zip(numbers, numbers[1:], strict=False) if 1 <= b - a <= 3) >= (
        0.9 * (len(numbers) - 1)
    )

    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_vod_worker(
            own_db,
            app_config.media.media_root,
            stop,
            owner="test",
            poll_s=0.1,
            settings=LadderSettings(video_bitrates={120: 150_000, 240: 400_000, 360: 600_000}),
        )
    )
    try:
        await wait_for(
            "SELECT status = 'ready' FROM videos WHERE id = $1", own_db, video_id, within=60
        )
    finally:
        stop.set()
        await worker
    resolutions = {
        r["resolution"]
        for r in await own_db.fetch(
            "SELECT resolution FROM video_versions WHERE video_id = $1", video_id
        )
    }
    assert resolutions == {"120p", "240p"}  # the 240p source is never upscaled to 360p
    row = await own_db.fetchrow(
        "SELECT status, recording_url FROM streams WHERE id = $1::uuid", stream["id"]
    )
    assert row["status"] == "archived" and row["recording_url"]


async def test_publisher_reconnecting_appends_a_part(
    client: TestClient, own_db: asyncpg.Pool
) -> None:
    stream = await new_stream(client, await new_user(client, creator=True))
    await broadcast_for(client, stream, 2.0)
    await broadcast_for(client, stream, 2.0)  # back within the grace period
    video_id = await wait_for(
        "SELECT recording_id FROM stream_sessions WHERE stream_id = $1::uuid LIMIT 1",
        own_db,
        stream["id"],
    )
    paths = await own_db.fetchval("SELECT source_paths FROM vod_jobs WHERE video_id = $1", video_id)
    assert [Path(p).name for p in paths] == ["part-0001.mkv", "part-0002.mkv"]
    assert (
        await own_db.fetchval(
            "SELECT count(DISTINCT recording_id) FROM stream_sessions WHERE stream_id = $1::uuid",
            stream["id"],
        )
        == 1
    )
    for path in paths:
        _numbers, duration = decoded_numbers(Path(path))
        assert abs(duration - 2.0) <= 1.0


@pytest.mark.parametrize(("price", "private"), [("0", False), ("1000000", True)])
async def test_paid_streams_recording_is_private(
    client: TestClient, own_db: asyncpg.Pool, price: str, private: bool
) -> None:
    # Viewers paid per second for this stream: its recording must not become a free video.
    stream = await new_stream(client, await new_user(client, creator=True), price=price)
    await broadcast_for(client, stream, 2.0)
    video_id = await wait_for(
        "SELECT recording_id FROM stream_sessions WHERE stream_id = $1::uuid", own_db, stream["id"]
    )
    assert await own_db.fetchval("SELECT is_private FROM videos WHERE id = $1", video_id) is private
