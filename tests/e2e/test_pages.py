"""The pages in headless Chromium against the real server: broadcast, watch, chat, home.

Chromium publishes its fake camera (640x480, 20 fps) over WHIP and plays it back over WHEP, all
on 127.0.0.1. Screenshots of the three pages land in test-output/screenshots/.
"""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from substrateinterface import Keypair

from signaling.keys import BILLING, LIVE, PG
from signaling.realtime.context import notify_viewer
from tests.e2e.support.api import new_stream
from tests.e2e.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MEDIA_TIMEOUT_MS,
    SCREENSHOTS,
    dev_sign_in,
    open_page,
    signed_in_user,
    stop_broadcast,
    wait_playing,
)

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed (apt-get install -y chromium)",
    ),
    pytest.mark.timeout(180),
]
playwright_api = pytest.importorskip("playwright.async_api")


async def test_broadcast_watch_chat_and_home_in_chromium(
    server: str, app_server: TestServer, browser: object
) -> None:
    stream = await new_stream(server, "Morning coffee, live")
    broadcaster = await open_page(browser, f"{server}/broadcast/{stream['id']}")
    await dev_sign_in(broadcaster, "//Alice")
    await broadcaster.get_by_label("Stream key").fill(stream["stream_key"])
    await broadcaster.get_by_role("button", name="Go live").click()
    status = broadcaster.locator("#publish-status")
    await status.filter(has_text="You are live").wait_for(timeout=MEDIA_TIMEOUT_MS)

    viewer = await open_page(browser, f"{server}/watch/{stream['id']}")
    await viewer.locator("#title").filter(has_text="Morning coffee, live").wait_for()
    assert await viewer.locator("#price").inner_text() == "Free"
    await dev_sign_in(viewer, "//Bob")
    playback = await wait_playing(viewer)
    camera = await broadcaster.evaluate(
        "() => [document.getElementById('preview').videoWidth,"
        " document.getElementById('preview').videoHeight]"
    )
    # The encoder may scale the picture down, never change its shape.
    assert playback["height"] > 0 and camera[1] > 0
    assert abs(playback["width"] / playback["height"] - camera[0] / camera[1]) < 0.02
    for page in (viewer, broadcaster):
        await page.locator("#viewer-count").filter(has_text="1").wait_for()

    await viewer.get_by_role("textbox", name="Your message").fill("hello from Bob")
    await viewer.get_by_role("button", name="Send").click()
    await broadcaster.locator(".chat-log li").filter(has_text="hello from Bob").wait_for()
    await broadcaster.get_by_role("textbox", name="Your message").fill("hi Bob, welcome!")
    await broadcaster.get_by_role("textbox", name="Your message").press("Enter")
    await viewer.locator(".chat-log li").filter(has_text="hi Bob, welcome!").wait_for()

    home = await open_page(browser, f"{server}/")
    card = home.locator(".card").filter(has_text="Morning coffee, live")
    await card.filter(has_text="1 watching").wait_for()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await home.screenshot(path=SCREENSHOTS / "home.png")
    await broadcaster.screenshot(path=SCREENSHOTS / "broadcast.png")
    await viewer.screenshot(path=SCREENSHOTS / "watch.png")

    await stop_broadcast(broadcaster)
    await viewer.locator("#player-status").filter(has_text="The stream has ended").wait_for()
    async with aiohttp.ClientSession(server) as http:
        ended = await (await http.get(f"/api/streams/{stream['id']}")).json()
    assert ended["status"] == "ended"

    bob = await signed_in_user(viewer)
    cut = {"type": "cut", "reason": "balance exhausted"}
    await notify_viewer(app_server.app, uuid.UUID(stream["id"]), uuid.UUID(bob["id"]), cut)
    await viewer.locator("#player-status").filter(has_text="Your balance ran out").wait_for()
    assert "balance ran out" not in await broadcaster.locator("body").inner_text()


async def test_sign_in_with_a_wallet_extension_then_chat(server: str, browser: object) -> None:
    stream = await new_stream(server, "Wallet users welcome")
    wallet = Keypair.create_from_mnemonic(Keypair.generate_mnemonic(), ss58_format=2)
    page = await open_page(browser, f"{server}/watch/{stream['id']}", wallet=wallet)
    await page.get_by_role("button", name="Sign in with test-wallet").click()
    await page.locator("#signed-in-as").wait_for()
    assert await page.locator("#signed-in-as").get_attribute("title") == wallet.ss58_address
    await page.get_by_role("textbox", name="Your message").fill("signed by my wallet")
    await page.get_by_role("button", name="Send").click()
    message = page.locator(".chat-log li").filter(has_text="signed by my wallet")
    await message.wait_for()
    assert await message.locator("strong").get_attribute("title") == wallet.ss58_address


