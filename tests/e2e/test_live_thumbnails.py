"""The home page shows each live stream's thumbnail: a keyframe of what Chromium's camera sends,
decoded by the recorder (issue 14 item 10)."""

from __future__ import annotations

import pytest

from signaling.config import AppConfig
from tests.e2e.support.api import new_stream
from tests.e2e.support.browser import (
    CHROMIUM,
    MEDIA_TIMEOUT_MS,
    SCREENSHOTS,
    dev_sign_in,
    open_page,
)
from tests.support.configs import configured

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(120),
]
playwright_api = pytest.importorskip("playwright.async_api")


@pytest.fixture
def app_config(app_config: AppConfig) -> AppConfig:
    """Recording on (it makes the thumbnails), a new thumbnail every second."""
    return configured(app_config, recording=True, thumbnail_interval_s=1.0)


async def test_the_home_page_shows_a_thumbnail_of_the_live_picture(
    server: str, browser: object
) -> None:
    stream = await new_stream(server, "Thumbnail check")
    broadcaster = await open_page(browser, f"{server}/broadcast/{stream['id']}")
    await dev_sign_in(broadcaster, "//Alice")
    await broadcaster.get_by_label("Stream key").fill(stream["stream_key"])
    await broadcaster.get_by_role("button", name="Go live").click()
    await (
        broadcaster.locator("#publish-status")
        .filter(has_text="You are live")
        .wait_for(timeout=MEDIA_TIMEOUT_MS)
    )

    home = await open_page(browser, f"{server}/")
    await home.set_viewport_size({"width": 390, "height": 844})
    thumb = home.locator(".card").filter(has_text="Thumbnail check").locator("img.thumb")
    await thumb.wait_for(timeout=MEDIA_TIMEOUT_MS)
    await home.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await thumb.element_handle()
    )
    width, height = await thumb.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    camera = await broadcaster.evaluate(
        "() => [document.getElementById('preview').videoWidth,"
        " document.getElementById('preview').videoHeight]"
    )
    # One keyframe of Chromium's fake camera, decoded: its shape, at most 640 wide.
    assert 0 < width <= 640 and abs(width / height - camera[0] / camera[1]) < 0.02
    box = await thumb.bounding_box()
    assert box is not None and box["width"] <= 390
    assert await home.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await home.screenshot(path=str(SCREENSHOTS / "home-live-thumbnail-phone.png"))
