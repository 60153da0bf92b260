"""A broadcast from Chromium becomes a video that plays.

Chromium publishes its fake camera (20 fps, variable frame timing) from /broadcast/{id} over
WHIP; the recorder archives it as Matroska with a millisecond time base, which FFmpeg guesses
to be 1000 fps. After Stop, an in-process VOD worker turns the recording into renditions; the
video must be `ready` with sane figures, decode to about the broadcast's length, and play on
/videos/{id}.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import av
import pytest
from aiohttp.test_utils import TestServer

from signaling.config import AppConfig
from signaling.keys import CONFIG
from tests.e2e.support.api import alice, new_stream
from tests.e2e.support.browser import (
    CHROMIUM,
    MEDIA_TIMEOUT_MS,
    SCREENSHOTS,
    dev_sign_in,
    open_page,
    stop_broadcast,
)
from tests.signaling.support.uploads import process, upload, upload_config
from tests.support.configs import configured

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(240),
]

BROADCAST_S = 5.0


@pytest.fixture
def app_config(app_config: AppConfig, own_database_url: str, tmp_path: Path) -> AppConfig:
    """Own database (the worker takes every job it sees), media root and small upload chunks;
    recording on."""
    return configured(
        upload_config(app_config, own_database_url, tmp_path), recording=True, reconnect_grace_s=1.0
    )


async def recording_of(db: asyncpg.Pool, stream_id: str) -> uuid.UUID:
    """The video a stream's recording became (once the publisher's grace is over)."""
    for _ in range(150):
        video_id = await db.fetchval(
            "SELECT recording_id FROM stream_sessions WHERE stream_id = $1::uuid "
            "AND recording_id IS NOT NULL LIMIT 1",
            stream_id,
        )
        if video_id is not None:
            return video_id
        await asyncio.sleep(0.1)
    raise AssertionError("the stream's recording never became a video")


def decoded_mp4(path: Path) -> tuple[int, float, tuple[int, int]]:
    """Frames decoded, duration in seconds and picture size of a rendition file."""
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        duration = container.duration / av.time_base
    return len(frames), duration, (frames[0].width, frames[0].height)


async def test_a_chromium_broadcast_becomes_a_ready_vod_that_plays(
    server: str,
    app_server: TestServer,
    browser: object,
    own_db: asyncpg.Pool,
) -> None:
    stream = await new_stream(server, "Recorded from the browser")
    broadcaster = await open_page(browser, f"{server}/broadcast/{stream['id']}")
    await dev_sign_in(broadcaster, "//Alice")
    await broadcaster.get_by_label("Stream key").fill(stream["stream_key"])
    await broadcaster.get_by_role("button", name="Go live").click()
    await (
        broadcaster.locator("#publish-status")
        .filter(has_text="You are live")
        .wait_for(timeout=MEDIA_TIMEOUT_MS)
    )
    await asyncio.sleep(BROADCAST_S)
    await stop_broadcast(broadcaster)
    await broadcaster.context.close()

    video_id = await recording_of(own_db, stream["id"])
    media_root: Path = app_server.app[CONFIG].media.media_root
    await process(own_db, media_root, str(video_id))

    video = await own_db.fetchrow("SELECT status, duration FROM videos WHERE id = $1", video_id)
    job = await own_db.fetchrow(
        "SELECT status, attempts, last_error FROM vod_jobs WHERE video_id = $1", video_id
    )
    assert (video["status"], job["status"], job["attempts"]) == ("ready", "done", 1), job
    assert abs(video["duration"] - BROADCAST_S) <= 2
    frame_rate = await own_db.fetchval(
        "SELECT frame_rate FROM video_metadata WHERE video_id = $1", video_id
    )
    assert 5 <= frame_rate <= 60  # the fake camera's 20 fps, give or take what the encoder drops

    versions = await own_db.fetch(
        "SELECT resolution, storage_url FROM video_versions WHERE video_id = $1", video_id
    )
    assert versions
    for version in versions:
        frames, duration, (width, height) = decoded_mp4(
            media_root / version["storage_url"].removeprefix("/media/")
        )
        assert height == int(version["resolution"].removesuffix("p"))
        assert abs(duration - BROADCAST_S) <= 2
        # The fake camera sends 20 fps; a loaded machine's encoder may drop some, not most.
        assert frames >= 12 * duration

    async with aiohttp.ClientSession(server) as http:
        api = await (await http.get(f"/api/videos/{video_id}")).json()
    assert api["status"] == "ready" and api["processing"]["error"] is None

    viewer = await open_page(browser, f"{server}/videos/{video_id}")
    await viewer.locator("#title").filter(has_text="Recorded from the browser").wait_for()
    await viewer.wait_for_function(
        """() => { const v = document.getElementById('video');
                   return v.currentTime > 1.5
                          && v.getVideoPlaybackQuality().totalVideoFrames > 10; }""",
        timeout=MEDIA_TIMEOUT_MS,
    )


async def test_the_dashboard_shows_why_processing_failed(
    server: str,
    app_server: TestServer,
    browser: object,
    own_db: asyncpg.Pool,
) -> None:
    async with aiohttp.ClientSession(server) as http:
        creator = await alice(http)
        video_id = await upload(
            http, creator, b"not a video, a poem\n" * 500, filename="poem.mp4", title="My poem"
        )
    await process(own_db, app_server.app[CONFIG].media.media_root, video_id)

    dashboard = await open_page(browser, f"{server}/dashboard")
    await dev_sign_in(dashboard, "//Alice")
    row = dashboard.locator("#videos-body tr").filter(has_text="My poem")
    await row.filter(has_text="processing failed: not a media file").wait_for()
    assert "poem.mp4" not in await row.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await dashboard.locator("#videos-title").scroll_into_view_if_needed()
    await dashboard.screenshot(path=SCREENSHOTS / "dashboard-videos.png")
    await row.get_by_role("link", name="My poem").click()
    await (
        dashboard.locator("#player-status")
        .filter(has_text="Processing failed: not a media file")
        .wait_for()
    )