async def test_pages_explain_a_wrong_key_and_a_stream_not_live_yet(
    server: str, browser: object
) -> None:
    stream = await new_stream(server, "Not yet")
    broadcaster = await open_page(browser, f"{server}/broadcast/{stream['id']}")
    await broadcaster.get_by_label("Stream key").fill("vks_wrong")
    await broadcaster.get_by_role("button", name="Go live").click()
    await (
        broadcaster.locator("#publish-status")
        .filter(has_text="Wrong stream key")
        .wait_for(timeout=MEDIA_TIMEOUT_MS)
    )
    assert await broadcaster.get_by_role("button", name="Go live").is_enabled()

    viewer = await open_page(browser, f"{server}/watch/{stream['id']}")
    await dev_sign_in(viewer, "//Charlie")
    await (
        viewer.locator("#player-status")
        .filter(has_text="not live yet. Trying again in 5 s")
        .wait_for(timeout=MEDIA_TIMEOUT_MS)
    )

    await broadcaster.get_by_label("Stream key").fill(stream["stream_key"])
    await broadcaster.get_by_role("button", name="Go live").click()
    await wait_playing(viewer)  # started by itself: status push or the Retry-After retry


async def test_a_paid_stream_shows_its_price_and_a_viewer_without_balance_is_told(
    server: str, browser: object
) -> None:
    stream = await new_stream(server, "Premium", price="1500000000")
    broadcaster = await open_page(browser, f"{server}/broadcast/{stream['id']}")
    await broadcaster.get_by_label("Stream key").fill(stream["stream_key"])
    await broadcaster.get_by_role("button", name="Go live").click()
    await (
        broadcaster.locator("#publish-status")
        .filter(has_text="You are live")
        .wait_for(timeout=MEDIA_TIMEOUT_MS)
    )

    viewer = await open_page(browser, f"{server}/watch/{stream['id']}")
    price = viewer.locator("#price")
    await price.filter(has_text="0.09 tokens/min").wait_for()  # no chain here: no symbol
    assert await price.get_attribute("title") == "1500000000 planck per second"
    await dev_sign_in(viewer, "//Dave")  # a fresh account: no balance
    await viewer.get_by_role("button", name="Watch for 0.09 tokens/min").click()
    refused = viewer.locator("#player-status")
    await refused.filter(has_text="Add funds to watch").wait_for(timeout=MEDIA_TIMEOUT_MS)
    assert "ran out" not in await refused.inner_text()  # he never had a balance


async def test_the_watch_page_reconnects_after_its_connection_drops(
    server: str, app_server: TestServer, browser: object
) -> None:
    stream = await new_stream(server, "Flaky network")
    broadcaster = await open_page(browser, f"{server}/broadcast/{stream['id']}")
    await broadcaster.get_by_label("Stream key").fill(stream["stream_key"])
    await broadcaster.get_by_role("button", name="Go live").click()
    viewer = await open_page(browser, f"{server}/watch/{stream['id']}")
    await dev_sign_in(viewer, "//Eve")
    await wait_playing(viewer)
    sfu = app_server.app[LIVE].sfu
    [dropped] = sfu.subscribers(stream["id"])

    # The server loses the viewer's media session, as after a network blip.
    await sfu.unsubscribe(dropped, "failed")
    await broadcaster.locator("#viewer-count").filter(has_text="0").wait_for()
    await (
        broadcaster.locator("#viewer-count")
        .filter(has_text="1")
        .wait_for(timeout=MEDIA_TIMEOUT_MS * 2)
    )
    assert sfu.subscribers(stream["id"]) != [dropped]
    frames = await viewer.evaluate(
        "() => document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames"
    )
    await viewer.wait_for_function(
        f"() => document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames"
        f" > {frames + 20}",
        timeout=MEDIA_TIMEOUT_MS,
    )


async def test_the_broadcast_page_explains_a_refused_camera(server: str) -> None:
    """Without the fake permission prompt, Chromium refuses the camera: the page says so."""
    stream = await new_stream(server, "No camera")
    args = [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=args, headless=True
        )
        try:
            page = await open_page(chromium, f"{server}/broadcast/{stream['id']}")
            await page.get_by_label("Stream key").fill(stream["stream_key"])
            await page.get_by_role("button", name="Go live").click()
            await (
                page.locator("#publish-status")
                .filter(has_text="Camera or microphone access was refused")
                .wait_for(timeout=MEDIA_TIMEOUT_MS)
            )
            assert await page.get_by_role("button", name="Go live").is_enabled()
        finally:
            await chromium.close()
    async with aiohttp.ClientSession(server) as http:
        status = (await (await http.get(f"/api/streams/{stream['id']}")).json())["status"]
    assert status == "pending"  # nothing was published


