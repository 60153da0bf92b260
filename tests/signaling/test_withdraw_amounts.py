"""Item 1 of issue 10: a hostile withdrawal amount is a clear 4xx and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from billing.chain import ChainClient
from signaling.config import AppConfig
from signaling.keys import BILLING
from tests.billing.support.chain_money import ROC
from tests.signaling.support.accounts import sign_in
from tests.support.chain_app import chain_test_client
from tests.support.chain_fixtures import fresh_account


@pytest.fixture
async def chain_app(
    app_config: AppConfig, own_database_url: str, dev_chain, chain_client: ChainClient, redis
) -> AsyncIterator[TestClient]:
    async with chain_test_client(
        app_config, own_database_url, dev_chain.url, chain_client, billing_workers=()
    ) as client:
        yield client


HOSTILE = [
    "10000000000000000000",  # above 2^63-1: more than a balance holds
    str(2**64),
    str(2**128 - 1),  # the largest u128
    str(2**128),  # not even a u128
    str(6 * ROC),  # above the balance
    "0",
    "-5",
    "1.5",
    "1e18",
    " 5",
    5 * ROC,
    None,
    True,
]


async def test_hostile_withdrawal_amounts_are_4xx_and_store_nothing(
    chain_app: TestClient, own_db: asyncpg.Pool
) -> None:
    client = chain_app
    viewer = fresh_account()
    headers = {"Authorization": f"Bearer {await sign_in(client, viewer)}"}
    me = await (await client.get("/api/me", headers=headers)).json()
    await client.app[BILLING].meter.credit(me["id"], 5 * ROC, "test top-up")

    for amount in HOSTILE:
        response = await client.post("/api/me/withdraw", headers=headers, json={"amount": amount})
        # 422: not a planck string at all; 400: a planck amount this balance or chain cannot pay
        assert response.status in (400, 422), (amount, await response.text())
        assert (await response.json())["error"]["message"]
    assert await own_db.fetchval("SELECT count(*) FROM payouts") == 0
    assert await own_db.fetchval("SELECT count(*) FROM payout_items") == 0
    balance = await (await client.get("/api/me/balance", headers=headers)).json()
    assert balance == {"available": str(5 * ROC), "reserved": "0"}
