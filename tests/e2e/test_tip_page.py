"""Issue 15 item 2 in Chromium: a viewer tips from the watch page of a live stream; the tip
shows, highlighted, in the chat of another browser context, and the money moved once.

The viewer's balance is a real deposit on the dev chain, credited by the deposit watcher; the
stream is live over real WHIP. Desktop (1280) and phone (390 px) widths, no horizontal overflow;
screenshots in test-output/screenshots/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from billing.chain import ChainClient
from signaling.config import AppConfig
from tests.billing.support.chain_money import ROC
from tests.e2e.support.browser import CHROMIUM, SCREENSHOTS, dev_sign_in, open_page
from tests.e2e.support.chain_app import chain_app_server
from tests.signaling.support.accounts import new_stream, sign_in, whoami
from tests.signaling.support.rows import new_video
from tests.signaling.support.tipping import balance, deposit
from tests.signaling.support.webrtc_clients import whip
from tests.support.chain_fixtures import fresh_account
from vilokanam.devchain import DevChain

pytestmark = [
    pytest.mark.usefixtures("loopback"),
    pytest.mark.timeout(180),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
]

NO_OVERFLOW = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
async def chain_app(
    app_config: AppConfig, own_database_url: str, dev_chain, chain_client: ChainClient, redis
) -> AsyncIterator[TestClient]:
    async with chain_app_server(
        app_config,
        own_database_url,
        dev_chain.url,
        chain_client,
        billing_workers=("settlement", "deposits"),
    ) as client:
        yield client


@pytest.mark.parametrize("width", [1280, 390])
async def test_a_tip_from_the_watch_page_shows_highlighted_in_another_viewers_chat(
    chain_app: TestClient, browser: object, dev_chain: DevChain, chain_client: ChainClient, width
) -> None:
    client = chain_app
    base = str(client.make_url("")).rstrip("/")
    creator = {"Authorization": f"Bearer {await sign_in(client, fresh_account(2))}"}
    await client.patch("/api/me", headers=creator, json={"is_creator": True})
    stream = await new_stream(client, creator, title="Busking live")
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    tipper_key = fresh_account(2)
    tipper = {"Authorization": f"Bearer {await sign_in(client, tipper_key)}"}  # for the API
    await deposit(client, dev_chain, chain_client, tipper, tipper_key, ROC)

    watcher = await open_page(browser, f"{base}/watch/{stream['id']}")
    await dev_sign_in(watcher, "//Charlie")
    page = await open_page(browser, f"{base}/watch/{stream['id']}", wallet=tipper_key)
    await page.set_viewport_size({"width": width, "height": 800})
    await page.get_by_role("button", name="Sign in with test-wallet").click()
    await page.locator("#signed-in-as").wait_for()
    await page.locator("#live-badge").wait_for()

    await page.get_by_role("button", name="Tip", exact=True).click()
    await page.get_by_label("Tip amount").fill("0.25")
    await page.get_by_label("Tip message").fill("for the encore!")
    await page.get_by_role("button", name="Send tip").click()
    await page.locator("#tip-status").filter(has_text="Thank you").wait_for()

    tip = watcher.locator(".chat-log li.tip").filter(has_text="for the encore!")
    await tip.wait_for()
    assert "tipped 0.25" in await tip.inner_text()
    assert await tip.locator(".tip-amount").get_attribute("title") == f"{ROC // 4} planck"
    colour = await tip.evaluate("li => getComputedStyle(li).borderLeftColor")
    plain = await watcher.evaluate("() => getComputedStyle(document.body).color")
    assert colour != plain  # highlighted, not a plain line
    await page.locator(".chat-log li.tip").filter(has_text="for the encore!").wait_for()
    assert await balance(client, tipper) == ROC - ROC // 4
    # Someone who opens the page later finds it in the chat's history (once settled, ~1 s).
    late = await open_page(browser, f"{base}/watch/{stream['id']}")
    await late.set_viewport_size({"width": width, "height": 800})
    await late.locator(".chat-log li.tip").filter(has_text="for the encore!").wait_for()

    # Nothing moves for a tip the balance cannot pay; the page says why.
    await page.get_by_label("Tip amount").fill("5")
    await page.get_by_role("button", name="Send tip").click()
    await page.locator("#tip-status").filter(has_text="balance is below").wait_for()
    assert await balance(client, tipper) == ROC - ROC // 4

    assert await page.evaluate(NO_OVERFLOW) and await watcher.evaluate(NO_OVERFLOW)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"watch-tip-{width}.png")
    await watcher.screenshot(path=SCREENSHOTS / f"watch-tip-chat-{width}.png")

    # Once settled, the tipper's /me lists the tip with its message.
    await page.goto(f"{base}/me")
    row = page.locator("#tips-body tr").filter(has_text="for the encore!")
    await row.wait_for(timeout=20_000)
    assert "Busking live" in await row.inner_text()
    assert await page.evaluate(NO_OVERFLOW)
    await page.screenshot(path=SCREENSHOTS / f"me-tips-{width}.png", full_page=True)
    await client.delete(broadcast.location)
    await broadcast.pc.close()


@pytest.mark.parametrize("width", [1280, 390])
async def test_a_tip_from_the_video_page(
    chain_app: TestClient,
    browser: object,
    dev_chain: DevChain,
    chain_client: ChainClient,
    own_db: asyncpg.Pool,
    width: int,
) -> None:
    client = chain_app
    base = str(client.make_url("")).rstrip("/")
    creator = {"Authorization": f"Bearer {await sign_in(client, fresh_account(2))}"}
    await client.patch("/api/me", headers=creator, json={"is_creator": True})
    video_id = await new_video(own_db, (await whoami(client, creator))["id"])
    tipper_key = fresh_account(2)
    tipper = {"Authorization": f"Bearer {await sign_in(client, tipper_key)}"}  # for the API
    await deposit(client, dev_chain, chain_client, tipper, tipper_key, ROC)

    page = await open_page(browser, f"{base}/me", wallet=tipper_key)  # signs in; the tab keeps it
    await page.set_viewport_size({"width": width, "height": 800})
    await page.get_by_role("button", name="Sign in with test-wallet").click()
    await page.locator("#signed-in-as").wait_for()
    await page.goto(f"{base}/videos/{video_id}")
    await page.get_by_role("button", name="Tip", exact=True).click()
    await page.get_by_label("Tip amount").fill("0.1")
    await page.get_by_label("Tip message").fill("lovely video")
    await page.get_by_role("button", name="Send tip").click()
    await page.locator("#tip-status").filter(has_text="Thank you! You tipped 0.1").wait_for()
    assert await balance(client, tipper) == ROC - ROC // 10
    assert await page.evaluate(NO_OVERFLOW)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"video-tip-{width}.png")