async def dev_token(base: str, uri: str) -> tuple[dict[str, str], str]:
    """(Authorization headers, user id) of a dev account."""
    async with aiohttp.ClientSession(base) as http:
        login = await http.post("/api/dev/login", json={"uri": uri})
        headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
        me = await (await http.get("/api/me", headers=headers)).json()
        return headers, me["id"]


async def test_a_raised_price_is_asked_again_and_chromium_is_charged_as_it_acknowledges(
    server: str, app_server: TestServer, browser: object
) -> None:
    """Items 6 and 5: no auto-play at a price the viewer never saw; Chromium's receiver
    reports keep its seconds charged (it is not cut as silent)."""
    price = 1_000
    stream = await new_stream(server, "Raised while offline", price=str(price))
    _, dave = await dev_token(server, "//Dave")
    meter = app_server.app[BILLING].meter
    await meter.credit(dave, 1_000 * price, f"e2e-{uuid.uuid4()}")
    before = await meter.balance(dave)
    viewer = await open_page(browser, f"{server}/watch/{stream['id']}")
    await viewer.locator("#price").filter(has_text="0.00000006 tokens/min").wait_for()
    await dev_sign_in(viewer, "//Dave")
    await viewer.get_by_role("button", name="Watch for 0.00000006 tokens/min").click()
    await viewer.locator("#player-status").filter(has_text="not live yet").wait_for()  # 409

    alice, _ = await dev_token(server, "//Alice")
    async with aiohttp.ClientSession(server) as http:
        raised = await http.patch(
            f"/api/streams/{stream['id']}", headers=alice, json={"price_per_second": str(2 * price)}
        )
        assert raised.status == 200
    broadcaster = await open_page(browser, f"{server}/broadcast/{stream['id']}")
    await broadcaster.get_by_label("Stream key").fill(stream["stream_key"])
    await broadcaster.get_by_role("button", name="Go live").click()

    question = viewer.locator("#price-change")
    await question.filter(has_text="changed to 0.00000012 tokens a minute").wait_for(
        timeout=MEDIA_TIMEOUT_MS
    )
    sfu = app_server.app[LIVE].sfu
    assert sfu.subscribers(stream["id"]) == []  # nothing plays until the viewer agrees
    assert await meter.balance(dave) == before
    await viewer.get_by_role("button", name="Watch for 0.00000012 tokens/min").click()
    await wait_playing(viewer)

    await asyncio.sleep(6)
    assert len(sfu.subscribers(stream["id"])) == 1  # not cut: its reports arrive
    view_id = await app_server.app[PG].fetchval(
        "SELECT id FROM stream_viewers WHERE stream_id = $1::uuid AND is_active", stream["id"]
    )
    ticks = await meter.view_ticks(str(view_id))
    assert ticks >= 5
    assert await meter.balance(dave) == before - ticks * 2 * price
    assert "stopped confirming" not in await viewer.locator("#player-status").inner_text()


async def test_the_owner_ends_a_broadcast_from_the_broadcast_page(
    server: str, browser: object
) -> None:
    """Issue 10 item 11: a broadcast sent from elsewhere (a leaked key) ended by its owner."""
    stream = await new_stream(server, "Sent from elsewhere")
    sender = await open_page(browser, f"{server}/broadcast/{stream['id']}")  # not signed in
    await sender.get_by_label("Stream key").fill(stream["stream_key"])
    await sender.get_by_role("button", name="Go live").click()
    await (
        sender.locator("#publish-status")
        .filter(has_text="You are live")
        .wait_for(timeout=MEDIA_TIMEOUT_MS)
    )
    assert await sender.get_by_role("button", name="End broadcast").is_hidden()

    owner = await open_page(browser, f"{server}/broadcast/{stream['id']}")
    await dev_sign_in(owner, "//Alice")
    end = owner.get_by_role("button", name="End broadcast")
    await end.wait_for()
    await end.click()
    await owner.locator("#publish-status").filter(has_text="The broadcast has ended").wait_for()
    await end.wait_for(state="hidden")
    async with aiohttp.ClientSession(server) as http:
        body = await (await http.get(f"/api/streams/{stream['id']}")).json()
    assert body["status"] == "ended"
    await sender.locator("#publish-status").filter(has_text="The broadcast was ended").wait_for()
    assert await sender.get_by_role("button", name="Go live").is_enabled()
