"""The home page beyond "Live now" (issue 14 item 11), on a desktop and a phone: recent videos
(uploaded and processed for real), category chips that filter the live streams and the videos,
and "From people you follow" for a signed-in viewer whose followed creator is live over WHIP.

Screenshots land in test-output/screenshots/home-*.png.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.e2e.support.browser import CHROMIUM, SCREENSHOTS, dev_sign_in, open_page
from tests.e2e.support.fit import SIZES, assert_fits
from tests.signaling.support.accounts import new_stream, user_with_role, whoami
from tests.signaling.support.uploads import make_clip, media_root, process, upload
from tests.signaling.support.webrtc_clients import whip

pytestmark = [
    pytest.mark.own_database,  # a database of its own: this test's streams and videos alone
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("loopback"),
]
pytest.importorskip("playwright.async_api")


async def dev_user(client: TestClient, uri: str) -> dict[str, str]:
    """A dev account (the one the page's dev sign-in picks) as a creator: its headers."""
    login = await client.post("/api/dev/login", json={"uri": uri})
    headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
    response = await client.patch("/api/me", json={"is_creator": True}, headers=headers)
    assert response.status == 200, await response.text()
    return headers


async def category(client: TestClient, admin: dict[str, str], name: str) -> str:
    response = await client.post("/api/categories", json={"name": name}, headers=admin)
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def categorised_stream(
    client: TestClient, headers: dict[str, str], title: str, category_id: str
) -> dict:
    stream = await new_stream(client, headers, title=title)
    response = await client.patch(
        f"/api/streams/{stream['id']}", json={"category_id": category_id}, headers=headers
    )
    assert response.status == 200, await response.text()
    return stream


async def categorised_video(
    client: TestClient, headers: dict[str, str], clip: bytes, title: str, category_id: str
) -> str:
    video_id = await upload(client, headers, clip, title=title)
    response = await client.put(f"/api/videos/{video_id}/categories/{category_id}", headers=headers)
    assert response.status == 204, await response.text()
    return video_id


async def test_home_shows_followed_streams_recent_videos_and_filters_by_category(
    app_server: TestServer, browser: object, own_db: asyncpg.Pool, tmp_path: Path
) -> None:
    client = TestClient(app_server)  # the running server, for the API and WHIP publishers
    admin = await user_with_role(client, own_db, "admin")
    cooking, music = [await category(client, admin, n) for n in ("Cooking", "Music")]
    eve, ferdie = await dev_user(client, "//Eve"), await dev_user(client, "//Ferdie")
    bread = await categorised_stream(client, eve, "Bread rising live", cooking)
    guitar = await categorised_stream(client, ferdie, "Guitar practice live", music)
    clip = make_clip(tmp_path)
    kneading = await categorised_video(client, eve, clip, "Kneading, recorded", cooking)
    scales = await categorised_video(client, ferdie, clip, "Scales, recorded", music)
    await process(own_db, media_root(client), kneading, scales)
    charlie = await dev_user(client, "//Charlie")
    eve_id = (await whoami(client, eve))["id"]
    assert (await client.post(f"/api/users/{eve_id}/follow", headers=charlie)).status == 201
    broadcasts = [await whip(client, s["id"], s["stream_key"]) for s in (bread, guitar)]
    base = str(app_server.make_url("")).rstrip("/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        for size, (width, height) in SIZES.items():
            page = await open_page(browser, f"{base}/")
            await page.set_viewport_size({"width": width, "height": height})
            live, recent = page.locator("#streams .card"), page.locator("#recent-videos .card")
            for title in (bread["title"], guitar["title"]):
                await live.filter(has_text=title).wait_for()
            await live.filter(has_text=bread["title"]).filter(has_text="Cooking").wait_for()
            for title in ("Kneading, recorded", "Scales, recorded"):
                await recent.filter(has_text=title).wait_for()
            assert not await page.locator("#following").is_visible()  # signed out
            await assert_fits(page, f"home ({size})")
            await page.screenshot(path=SCREENSHOTS / f"home-{size}.png", full_page=True)

            chips = page.get_by_role("group", name="Categories")
            await chips.get_by_role("button", name="Cooking").click()
            await live.filter(has_text=guitar["title"]).wait_for(state="detached")
            await recent.filter(has_text="Scales, recorded").wait_for(state="detached")
            assert [bread["title"] in t for t in await live.all_inner_texts()] == [True]
            assert ["Kneading" in t for t in await recent.all_inner_texts()] == [True]
            await assert_fits(page, f"home, Cooking ({size})")
            await page.screenshot(path=SCREENSHOTS / f"home-category-{size}.png", full_page=True)
            all_videos = page.get_by_role("link", name="All videos")
            assert (await all_videos.get_attribute("href")).startswith("/videos?category=")
            await chips.get_by_role("button", name="All").click()
            await live.filter(has_text=guitar["title"]).wait_for()
            assert await all_videos.get_attribute("href") == "/videos"

            await dev_sign_in(page, "//Charlie")
            followed = page.locator("#following .card")
            await followed.filter(has_text=bread["title"]).wait_for()
            assert len(await followed.all_inner_texts()) == 1  # Ferdie is not followed
            await assert_fits(page, f"home, signed in ({size})")
            await page.screenshot(path=SCREENSHOTS / f"home-following-{size}.png", full_page=True)
            await page.get_by_role("button", name="Sign out", exact=True).click()
            await page.locator("#following").wait_for(state="hidden")
            await page.get_by_role("link", name="All videos").click()  # to the library
            await page.locator("#videos .card").filter(has_text="Kneading, recorded").wait_for()
            await page.context.close()
    finally:
        for broadcast in broadcasts:
            await client.delete(broadcast.location)
            await broadcast.pc.close()
        await client.close()
