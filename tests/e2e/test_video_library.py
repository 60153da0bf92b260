"""/videos, the video library (issue 14 item 13), on a desktop and a phone: every public ready
video as a card, "Show more" for the next page, most viewed first on request, a category chip.

More than a page of videos is needed, and the videos API has no cheaper way to make a ready
one than processing an upload, so these are rows as the VOD pipeline leaves them
(tests/signaling/support/rows.py); test_home_sections.py covers real uploads on the home page.
Screenshots land in test-output/screenshots/videos-*.png.
"""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.e2e.support.browser import CHROMIUM, SCREENSHOTS, open_page
from tests.e2e.support.fit import SIZES, assert_fits
from tests.signaling.support.accounts import user_with_role, whoami
from tests.signaling.support.rows import new_video

pytestmark = [
    pytest.mark.own_database,  # a database of its own: this test's streams and videos alone
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(180),
]
pytest.importorskip("playwright.async_api")

PAGE_SIZE = 24  # static/videos.js


async def library(client: TestClient, db: asyncpg.Pool) -> tuple[list[str], str]:
    """PAGE_SIZE + 2 ready videos of a creator's, "Clip 01" oldest, "Clip 03" most viewed and
    in the category "Woodwork", and one private video; the titles newest first, and the name."""
    login = await client.post("/api/dev/login", json={"uri": "//Dave"})
    headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
    creator = await whoami(client, headers)
    titles = []
    for number in range(1, PAGE_SIZE + 3):
        video_id = await new_video(db, creator["id"])
        title = f"Clip {number:02}"
        await db.execute(
            "UPDATE videos SET title = $2, created_at = now() + make_interval(secs => $3),"
            " view_count = CASE WHEN $3 = 3 THEN 9 ELSE 0 END WHERE id = $1",
            uuid.UUID(video_id),
            title,
            number,
        )
        titles.insert(0, title)
        if number == 3:
            woodwork = await user_with_role(client, db, "admin")
            made = await client.post("/api/categories", json={"name": "Woodwork"}, headers=woodwork)
            category_id = (await made.json())["id"]
            response = await client.put(
                f"/api/videos/{video_id}/categories/{category_id}", headers=headers
            )
            assert response.status == 204, await response.text()
    hidden = await new_video(db, creator["id"])
    await db.execute(
        "UPDATE videos SET title = 'Private clip', is_private = true WHERE id = $1",
        uuid.UUID(hidden),
    )
    return titles, "Woodwork"


async def test_the_library_pages_sorts_and_filters_videos(
    server: str, app_server: TestServer, browser: object, own_db: asyncpg.Pool
) -> None:
    client = TestClient(app_server)  # the running server's API (closing it stops the server)
    try:
        titles, woodwork = await library(client, own_db)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for size, (width, height) in SIZES.items():
            page = await open_page(browser, f"{server}/videos")
            await page.set_viewport_size({"width": width, "height": height})
            cards = page.locator("#videos .card .card-title")
            await cards.filter(has_text=titles[0]).wait_for()
            assert await cards.all_inner_texts() == titles[:PAGE_SIZE]  # newest first, one page
            await assert_fits(page, f"videos ({size})")
            await page.screenshot(path=SCREENSHOTS / f"videos-{size}.png", full_page=True)

            more = page.get_by_role("button", name="Show more")
            await more.click()
            await cards.filter(has_text=titles[-1]).wait_for()
            assert await cards.all_inner_texts() == titles  # the rest, once; never the private one
            assert not await more.is_visible()  # no page after the last

            await page.get_by_label("Sort by").select_option(label="Most viewed")
            await page.wait_for_function(
                "() => document.querySelector('#videos .card-title')?.textContent === 'Clip 03'"
            )
            assert page.url.endswith("/videos?sort=most_viewed")
            chips = page.get_by_role("group", name="Categories")
            await chips.get_by_role("button", name=woodwork).click()
            await cards.filter(has_text="Clip 04").wait_for(state="detached")
            assert await cards.all_inner_texts() == ["Clip 03"]
            assert "9 views" in await page.locator("#videos .card").inner_text()
            assert not await more.is_visible()
            await assert_fits(page, f"videos, {woodwork} ({size})")
            await page.screenshot(path=SCREENSHOTS / f"videos-category-{size}.png", full_page=True)
            await page.context.close()
    finally:
        await client.close()
