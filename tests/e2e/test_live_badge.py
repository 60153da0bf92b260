"""The LIVE badge in Chromium: hidden while nothing is live, shown while the stream is, gone the
moment it ends (issue 14 item 1: `.badge{display:inline-block}` used to override `hidden`).

The broadcast comes from an aiortc publisher over real WHIP on 127.0.0.1.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.support.api import new_stream
from tests.e2e.support.browser import CHROMIUM, MEDIA_TIMEOUT_MS, SCREENSHOTS, open_page
from tests.signaling.support.webrtc_clients import whip

pytestmark = [
    pytest.mark.own_database,  # "no badge on the home page" needs no other test's live streams
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.usefixtures("loopback"),
    pytest.mark.timeout(120),
]
playwright_api = pytest.importorskip("playwright.async_api")


async def test_the_live_badge_shows_only_while_the_stream_is_live(
    server: str, browser: object
) -> None:
    stream = await new_stream(server, "Badge or no badge")
    watch = await open_page(browser, f"{server}/watch/{stream['id']}")
    badge = watch.locator("#live-badge")
    await watch.locator("#title").filter(has_text="Badge or no badge").wait_for()
    assert await badge.is_hidden()  # not live yet: no badge, whatever the stylesheet says
    home = await open_page(browser, f"{server}/")
    await home.locator("#streams[aria-busy='false']").wait_for(state="attached")
    assert await home.locator(".badge").count() == 0

    async with aiohttp.ClientSession(server) as http:
        broadcast = await whip(http, stream["id"], stream["stream_key"])  # type: ignore[arg-type]
        try:
            await badge.wait_for(state="visible", timeout=MEDIA_TIMEOUT_MS)  # pushed: live
            await home.locator(".card .badge").wait_for(timeout=MEDIA_TIMEOUT_MS)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await watch.screenshot(path=SCREENSHOTS / "watch-live-badge.png")
        finally:
            ended = await http.delete(broadcast.location)
            await broadcast.pc.close()
        assert ended.status in (200, 204), await ended.text()

    await badge.wait_for(state="hidden", timeout=MEDIA_TIMEOUT_MS)  # pushed: ended
    await home.locator(".card .badge").wait_for(state="detached", timeout=MEDIA_TIMEOUT_MS)
    await watch.reload()
    await watch.locator("#title").filter(has_text="Badge or no badge").wait_for()
    assert await badge.is_hidden()
    await watch.screenshot(path=SCREENSHOTS / "watch-ended-no-badge.png")
