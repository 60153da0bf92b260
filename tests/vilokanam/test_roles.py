"""Every role the server runs in-process is switchable from the environment, and a payout
worker run as docs/operations.md says is the escrow's only signer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from billing.chain import ChainClient
from signaling.config import AppConfig
from signaling.keys import BILLING, CONFIG
from tests.billing.support.chain_money import ROC
from tests.billing.support.processes import start_worker, worker_env
from tests.signaling.support.accounts import sign_in
from tests.support.chain_app import chain_test_client
from tests.support.chain_fixtures import fresh_account
from vilokanam.server import ServiceUrls, app_config
from vilokanam.settings import SettingsError, load_settings

URLS = ServiceUrls("postgresql://db/x", "redis://r", "ws://chain")


@pytest.mark.parametrize(
    ("value", "loops"),
    [
        ("all", ("settlement", "deposits", "payouts")),
        ("none", ()),
        ("", ()),
        ("payouts, settlement", ("settlement", "payouts")),
    ],
)
def test_billing_workers_picks_the_loops_the_server_runs(monkeypatch, value, loops) -> None:
    monkeypatch.setenv("BILLING_WORKERS", value)
    config = app_config(load_settings(), URLS)
    assert config.billing.billing_workers == loops


def test_recording_and_vod_worker_are_switchable(monkeypatch) -> None:
    monkeypatch.delenv("VILOKANAM_ENV", raising=False)
    assert app_config(load_settings(), URLS).runs_vod_worker  # dev default
    monkeypatch.setenv("RECORDING", "false")
    monkeypatch.setenv("VOD_WORKER", "false")
    config = app_config(load_settings(), URLS)
    assert not config.media.recording and not config.runs_vod_worker


def test_unknown_billing_loop_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("BILLING_WORKERS", "payouts,minting")
    with pytest.raises(SettingsError, match="invalid setting BILLING_WORKERS: .*minting"):
        load_settings()


@pytest.fixture
async def server_without_payouts(
    app_config: AppConfig, own_database_url: str, dev_chain, chain_client: ChainClient, redis
) -> AsyncIterator[TestClient]:
    async with chain_test_client(
        app_config,
        own_database_url,
        dev_chain.url,
        chain_client,
        billing_workers=("settlement", "deposits"),
    ) as client:
        yield client


async def test_withdrawal_is_paid_by_the_payout_worker_not_the_server(
    server_without_payouts: TestClient,
    own_database_url: str,
    own_db: asyncpg.Pool,
    redis_url: str,
    redis_prefix: str,
    dev_chain,
    chain_client: ChainClient,
) -> None:
    client = server_without_payouts
    viewer = fresh_account()
    headers = {"Authorization": f"Bearer {await sign_in(client, viewer)}"}
    me = await (await client.get("/api/me", headers=headers)).json()
    await client.app[BILLING].meter.credit(me["id"], 5 * ROC, "test top-up")
    accepted = await client.post("/api/me/withdraw", headers=headers, json={"amount": str(2 * ROC)})
    assert accepted.status == 202
    await asyncio.sleep(2)  # the server holds no signer lease: it signs nothing
    assert await own_db.fetchval("SELECT status FROM payouts") == "created"

    env = worker_env(
        own_database_url,
        redis_url,
        redis_prefix,
        CHAIN_URL=dev_chain.url,
        ESCROW_SEED=client.app[CONFIG].escrow_seed,
    )
    workers = [start_worker("payouts", env) for _ in range(2)]  # a second one stands by
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if await chain_client.free_balance(viewer.ss58_address) == 2 * ROC:
                break
            await asyncio.sleep(0.5)
        assert await chain_client.free_balance(viewer.ss58_address) == 2 * ROC
        assert all(w.poll() is None for w in workers)  # neither crashed
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(10)
    assert await own_db.fetchval("SELECT count(*) FROM payouts WHERE nonce IS NOT NULL") == 1
