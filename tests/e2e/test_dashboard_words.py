"""The creator dashboard in words for people (issue 14 item 15), and a failed video's notice
with a Retry button that really processes it again (an in-process VOD worker), in Chromium at
phone and desktop sizes. Screenshots: test-output/screenshots/dashboard-failed-*.png.
"""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from recorder.jobs import INTERNAL_FAILURE
from signaling.keys import CONFIG
from tests.e2e.support.api import alice
from tests.e2e.support.browser import CHROMIUM, SCREENSHOTS, dev_sign_in
from tests.e2e.support.fit import SIZES, assert_fits
from tests.signaling.support.uploads import failed_upload, process

pytestmark = [
    pytest.mark.own_database,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(180),
]
playwright_api = pytest.importorskip("playwright.async_api")

ENGINEER_WORDS = ("Redis", "PostgreSQL", "metered", "finalized", "in_block", "polled")
LISTS_TIMEOUT_MS = 15_000  # the lists refresh every 5 s


@pytest.mark.parametrize("size", list(SIZES))
async def test_the_dashboard_speaks_plainly_and_retries_a_failed_video(
    server: str,
    app_server: TestServer,
    browser: object,
    own_db: asyncpg.Pool,
    clip: bytes,
    size: str,
) -> None:
    async with aiohttp.ClientSession(server) as http:
        video_id = await failed_upload(http, own_db, await alice(http), clip)  # type: ignore[arg-type]
    width, height = SIZES[size]
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    await page.goto(f"{server}/dashboard")
    await dev_sign_in(page, "//Alice")

    notice = page.locator("#failed-videos")
    await notice.wait_for()
    assert "could not be processed" in await notice.inner_text()
    item = notice.locator("li").filter(has_text="Unlucky first time")
    assert INTERNAL_FAILURE in await item.inner_text()
    assert await item.get_by_role("link").get_attribute("href") == f"/videos/{video_id}"
    split = await page.locator("#split").inner_text()
    assert "waiting to be settled" in split and "Paid" in split
    board = await page.locator("#board").inner_text()
    assert not [word for word in ENGINEER_WORDS if word in board], board
    await assert_fits(page, f"dashboard with a failed video ({size})")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"dashboard-failed-{size}.png", full_page=True)

    await item.get_by_role("button", name="Retry processing Unlucky first time").click()
    await page.locator("#retry-status").filter(has_text="queued for processing again").wait_for()
    await notice.wait_for(state="hidden")
    row = page.locator("#videos-body tr").filter(has_text="Unlucky first time")
    await row.filter(has_text="processing").wait_for()
    await process(own_db, app_server.app[CONFIG].media.media_root, video_id)
    await row.filter(has_text="ready").wait_for(timeout=LISTS_TIMEOUT_MS)
    assert await notice.is_hidden()
    await context.close()
