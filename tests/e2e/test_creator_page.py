"""A creator's page, /c/<username>, on a desktop and a phone: picture, bio, live now and past
streams; a viewer follows from it; its owner edits the bio and uploads a picture (issue 14)."""

from __future__ import annotations

import secrets

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.e2e.support.browser import CHROMIUM, SCREENSHOTS, dev_sign_in, open_page
from tests.signaling.support.accounts import new_stream
from tests.signaling.support.webrtc_clients import whip
from tests.support.images import halves_png

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(150),
    pytest.mark.usefixtures("loopback"),
]
pytest.importorskip("playwright.async_api")

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


async def dev_creator(client: TestClient, uri: str, username: str) -> dict[str, str]:
    login = await client.post("/api/dev/login", json={"uri": uri})
    headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
    profile = {"is_creator": True, "username": username, "bio": "Bread, slowly."}
    response = await client.patch("/api/me", json=profile, headers=headers)
    assert response.status == 200, await response.text()
    return headers


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1280, 800), ("phone", 390, 844)])
async def test_a_viewer_follows_from_a_creator_page_and_its_owner_edits_it(
    app_server: TestServer, browser: object, tmp_path: object, name: str, width: int, height: int
) -> None:
    client = TestClient(app_server)  # the running server, for the API and a WHIP publisher
    username = f"baker_{secrets.token_hex(3)}"
    eve = await dev_creator(client, "//Eve", username)
    live = await new_stream(client, eve, title=f"Kneading live {username}")
    past = await new_stream(client, eve, title=f"Last week's loaves {username}")
    earlier = await whip(client, past["id"], past["stream_key"])  # live once, then ended
    await client.delete(earlier.location)
    await earlier.pc.close()
    broadcast = await whip(client, live["id"], live["stream_key"])
    base = str(app_server.make_url("")).rstrip("/")
    try:
        fan = await open_page(browser, f"{base}/c/{username}")
        await fan.set_viewport_size({"width": width, "height": height})
        await fan.get_by_role("heading", name=username).wait_for()
        assert await fan.locator("#creator-bio").inner_text() == "Bread, slowly."
        await fan.locator("#creator-live .card").filter(has_text=live["title"]).wait_for()
        await fan.locator("#creator-past .card").filter(has_text=past["title"]).wait_for()
        assert await fan.locator("#follow-hint").is_visible()  # signed out: asked to sign in

        await dev_sign_in(fan, "//Charlie")
        followers = fan.locator("#creator-followers")
        before = int((await followers.inner_text()).split()[0])
        await fan.get_by_role("button", name="Follow").click()
        await fan.get_by_role("button", name="Following ✓ (unfollow)").wait_for()
        await followers.filter(has_text=f"{before + 1} follower").wait_for()
        assert not await fan.locator("#edit-profile").is_visible()  # not theirs to edit
        assert await fan.evaluate(NO_OVERFLOW)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await fan.screenshot(path=str(SCREENSHOTS / f"creator-{name}.png"), full_page=True)
        await fan.get_by_role("button", name="Following ✓ (unfollow)").click()
        await followers.filter(has_text=f"{before} follower").wait_for()

        owner = await open_page(browser, f"{base}/c/{username}")
        await owner.set_viewport_size({"width": width, "height": height})
        await dev_sign_in(owner, "//Eve")
        await owner.get_by_label("About you").fill("Bread and pastry, slowly.")
        await owner.get_by_role("button", name="Save profile").click()
        await owner.locator("#creator-bio").filter(has_text="Bread and pastry").wait_for()
        picture = tmp_path / "me.png"  # type: ignore[operator]
        picture.write_bytes(halves_png(1200, 800))
        await owner.get_by_label("Profile picture").set_input_files(str(picture))
        await owner.locator("#edit-status").filter(has_text="Picture saved.").wait_for()
        avatar = owner.locator("#creator-avatar")
        await avatar.wait_for()
        await owner.wait_for_function(
            "() => document.getElementById('creator-avatar').naturalWidth === 256"
        )
        assert await owner.evaluate(NO_OVERFLOW)
        await owner.screenshot(path=str(SCREENSHOTS / f"creator-owner-{name}.png"), full_page=True)
    finally:
        await client.delete(broadcast.location)
        await broadcast.pc.close()
        await client.close()


async def test_an_unknown_creator_page_says_there_is_no_such_creator(
    server: str, browser: object
) -> None:
    page = await open_page(browser, f"{server}/c/nobody_{secrets.token_hex(3)}")
    await page.locator("#creator-status").filter(has_text="There is no such creator").wait_for()
    assert not await page.locator("#profile").is_visible()
