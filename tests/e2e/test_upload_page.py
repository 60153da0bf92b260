"""Uploading from the browser (issue 14 item 13): the page sends a video in chunks through the
resumable uploads API; the connection drops half-way, the viewer reloads and chooses the same
file, and only the missing chunks go up. Then the video page shows processing and plays it."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from signaling.config import AppConfig
from signaling.keys import CONFIG
from tests.e2e.support.browser import (
    CHROMIUM,
    MEDIA_TIMEOUT_MS,
    SCREENSHOTS,
    dev_sign_in,
    open_page,
)
from tests.signaling.support.uploads import make_clip, process, upload_config
from tests.support.configs import configured

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(240),
]

CHUNK = 16 * 1024  # the server's chunk size here: a clip of some hundred kB has many
CHUNKS_BEFORE_THE_DROP = 3
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def app_config(app_config: AppConfig, own_database_url: str, tmp_path: Path) -> AppConfig:
    return configured(
        upload_config(app_config, own_database_url, tmp_path), upload_chunk_bytes=CHUNK
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A 4 s video file named holiday.mp4, and its bytes."""
    folder = tmp_path_factory.mktemp("upload")
    path, data = folder / "holiday.mp4", make_clip(folder, seconds=4.0)
    path.write_bytes(data)
    return path, data


def chunk_index(url: str) -> int:
    return int(url.rstrip("/").rsplit("/", 1)[1])


async def test_an_interrupted_upload_carries_on_after_a_reload_and_the_video_plays(
    server: str,
    app_server: TestServer,
    browser: object,
    own_db: asyncpg.Pool,
    clip: tuple[Path, bytes],
) -> None:
    clip_file, data = clip
    chunk_count = -(-len(data) // CHUNK)
    assert chunk_count > CHUNKS_BEFORE_THE_DROP + 2
    page = await open_page(browser, f"{server}/upload")
    await dev_sign_in(page, "//Dave")

    async def drop_late_chunks(route: object) -> None:  # the connection goes after 3 chunks
        if chunk_index(route.request.url) >= CHUNKS_BEFORE_THE_DROP:
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await page.route("**/api/uploads/*/chunks/*", drop_late_chunks)
    await page.get_by_label("Video file").set_input_files(str(clip_file))
    assert await page.get_by_label("Title").input_value() == "holiday"  # from the file name
    await page.get_by_label("Title").fill("Holiday at the sea")
    await page.get_by_role("button", name="Upload", exact=True).click()
    await page.locator("#upload-status").filter(has_text="The upload stopped").wait_for()
    assert await page.get_by_role("button", name="Resume").is_visible()

    await page.unroute("**/api/uploads/*/chunks/*")
    await page.reload()
    await page.locator("#signed-in-as").wait_for()  # the session is kept by the browser
    await page.locator("#upload-resumable").filter(has_text="holiday.mp4").wait_for()
    sent: list[int] = []
    page.on(
        "request",
        lambda r: sent.append(chunk_index(r.url)) if "/chunks/" in r.url else None,
    )
    await page.get_by_label("Video file").set_input_files(str(clip_file))
    await page.locator("#upload-status").filter(has_text="partly uploaded").wait_for()
    await page.get_by_label("Title").fill("Holiday at the sea")
    await page.get_by_role("button", name="Upload", exact=True).click()
    await page.wait_for_url("**/videos/*", timeout=MEDIA_TIMEOUT_MS)

    # Only what had not arrived went up again, and the file is whole.
    assert sorted(sent) == list(range(CHUNKS_BEFORE_THE_DROP, chunk_count))
    video_id = uuid.UUID(page.url.rstrip("/").rsplit("/", 1)[1])
    upload = await own_db.fetchrow(
        "SELECT sha256, size, status FROM uploads WHERE video_id = $1", video_id
    )
    assert dict(upload) == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "status": "complete",
    }
    await page.locator("#player-status").filter(has_text="being processed").wait_for()
    await process(own_db, app_server.app[CONFIG].media.media_root, str(video_id))
    await page.locator("#title").filter(has_text="Holiday at the sea").wait_for()
    await page.wait_for_function(
        "() => document.getElementById('video').currentTime > 0.5", timeout=MEDIA_TIMEOUT_MS
    )


async def test_the_upload_page_fits_a_phone(server: str, browser: object) -> None:
    page = await open_page(browser, f"{server}/upload")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.locator("#upload-signin").filter(has_text="Sign in to upload").wait_for()
    await dev_sign_in(page, "//Dave")
    await page.get_by_label("Video file").wait_for()
    assert await page.evaluate(NO_OVERFLOW)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "upload-phone.png"), full_page=True)
