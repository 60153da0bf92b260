"""POST /api/dev/topup (dev mode): a signed-in dev account sends planck to the escrow on the dev
chain, and the deposit watcher credits it like any deposit (issue 14 item 6, the page's button)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from billing.chain import ChainClient
from signaling.config import AppConfig
from tests.billing.support.chain_money import ROC
from tests.signaling.support.accounts import new_user
from tests.support.chain_app import chain_test_client

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def chain_app(
    app_config: AppConfig, own_database_url: str, dev_chain, chain_client: ChainClient, redis
) -> AsyncIterator[TestClient]:
    async with chain_test_client(
        app_config, own_database_url, dev_chain.url, chain_client, dev_mode=True
    ) as client:
        yield client


async def dev(client: TestClient, uri: str) -> dict[str, str]:
    login = await client.post("/api/dev/login", json={"uri": uri})
    assert login.status == 200, await login.text()
    return {"Authorization": f"Bearer {(await login.json())['token']}"}


async def available(client: TestClient, headers: dict[str, str]) -> int:
    return int((await (await client.get("/api/me/balance", headers=headers)).json())["available"])


async def test_a_dev_account_tops_up_and_the_watcher_credits_exactly_that(
    chain_app: TestClient,
) -> None:
    bob = await dev(chain_app, "//Bob")
    before = await available(chain_app, bob)
    sent = await chain_app.post("/api/dev/topup", json={"amount": str(3 * ROC)}, headers=bob)
    assert sent.status == 200, await sent.text()
    receipt = await sent.json()
    assert receipt["amount"] == str(3 * ROC) and receipt["extrinsic_hash"].startswith("0x")
    for _ in range(120):
        if await available(chain_app, bob) != before:
            break
        await asyncio.sleep(0.25)
    assert await available(chain_app, bob) == before + 3 * ROC


@pytest.mark.parametrize("amount", ["0", "-1", "1.5", "", "1e12", 5, None, str(10**31)])
async def test_what_is_not_a_planck_amount_is_refused(
    chain_app: TestClient, amount: object
) -> None:
    bob = await dev(chain_app, "//Bob")
    response = await chain_app.post("/api/dev/topup", json={"amount": amount}, headers=bob)
    assert response.status == 422, await response.text()
    assert "amount" in (await response.json())["error"]["message"]


async def test_more_than_the_account_holds_is_refused_by_the_chain(chain_app: TestClient) -> None:
    bob = await dev(chain_app, "//Bob")
    before = await available(chain_app, bob)
    response = await chain_app.post("/api/dev/topup", json={"amount": str(10**30)}, headers=bob)
    assert response.status == 422, await response.text()
    assert "chain refused" in (await response.json())["error"]["message"]
    assert await available(chain_app, bob) == before


async def test_only_a_signed_in_dev_account_may_top_up(chain_app: TestClient) -> None:
    assert (await chain_app.post("/api/dev/topup", json={"amount": "1"})).status == 401
    stranger = await new_user(chain_app)
    response = await chain_app.post("/api/dev/topup", json={"amount": "1"}, headers=stranger)
    assert response.status == 403
    assert "dev accounts" in (await response.json())["error"]["message"]
    assert await available(chain_app, stranger) == 0
