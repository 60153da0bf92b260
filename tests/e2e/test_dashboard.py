"""The creator dashboard and the viewer's /me page in Chromium, on the real dev chain.

//Bob deposits to the escrow on chain and watches //Ferdie's paid stream over real WHIP + WHEP
(aiortc peers on 127.0.0.1), metered every second. Ferdie, signed in on /dashboard, sees his
earnings grow while Bob watches, pushed every second over the /ws/creator socket (the page polls
only for its first paint), and a payout reach "finalized" with its transaction hash; Bob sees his
deposit and spending on /me. Screenshots land in test-output/screenshots/.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from substrateinterface import Keypair

from billing.chain import ChainClient
from signaling.config import AppConfig
from signaling.keys import BILLING
from tests.billing.support.chain_money import transfer
from tests.e2e.support.api import wait_for
from tests.e2e.support.browser import SCREENSHOTS, dev_sign_in, open_page
from tests.e2e.support.chain_app import chain_app_server, dev_headers
from tests.e2e.support.fit import assert_fits
from tests.e2e.support.money import in_units
from tests.signaling.support.accounts import new_stream
from tests.signaling.support.webrtc_clients import whep, whip

pytestmark = [pytest.mark.usefixtures("loopback"), pytest.mark.timeout(150)]

WATCH_SECONDS = 60  # Bob's deposit pays for this much; the test ends long before
PAGE_TIMEOUT_MS = 30_000


@pytest.fixture
async def chain_app(
    app_config: AppConfig, own_database_url: str, dev_chain, chain_client: ChainClient, redis
) -> AsyncIterator[TestClient]:
    """The app with a funded escrow of its own, on a real port for the browser."""
    async with chain_app_server(
        app_config,
        own_database_url,
        dev_chain.url,
        chain_client,
        payout_interval_s=1.0,
        analytics_interval_s=1.0,
    ) as client:
        yield client


def planck_of(page: object, selector: str):  # type: ignore[no-untyped-def]
    """The exact planck an amount element shows (its title is "<n> planck")."""

    async def read() -> int:
        title = await page.locator(f"{selector} span").get_attribute("title")
        return int(title.split()[0])

    return read


def follow_live_figures(page: object) -> tuple[list[dict], list[str]]:
    """What reaches the page: frames pushed on /ws/creator, and polls of /api/creator/live."""
    pushed: list[dict] = []
    polls: list[str] = []

    def on_socket(socket: object) -> None:
        if socket.url.endswith("/ws/creator"):  # the token goes in a message, not the URL
            socket.on("framereceived", lambda payload: pushed.append(json.loads(payload)))

    page.on("websocket", on_socket)
    page.on("request", lambda r: polls.append(r.url) if "/api/creator/live" in r.url else None)
    return pushed, polls


async def board_shown(page: Any) -> None:
    """Wait for the earnings board; if it stays hidden, fail with what the page says instead."""
    try:
        await page.locator("#board").wait_for()
    except Exception as exc:  # playwright's TimeoutError
        status = await page.locator("#board-status").text_content()
        raise AssertionError(f"the board stayed hidden; the page says {status!r}") from exc


async def test_creator_sees_live_earnings_and_a_finalized_payout(
    chain_app: TestClient,
    browser: object,
    chain_client: ChainClient,
) -> None:
    client = chain_app
    base = str(client.make_url("")).rstrip("/")
    info = await (await client.get("/api/billing/info")).json()
    # A few seconds clear the payout threshold (the amount whose fee is 0.5 % of it); after that
    # payout, the default interval (an hour) makes the rest wait.
    threshold = client.app[BILLING].payouts.threshold
    price = threshold // 3 + 1
    ferdie = await dev_headers(client, "//Ferdie")
    await client.patch("/api/me", json={"is_creator": True}, headers=ferdie)
    stream = await new_stream(client, ferdie, price=str(price), title="Paid cooking show")
    bob = await dev_headers(client, "//Bob")
    await transfer(
        chain_client,
        Keypair.create_from_uri("//Bob"),
        info["escrow_address"],
        WATCH_SECONDS * price,
    )

    async def credited() -> bool:
        balance = await (await client.get("/api/me/balance", headers=bob)).json()
        return balance["available"] == str(WATCH_SECONDS * price)

    await wait_for(credited, 30)

    dashboard = await open_page(browser, f"{base}/dashboard")
    pushed, polls = follow_live_figures(dashboard)
    await dev_sign_in(dashboard, "//Ferdie")
    await board_shown(dashboard)
    total = planck_of(dashboard, "#earnings-total")
    await dashboard.locator("#earnings-total span").wait_for()
    assert await total() == 0

    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer, location = await whep(client, stream["id"], bob)
    try:
        await viewer.wait_frames(1, within=10)
        await (
            dashboard.locator("#live-streams li")
            .filter(has_text="Paid cooking show")
            .wait_for(timeout=PAGE_TIMEOUT_MS)
        )

        async def earning() -> int | None:
            value = await total()
            return value if value > 0 else None

        first = await wait_for(earning, 20)

        async def grew() -> bool:
            return await total() > first

        await wait_for(grew, 10)
        assert (await total()) % (price - price // 10) == 0  # whole seconds, creator's share
        await (
            dashboard.locator("#seconds-last-second")
            .filter(has_text="1")
            .wait_for(timeout=PAGE_TIMEOUT_MS)
        )
        # Those figures came over the socket: the server's own "this second", and no polling.
        await dashboard.locator('#board[data-live-source="socket"]').wait_for()
        assert "live" in await dashboard.locator("#poll-interval").inner_text()
        live = [m for m in pushed if m["type"] == "earnings" and m["streams"]]
        assert {s["id"] for m in live for s in m["streams"]} == {stream["id"]}
        assert any(m["seconds_this_second"] >= 1 for m in live[1:])
        # Each second's figures add up to the counters: every viewer-second, every planck.
        first, last = live[0], live[-1]
        assert sum(m["seconds_this_second"] for m in live[1:]) == (
            last["streams"][0]["ticks"] - first["streams"][0]["ticks"]
        )
        assert sum(int(m["earned_this_second"]) for m in live[1:]) == (
            int(last["earnings"]["total"]) - int(first["earnings"]["total"])
        )
        polled = len(polls)
        assert polled <= 2  # the first paint (and one racing the socket's greeting at most)

        finalized = dashboard.locator("#payouts-body tr").filter(
            has=dashboard.locator(".pill-finalized")
        )
        await finalized.first.wait_for(timeout=PAGE_TIMEOUT_MS * 2)
        tx_hash = await finalized.first.locator("code.tx-hash").get_attribute("title")
        assert tx_hash.startswith("0x") and len(tx_hash) == 66
        # Its fee is shown, paid by the platform, and under 1 % of what was paid.
        fee_cell = finalized.first.locator("td").nth(3).locator("span")
        await fee_cell.wait_for()
        fee = int((await fee_cell.get_attribute("title")).split()[0])
        amount = int(
            (
                await finalized.first.locator("td").nth(2).locator("span").get_attribute("title")
            ).split()[0]
        )
        assert 0 < fee * 100 < amount
        ratio = dashboard.locator("#payout-fee-ratio")
        await ratio.wait_for(timeout=PAGE_TIMEOUT_MS)
        assert float((await ratio.inner_text()).rstrip(" %")) < 1.0
        assert "per payout" in await dashboard.locator("#payout-fees").inner_text()
        paid = planck_of(dashboard, '#split dd[data-key="finalized"]')

        async def shown_as_paid() -> bool:  # the split follows within a poll
            return await paid() > 0

        await wait_for(shown_as_paid, 5)
        assert len(polls) == polled  # tens of seconds later: still nothing polled
        # The chart redraws when money settles: a bar of this hour's settled earnings.
        await dashboard.wait_for_function(
            """() => [...document.querySelectorAll('#earnings-chart rect.bar')]
                         .some((bar) => Number(bar.getAttribute('height')) > 0)""",
            timeout=PAGE_TIMEOUT_MS,
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await dashboard.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)

        async with dashboard.expect_download() as download:
            await dashboard.get_by_role("button", name="Export payments (CSV)").click()
        saved = Path(await (await download.value).path())
        text = await asyncio.to_thread(saved.read_text)
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert rows and {row["stream_title"] for row in rows} == {"Paid cooking show"}
        assert all(
            int(r["amount_planck"]) == int(r["creator_amount_planck"]) + int(r["fee_planck"])
            for r in rows
        )
        # A busy creator is paid once per interval: more earned since, still one payout.
        assert await dashboard.locator("#payouts-body tr").count() == 1
    finally:
        await viewer.close()
        await client.delete(location, headers=bob)
        await client.delete(broadcast.location)
        await broadcast.pc.close()

    me = await open_page(browser, f"{base}/me")
    await dev_sign_in(me, "//Bob")
    await me.locator("#deposits-body tr").filter(has_text=info["token_symbol"]).first.wait_for()
    spent = me.locator("#spending-body tr").filter(has_text="Paid cooking show")
    try:
        await spent.wait_for(timeout=PAGE_TIMEOUT_MS)
    except PlaywrightTimeoutError as exc:  # once on CI: say what the API and the page held
        api = await (await client.get("/api/me/spending", headers=bob)).text()
        shown = await me.locator("#me-status").inner_text()
        raise AssertionError(f"no spending row: API {api}; page status {shown!r}") from exc
    assert await me.locator("#escrow-address").inner_text() == info["escrow_address"]

    # Bob withdraws some of what is left: the page shows the fee before he confirms, and the
    # balance goes down by exactly amount + that fee.
    before = await (await client.get("/api/me/balance", headers=bob)).json()
    amount = 3 * int(info["existential_deposit"])
    # The form takes ROC, and the page converts it to exactly this many planck.
    await me.locator("#withdraw-amount").fill(in_units(amount, info["token_decimals"]))
    await me.get_by_role("button", name="Review withdrawal").click()
    quoted_fee = me.locator("#quote-fee span")
    await quoted_fee.wait_for(timeout=PAGE_TIMEOUT_MS)
    fee = int((await quoted_fee.get_attribute("title")).split()[0])
    assert fee > 0
    assert await me.locator("#quote-amount span").get_attribute("title") == f"{amount} planck"
    assert await me.locator("#quote-total span").get_attribute("title") == f"{amount + fee} planck"
    await me.screenshot(path=SCREENSHOTS / "me-withdraw-quote.png", full_page=True)
    await me.get_by_role("button", name="Confirm withdrawal").click()
    await (
        me.locator("#withdraw-status")
        .filter(has_text=f"Withdrawal of {in_units(amount)} {info['token_symbol']} (fee")
        .wait_for(timeout=PAGE_TIMEOUT_MS)
    )
    row = me.locator("#withdrawals-body tr").first
    await (
        row.locator("td")
        .nth(3)
        .locator(f'span[title="{fee} planck"]')
        .wait_for(timeout=PAGE_TIMEOUT_MS)
    )
    after = await (await client.get("/api/me/balance", headers=bob)).json()
    assert int(after["available"]) == int(before["available"]) - amount - fee
    await me.screenshot(path=SCREENSHOTS / "me.png", full_page=True)

    # With real payouts, deposits and withdrawals (hashes, addresses): both fit a phone.
    for page, name in ((dashboard, "dashboard"), (me, "me")):
        await page.set_viewport_size({"width": 390, "height": 844})
        await assert_fits(page, f"{name} with real money rows (phone)")
        await page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
