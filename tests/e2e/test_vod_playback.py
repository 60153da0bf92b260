"""A VOD in headless Chromium: uploaded through the API, processed by an in-process worker,
watched on /videos/{id} with a quality switch that keeps the position, its view counted.

A screenshot of the page lands in test-output/screenshots/vod.png.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from signaling.config import AppConfig
from signaling.keys import CONFIG
from tests.e2e.support.api import alice
from tests.e2e.support.browser import (
    CHROMIUM,
    MEDIA_TIMEOUT_MS,
    SCREENSHOTS,
    dev_sign_in,
    open_page,
)
from tests.signaling.support.uploads import make_clip, process, upload, upload_config

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(240),
]


@pytest.fixture
def app_config(app_config: AppConfig, own_database_url: str, tmp_path: Path) -> AppConfig:
    return upload_config(app_config, own_database_url, tmp_path)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """8 s: long enough to watch, switch quality mid-way and pause."""
    return make_clip(tmp_path_factory.mktemp("vod"), seconds=8.0)


async def view_count(http: aiohttp.ClientSession, video_id: str, at_least: int) -> int:
    """The video's view count once it reaches ``at_least`` (reports are sent asynchronously)."""
    for _ in range(50):
        count = (await (await http.get(f"/api/videos/{video_id}")).json())["view_count"]
        if count >= at_least:
            break
        await asyncio.sleep(0.2)
    return count


async def player_state(page: object) -> dict:
    return await page.evaluate(
        """() => { const v = document.getElementById('video');
                   return { time: v.currentTime, paused: v.paused, src: v.currentSrc,
                            height: v.videoHeight, ready: v.readyState }; }"""
    )


async def test_a_vod_plays_switches_quality_and_counts_the_view(
    server: str,
    app_server: TestServer,
    browser: object,
    own_db: asyncpg.Pool,
    clip: bytes,
) -> None:
    media_root: Path = app_server.app[CONFIG].media.media_root
    async with aiohttp.ClientSession(server) as http:
        creator = await alice(http)
        video_id = await upload(http, creator, clip, title="Pattern, eight seconds")

        # The creator sees her video being processed; the page starts playing once it is ready.
        own_page = await open_page(browser, f"{server}/videos/{video_id}")
        await own_page.locator("#not-found").filter(has_text="not available").wait_for()
        await dev_sign_in(own_page, "//Alice")
        await own_page.locator("#player-status").filter(has_text="being processed").wait_for()
        await process(own_db, media_root, video_id)
        await own_page.wait_for_function(
            "() => document.getElementById('video').currentTime > 0.5", timeout=MEDIA_TIMEOUT_MS
        )
        await own_page.evaluate("() => document.getElementById('video').pause()")  # reports
        assert await view_count(http, video_id, at_least=1) == 1
        await own_page.context.close()

        viewer = await open_page(browser, f"{server}/videos/{video_id}")
        await viewer.locator("#title").filter(has_text="Pattern, eight seconds").wait_for()
        await viewer.wait_for_function(
            "() => document.getElementById('video').currentTime > 1.5", timeout=MEDIA_TIMEOUT_MS
        )
        before = await player_state(viewer)
        assert before["src"].endswith("/240p.mp4") and before["height"] == 240

        # Switch while playing: the lower rendition continues from where the other one was.
        await viewer.get_by_label("Quality").select_option(label="120p · 150 kbps")
        await viewer.wait_for_function(
            """() => { const v = document.getElementById('video');
                       return v.currentSrc.endsWith('/120p.mp4') && v.videoHeight === 120
                              && v.readyState >= 2 && !v.paused; }""",
            timeout=MEDIA_TIMEOUT_MS,
        )
        switched = await player_state(viewer)
        assert switched["time"] >= before["time"] - 0.1
        assert switched["time"] < before["time"] + 2.0  # not restarted from 0, nor skipped ahead
        await viewer.wait_for_function(
            f"() => document.getElementById('video').currentTime > {switched['time'] + 0.5}",
            timeout=MEDIA_TIMEOUT_MS,
        )

        await viewer.evaluate("() => document.getElementById('video').pause()")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await viewer.screenshot(path=SCREENSHOTS / "vod.png")

        # Each page load is one playback: the creator's and this anonymous viewer's.
        assert await view_count(http, video_id, at_least=2) == 2
        anonymous = await own_db.fetchrow(
            "SELECT view_duration, watch_completion FROM video_views WHERE viewer_id IS NULL"
        )
        assert anonymous["view_duration"] >= 2 and anonymous["watch_completion"] > 25
