"""Every page fits a 390 px phone and a 1280 px desktop, signed out and signed in (issue 14
item 3: /me and /dashboard were 460-565 px wide on a phone): no page scrolls sideways.

The pages hold real content: //Alice's stream with a long unbroken title, her uploaded video
processed by an in-process VOD worker, her dashboard's tables. Screenshots of every page at
both sizes land in test-output/screenshots/fit-*.png.
"""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from signaling.keys import CONFIG
from tests.e2e.support.api import alice, new_stream
from tests.e2e.support.browser import CHROMIUM, SCREENSHOTS, dev_sign_in
from tests.e2e.support.fit import SIZES, assert_fits
from tests.signaling.support.uploads import process, upload

pytestmark = [
    pytest.mark.own_database,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(300),
]
playwright_api = pytest.importorskip("playwright.async_api")

TITLE = "Sourdough_masterclass_with_an_unbroken_title_that_goes_on_and_on_2026"


def pages(stream_id: str, video_id: str, creator: str) -> dict[str, tuple[str, str, str]]:
    """name: (path, what is there once it is loaded signed out, and signed in as //Alice)."""
    return {
        "home": ("/", "#streams[aria-busy='false']", "#go-live:not([hidden])"),
        "search": ("/search?q=sourdough", "#found-streams .card", "#found-streams .card"),
        "watch": (f"/watch/{stream_id}", f"#title:has-text('{TITLE}')", "#player-status"),
        "video": (f"/videos/{video_id}", "#quality option", "#quality option"),
        "videos": ("/videos", "#videos .card", "#videos .card"),
        "broadcast": (f"/broadcast/{stream_id}", f"#title:has-text('{TITLE}')", "#signed-in-as"),
        "me": ("/me", "#me-status", "#spending-body tr"),
        "dashboard": ("/dashboard", "#board-status", "#videos-body tr"),
        "creator": (f"/c/{creator}", "#creator-videos .card", "#creator-videos .card"),
        "upload": ("/upload", "#upload-signin", "#upload-form:not([hidden])"),
        "404": ("/no/such/page", "#not-found-title", "#not-found-title"),
    }


async def test_every_page_fits_a_phone_and_a_desktop_signed_out_and_in(
    server: str, app_server: TestServer, browser: object, own_db: asyncpg.Pool, clip: bytes
) -> None:
    stream = await new_stream(server, TITLE)
    async with aiohttp.ClientSession(server) as http:
        video_id = await upload(http, await alice(http), clip, title=TITLE)
    await process(own_db, app_server.app[CONFIG].media.media_root, video_id)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    for signed_in in (False, True):
        for size, (width, height) in SIZES.items():
            context = await browser.new_context(viewport={"width": width, "height": height})
            page = await context.new_page()
            if signed_in:
                await page.goto(f"{server}/")
                await dev_sign_in(page, "//Alice")  # the tab keeps it from page to page
            shown = pages(stream["id"], video_id, stream["creator"]["account_id"])
            for name, (path, out, into) in shown.items():
                await page.goto(f"{server}{path}")
                await page.locator(into if signed_in else out).first.wait_for(state="attached")
                await asyncio.sleep(0.3)  # the rest of the first paint (lists, sign-in box)
                who = "in" if signed_in else "out"
                await assert_fits(page, f"{name} ({size}, signed {who})")
                await page.screenshot(
                    path=SCREENSHOTS / f"fit-{name}-{size}-signed-{who}.png", full_page=True
                )
            await context.close()
