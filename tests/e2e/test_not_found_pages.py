"""Not found, in Chromium (issue 14 item 4): an unknown path is the site's 404 page, an unknown
stream or video says so in place of the player (no more "Loading stream…" forever), at phone
and desktop sizes; the favicon is there. Screenshots: test-output/screenshots/not-found-*.png.
"""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.support.browser import CHROMIUM, SCREENSHOTS
from tests.e2e.support.fit import SIZES, assert_fits

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(120),
]
playwright_api = pytest.importorskip("playwright.async_api")


@pytest.mark.parametrize("size", list(SIZES))
async def test_unknown_paths_streams_and_videos_say_not_found(
    server: str, browser: object, size: str
) -> None:
    width, height = SIZES[size]
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    response = await page.goto(f"{server}/no/such/page")
    assert response.status == 404 and "text/html" in response.headers["content-type"]
    await page.get_by_role("heading", name="Page not found").wait_for()
    assert await page.title() == "Page not found · vilokanam"
    await page.get_by_role("navigation", name="Pages").get_by_role("link", name="Search").wait_for()
    await page.locator("#dev-signin").wait_for()  # the header's sign-in works here too
    await assert_fits(page, f"404 page ({size})")
    await page.screenshot(path=SCREENSHOTS / f"not-found-page-{size}.png", full_page=True)
    await page.get_by_role("link", name="See who is live now").click()
    await page.wait_for_url(f"{server}/")

    for kind, path in (("Stream", "watch"), ("Video", "videos")):
        missing.clear()
        await page.goto(f"{server}/{path}/{uuid.uuid4()}")
        await page.get_by_role("heading", name=f"{kind} not found").wait_for()
        assert await page.locator("#video").is_hidden()  # no player for nothing
        assert "Loading" not in await page.locator("main").inner_text()
        assert await page.title() == f"{kind} not found · vilokanam"
        assert all("/api/" in url for url in missing), missing  # the API's answer, nothing else
        await assert_fits(page, f"unknown {kind.lower()} ({size})")
        shot = SCREENSHOTS / f"not-found-{path}-{size}.png"
        await page.screenshot(path=shot, full_page=True)

    icon = await page.request.get(f"{server}/favicon.ico")
    assert icon.ok and icon.headers["content-type"] == "image/svg+xml"
    linked = await page.locator("link[rel=icon]").get_attribute("href")
    assert (await page.request.get(f"{server}{linked}")).ok
    await context.close()
