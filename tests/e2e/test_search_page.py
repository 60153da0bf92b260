"""Search from a phone and a desktop: a stream is found by a word of its title (issue 14)."""

from __future__ import annotations

import pytest

from tests.e2e.support.api import new_stream
from tests.e2e.support.browser import CHROMIUM, SCREENSHOTS, open_page

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(120),
]
playwright_api = pytest.importorskip("playwright.async_api")


@pytest.mark.parametrize(
    ("name", "width", "height", "bread"),
    [("desktop", 1280, 800, "sourdough"), ("phone", 390, 844, "focaccia")],
)
async def test_search_finds_a_stream_by_a_word_of_its_title(
    server: str, browser: object, name: str, width: int, height: int, bread: str
) -> None:
    await new_stream(server, f"Sunday {bread} baking")
    await new_stream(server, "Chess openings")
    page = await open_page(browser, f"{server}/")
    await page.set_viewport_size({"width": width, "height": height})
    await page.get_by_role("link", name="Search").click()
    await page.get_by_label("Words to look for").fill(bread)
    await page.get_by_label("Words to look for").press("Enter")

    status = page.locator("#search-status")
    await status.filter(has_text=f"1 found for “{bread}”").wait_for()
    cards = page.locator("#found-streams .card")
    assert await cards.all_inner_texts() == [await cards.first.inner_text()]
    assert f"Sunday {bread} baking" in await cards.first.inner_text()
    assert "Not live yet" in await cards.first.inner_text()
    assert page.url.endswith(f"/search?q={bread}")  # a link to share or reload

    await page.get_by_label("Words to look for").fill("croissant")
    await page.get_by_role("button", name="Search").click()
    await status.filter(has_text="Nothing found for “croissant”").wait_for()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"search-{name}.png"))
