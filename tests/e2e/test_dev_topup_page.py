"""/me in dev mode: a dev account adds funds from the dev chain with one click and sees its
balance credited by the deposit watcher (issue 14 item 6, the dev top-up button)."""

from __future__ import annotations

import pytest

from billing.chain import ChainClient
from signaling.config import AppConfig
from tests.billing.support.chain_money import ROC
from tests.e2e.support.browser import CHROMIUM, SCREENSHOTS, dev_sign_in, open_page
from tests.e2e.support.chain_app import chain_app_server, dev_headers
from tests.e2e.support.fit import assert_fits

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(150),
]


@pytest.mark.parametrize(("size", "width"), [("desktop", 1280), ("phone", 390)])
async def test_a_dev_account_tops_up_from_the_me_page(
    app_config: AppConfig,
    own_database_url: str,
    dev_chain,
    chain_client: ChainClient,
    browser: object,
    size: str,
    width: int,
) -> None:
    async with chain_app_server(app_config, own_database_url, dev_chain.url, chain_client) as app:
        base = str(app.make_url("")).rstrip("/")
        page = await open_page(browser, f"{base}/me")
        await page.set_viewport_size({"width": width, "height": 844})
        form = page.locator("#dev-topup")
        assert not await form.is_visible()  # signed out: nothing to top up
        await dev_sign_in(page, "//Charlie")
        await page.get_by_label("Dev top-up (ROC)").fill("2.5")
        await page.get_by_role("button", name="Add from the dev chain").click()
        await page.locator("#dev-topup-status").filter(has_text="Added 2.5 ROC").wait_for()
        await page.locator("#balance-available").filter(has_text="2.5 ROC").wait_for()
        balance = await app.get("/api/me/balance", headers=await dev_headers(app, "//Charlie"))
        assert (await balance.json())["available"] == str(5 * ROC // 2)

        await page.get_by_label("Dev top-up (ROC)").fill("0.0000000000001")  # 13 decimals
        await page.get_by_role("button", name="Add from the dev chain").click()
        await page.locator("#dev-topup-status").filter(has_text="12 decimals").wait_for()
        await assert_fits(page, f"/me dev top-up ({size})")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SCREENSHOTS / f"me-dev-topup-{size}.png", full_page=True)
