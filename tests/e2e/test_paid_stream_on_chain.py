"""Issue 5 end to end on the real dev chain, through the running app.

Bob deposits to the escrow and is credited once; he watches a creator's stream over WHEP for
about ten seconds, paying per delivered second until his balance runs out and he is cut; the
creator's payout lands on chain, raising her balance by exactly her credited earnings; and the
reconcile check passes across Redis, PostgreSQL and the chain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.reconcile import reconcile
from signaling.config import AppConfig
from signaling.keys import BILLING
from tests.billing.support.chain_money import ROC, transfer
from tests.e2e.support.api import wait_for
from tests.signaling.support.accounts import new_stream, sign_in
from tests.signaling.support.webrtc_clients import whep, whip
from tests.support.chain_app import chain_test_client
from tests.support.chain_fixtures import fresh_account

pytestmark = pytest.mark.usefixtures("loopback")

SECONDS = 10


@pytest.fixture
async def chain_app(
    app_config: AppConfig, own_database_url: str, dev_chain, chain_client: ChainClient, redis
) -> AsyncIterator[TestClient]:
    async with chain_test_client(
        app_config,
        own_database_url,
        dev_chain.url,
        chain_client,
        payout_interval_s=1.0,
        payout_min_interval_s=0.0,
    ) as client:
        yield client


async def test_deposit_watch_cut_payout_reconcile(
    chain_app: TestClient, chain_client: ChainClient, redis, redis_prefix: str, own_db: asyncpg.Pool
) -> None:
    client = chain_app
    info = await (await client.get("/api/billing/info")).json()
    assert info["ss58_format"] == 2 and info["token_decimals"] == 12
    # Each second earns the creator more than the payout threshold (fee under 0.5 % of it), and
    # creators may be paid every round here, so each pays all that is settled, none left below.
    price = 3 * client.app[BILLING].payouts.threshold

    creator_key = fresh_account()
    creator = {"Authorization": f"Bearer {await sign_in(client, creator_key)}"}
    await client.patch("/api/me", headers=creator, json={"is_creator": True})
    stream = await new_stream(client, creator, price=str(price))
    bob_key = Keypair.create_from_uri("//Bob")
    bob = {"Authorization": f"Bearer {await sign_in(client, bob_key)}"}

    # Deposit: exactly SECONDS of watching, credited once from a finalized block.
    await transfer(chain_client, bob_key, info["escrow_address"], SECONDS * price)

    async def credited() -> dict | None:
        balance = await (await client.get("/api/me/balance", headers=bob)).json()
        return balance if balance["available"] != "0" else None

    balance = await wait_for(credited, 30)
    assert balance == {"available": str(SECONDS * price), "reserved": "0"}
    await asyncio.sleep(2.5)  # more deposit polls: still credited once
    assert (await (await client.get("/api/me/balance", headers=bob)).json())["available"] == str(
        SECONDS * price
    )

    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer, _ = await whep(client, stream["id"], bob)
    await viewer.wait_frames(1, within=5)
    first_frame = time.time()
    await asyncio.wait_for(viewer.ended.wait(), SECONDS + 15)  # cut when the balance ran out
    watched = time.time() - first_frame

    async def spent() -> bool:  # its last acknowledged second is charged by the next tick
        balance = await (await client.get("/api/me/balance", headers=bob)).json()
        return balance["available"] == "0"

    await wait_for(spent, 3)
    view_id = await own_db.fetchval(
        "SELECT id FROM stream_viewers WHERE stream_id = $1::uuid", stream["id"]
    )
    ticks = await client.app[BILLING].meter.view_ticks(str(view_id))
    assert ticks == SECONDS
    # Charged seconds match delivered ones. A second is charged once acknowledged (aiortc's
    # receiver reports come every 0.5-1.5 s) and the cut lands at the tick after the last one,
    # so the two clocks may differ by up to three seconds, never by a balance's worth.
    assert abs(watched - ticks) <= 3.0

    # Settlement, then the payout: the creator's balance rises by exactly her earnings.
    async def earned() -> int | None:
        value = await own_db.fetchval(
            "SELECT total_earnings FROM creator_earnings ce JOIN users u ON u.id = ce.creator_id "
            "WHERE u.public_key = $1",
            creator_key.public_key,
        )
        return int(value) if value and int(value) == SECONDS * (price - price // 10) else None

    earnings = await wait_for(earned, 20)

    async def paid_in_full() -> bool:
        # Payouts run every second, so the earnings may arrive in more than one payout.
        return await chain_client.free_balance(creator_key.ss58_address) >= earnings

    await wait_for(paid_in_full, 60)
    await asyncio.sleep(2.5)  # further payout rounds pay nothing more
    assert await chain_client.free_balance(creator_key.ss58_address) == earnings
    payouts = await own_db.fetch("SELECT status, extrinsic_hash FROM payouts")
    assert payouts and all(p["status"] == "finalized" for p in payouts)
    assert all(p["extrinsic_hash"].startswith("0x") for p in payouts)

    await client.delete(broadcast.location)
    await broadcast.pc.close()
    await viewer.close()
    escrow = info["escrow_address"]
    report = await reconcile(own_db, redis, redis_prefix, chain_client, escrow)
    assert report.ok, report.text()
    assert "escrow covers what it owes" in report.text()


async def test_withdrawal_rules_and_payout(
    chain_app: TestClient, chain_client: ChainClient, own_db: asyncpg.Pool
) -> None:
    client = chain_app
    viewer = fresh_account()
    headers = {"Authorization": f"Bearer {await sign_in(client, viewer)}"}
    me = await (await client.get("/api/me", headers=headers)).json()
    await client.app[BILLING].meter.credit(me["id"], 5 * ROC, "test top-up")
    info = await (await client.get("/api/billing/info")).json()
    ed = int(info["existential_deposit"])

    for body in (
        {"amount": str(6 * ROC)},  # above the balance
        {"amount": str(ROC), "to": "not-an-address"},  # malformed address
        {"amount": str(ed - 1)},
    ):  # below what the chain allows
        response = await client.post("/api/me/withdraw", headers=headers, json=body)
        assert response.status == 400, body
        assert (await response.json())["error"]["message"]
    balance = await (await client.get("/api/me/balance", headers=headers)).json()
    assert balance == {"available": str(5 * ROC), "reserved": "0"}  # nothing moved
    assert (
        await own_db.fetchval(
            "SELECT count(*) FROM payouts WHERE kind = 'withdrawal' AND status <> 'failed'"
        )
        == 0
    )
    assert await chain_client.free_balance(viewer.ss58_address) == 0

    # The fee is quoted before the viewer confirms, and what is debited is the quote.
    quoted = await client.get(f"/api/me/withdraw/quote?amount={2 * ROC}", headers=headers)
    assert quoted.status == 200
    quote = await quoted.json()
    fee = int(quote["fee"])
    assert 0 < fee < ROC // 1000 and quote["total"] == str(2 * ROC + fee)
    assert quote["available"] == str(5 * ROC) and quote["to"] == me["account_id"]
    too_low = await client.post(
        "/api/me/withdraw", headers=headers, json={"amount": str(2 * ROC), "fee": str(fee - 1)}
    )
    assert too_low.status == 409 and (await too_low.json())["error"]["code"] == "fee_changed"
    for bad in ("", "0", "-1", "1.5", str(10**40)):
        response = await client.get(f"/api/me/withdraw/quote?amount={bad}", headers=headers)
        assert response.status == 400, bad
    assert (
        await own_db.fetchval(
            "SELECT count(*) FROM payouts WHERE kind = 'withdrawal' AND status <> 'failed'"
        )
        == 0
    )
    escrow = info["escrow_address"]
    escrow_before = await chain_client.free_balance(escrow)

    accepted = await client.post(
        "/api/me/withdraw", headers=headers, json={"amount": str(2 * ROC), "fee": quote["fee"]}
    )
    assert accepted.status == 202
    assert {k: (await accepted.json())[k] for k in ("amount", "fee", "total")} == {
        k: quote[k] for k in ("amount", "fee", "total")
    }
    after = await (await client.get("/api/me/balance", headers=headers)).json()
    assert after["available"] == str(3 * ROC - fee)

    async def landed() -> bool:
        return await chain_client.free_balance(viewer.ss58_address) == 2 * ROC

    await wait_for(landed, 30)
    payout_id = (await accepted.json())["id"]

    async def finalized() -> bool:
        status = await own_db.fetchval("SELECT status FROM payouts WHERE id = $1::uuid", payout_id)
        return status == "finalized"

    await wait_for(finalized, 30)
    final = await (await client.get("/api/me/balance", headers=headers)).json()
    assert final == {"available": str(3 * ROC - fee), "reserved": "0"}
    # The escrow lost what the viewer paid, not a planck more: the fee was the viewer's.
    assert escrow_before - await chain_client.free_balance(escrow) == 2 * ROC + fee
