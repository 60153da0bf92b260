"""Payouts on the real dev chain: exact amounts, persisted bytes, crash recovery."""

from __future__ import annotations

import asyncpg
import pytest

from billing.chain import ChainClient
from billing.meter import Meter
from billing.payouts import PayoutError, Payouts
from billing.users_db import ensure_user
from tests.billing.support.chain_money import ROC, creator_with_earnings, funded_escrow
from tests.support.chain_fixtures import fresh_account


@pytest.fixture
async def payouts(chain_client: ChainClient, db: asyncpg.Pool, redis, redis_prefix) -> Payouts:
    escrow = await funded_escrow(chain_client)
    ed = await chain_client.existential_deposit()
    return Payouts(chain_client, db, Meter(redis, 1000, redis_prefix), escrow, threshold=ed)


async def test_creators_are_paid_exactly_their_earnings(
    payouts: Payouts, chain_client: ChainClient, db: asyncpg.Pool
) -> None:
    alice, alice_id = await creator_with_earnings(db, 3 * ROC + 17)
    carol, carol_id = await creator_with_earnings(db, 2 * ROC)
    await payouts.run_once()
    assert await chain_client.free_balance(alice.ss58_address) == 3 * ROC + 17
    assert await chain_client.free_balance(carol.ss58_address) == 2 * ROC
    for user_id in (alice_id, carol_id):
        row = await db.fetchrow(
            "SELECT pending_payout, last_payout_at FROM creator_earnings WHERE creator_id = $1",
            user_id,
        )
        assert int(row["pending_payout"]) == 0 and row["last_payout_at"] is not None
    payout = await db.fetchrow(
        """SELECT p.* FROM payouts p JOIN payout_items i ON i.payout_id = p.id
           WHERE i.user_id = $1""",
        alice_id,
    )
    assert payout["status"] == "finalized"
    assert payout["extrinsic_hex"].startswith("0x") and payout["extrinsic_hash"].startswith("0x")
    assert payout["era_period"] == 64 and payout["nonce"] is not None
    found = await chain_client.find_extrinsic(payout["extrinsic_hash"], payout["era_start"])
    assert found is not None and found.block_number == payout["block_number"]
    # Running again pays nobody twice.
    await payouts.run_once()
    assert await chain_client.free_balance(alice.ss58_address) == 3 * ROC + 17


async def test_earnings_below_threshold_wait(
    payouts: Payouts, chain_client: ChainClient, db: asyncpg.Pool
) -> None:
    small, small_id = await creator_with_earnings(db, payouts.threshold - 1)
    await payouts.run_once()
    assert await chain_client.free_balance(small.ss58_address) == 0
    assert (
        int(
            await db.fetchval(
                "SELECT pending_payout FROM creator_earnings WHERE creator_id = $1", small_id
            )
        )
        == payouts.threshold - 1
    )


async def test_crash_after_signing_resends_the_same_bytes(
    payouts: Payouts, chain_client: ChainClient, db: asyncpg.Pool
) -> None:
    creator, _ = await creator_with_earnings(db, 4 * ROC)
    payout_id = await payouts.create_creator_payout()
    payout = await payouts._sign(await payouts._load(payout_id))  # then the process dies
    restarted = Payouts(payouts.chain, db, payouts.meter, payouts.escrow, payouts.threshold)
    assert await restarted.open_payouts() == [payout_id]
    assert await restarted.drive(payout_id) == "finalized"
    after = await payouts._load(payout_id)
    assert after["extrinsic_hex"] == payout["extrinsic_hex"]  # never re-signed
    assert await chain_client.free_balance(creator.ss58_address) == 4 * ROC


async def test_crash_after_submit_finds_it_on_chain(
    payouts: Payouts, chain_client: ChainClient, db: asyncpg.Pool
) -> None:
    creator, _ = await creator_with_earnings(db, 5 * ROC)
    payout_id = await payouts.create_creator_payout()
    payout = await payouts._sign(await payouts._load(payout_id))
    await chain_client.submit(payouts_signed(payout))  # submitted, status not yet saved
    await chain_client.wait_for_inclusion(payouts_signed(payout), 30)
    assert await payouts.drive(payout_id) == "finalized"
    assert await chain_client.free_balance(creator.ss58_address) == 5 * ROC


def payouts_signed(payout):  # type: ignore[no-untyped-def]
    from billing.payout_driver import _signed

    return _signed(payout)


async def test_failed_batch_returns_the_earnings(
    chain_client: ChainClient, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    poor_escrow = await funded_escrow(chain_client, amount=2 * ROC)
    ed = await chain_client.existential_deposit()
    payouts = Payouts(chain_client, db, Meter(redis, 1000, redis_prefix), poor_escrow, ed)
    creator, creator_id = await creator_with_earnings(db, 50 * ROC)  # more than the escrow has
    payout_id = await payouts.create_creator_payout()
    status = await payouts.drive(payout_id)
    assert status in ("failed", "expired")
    assert await chain_client.free_balance(creator.ss58_address) == 0
    assert (
        int(
            await db.fetchval(
                "SELECT pending_payout FROM creator_earnings WHERE creator_id = $1", creator_id
            )
        )
        == 50 * ROC
    )


async def test_withdrawal_pays_viewer_and_refuses_overdraft(
    payouts: Payouts, chain_client: ChainClient, db: asyncpg.Pool
) -> None:
    viewer = fresh_account()
    user = await ensure_user(db, viewer.public_key, 2)
    await payouts.meter.credit(str(user["id"]), 6 * ROC, "seed")
    with pytest.raises(PayoutError):
        await payouts.create_withdrawal(user["id"], user["account_id"], 7 * ROC)
    assert await payouts.meter.balance(str(user["id"])) == 6 * ROC
    payout_id = await payouts.create_withdrawal(user["id"], user["account_id"], 4 * ROC)
    fee = await payouts.withdrawal_fee(user["account_id"], 4 * ROC)
    assert await payouts.meter.balance(str(user["id"])) == 2 * ROC - fee
    assert await payouts.drive(payout_id) == "finalized"
    assert await chain_client.free_balance(viewer.ss58_address) == 4 * ROC
