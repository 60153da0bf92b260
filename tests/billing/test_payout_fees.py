"""Transaction fees of payouts on the real dev chain (issue 10, items 7 and 8).

A viewer pays the fee of their own withdrawal: the escrow loses on chain exactly what the viewer
paid, and a withdrawal that does not pay refunds amount and fee. A busy creator is paid seldom,
each payout's fee under 1 % of it. (Reconcile failing when the escrow cannot cover what it owes:
tests/billing/test_reconcile.py.)
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import pytest
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.meter import Meter
from billing.payout_policy import PayoutPolicy, amount_for_fee, payout_threshold
from billing.payouts import Payouts
from billing.users_db import ensure_user
from tests.billing.support.chain_money import ROC, funded_escrow
from tests.support.chain_fixtures import dev_rpc, fresh_account


@pytest.fixture
async def escrow(chain_client: ChainClient) -> Keypair:
    return await funded_escrow(chain_client)


@pytest.fixture
async def payouts(
    chain_client: ChainClient, escrow: Keypair, own_db: asyncpg.Pool, redis, redis_prefix: str
) -> Payouts:
    ed = await chain_client.existential_deposit()
    return Payouts(chain_client, own_db, Meter(redis, 1000, redis_prefix), escrow, threshold=ed)


async def funded_viewer(payouts: Payouts, amount: int) -> tuple[Keypair, uuid.UUID, str]:
    viewer = fresh_account()
    user = await ensure_user(payouts.pool, viewer.public_key, 2)
    await payouts.meter.credit(str(user["id"]), amount, f"deposit-{user['id']}")
    return viewer, user["id"], user["account_id"]


async def test_withdrawal_debits_amount_and_fee_and_the_escrow_loses_exactly_that(
    payouts: Payouts, chain_client: ChainClient, escrow: Keypair
) -> None:
    viewer, user_id, dest = await funded_viewer(payouts, 6 * ROC)
    fee = await payouts.withdrawal_fee(dest, 2 * ROC)
    assert fee > 0
    escrow_before = await chain_client.free_balance(escrow.ss58_address)

    payout_id = await payouts.create_withdrawal(user_id, dest, 2 * ROC, fee)
    assert await payouts.meter.balance(str(user_id)) == 4 * ROC - fee
    assert await payouts.drive(payout_id) == "finalized"

    assert await chain_client.free_balance(viewer.ss58_address) == 2 * ROC
    escrow_loss = escrow_before - await chain_client.free_balance(escrow.ss58_address)
    assert escrow_loss == 2 * ROC + fee  # the platform lost nothing to the fee
    row = await payouts.pool.fetchrow(
        "SELECT fee_charged, chain_fee FROM payouts WHERE id = $1", payout_id
    )
    assert int(row["fee_charged"]) == int(row["chain_fee"]) == fee
    # deposits - withdrawals - fees = balance, to the planck
    assert await payouts.meter.balance(str(user_id)) == 6 * ROC - 2 * ROC - fee


async def test_withdrawal_above_balance_with_its_fee_is_refused(payouts: Payouts) -> None:
    _, user_id, dest = await funded_viewer(payouts, 2 * ROC)
    from billing.payouts import PayoutError

    with pytest.raises(PayoutError, match="fee"):
        await payouts.create_withdrawal(user_id, dest, 2 * ROC)  # the whole balance, no fee left
    assert await payouts.meter.balance(str(user_id)) == 2 * ROC


async def test_expired_withdrawal_refunds_amount_and_fee(
    payouts: Payouts, chain_client: ChainClient, escrow: Keypair, dev_chain
) -> None:
    viewer, user_id, dest = await funded_viewer(payouts, 6 * ROC)
    fee = await payouts.withdrawal_fee(dest, 2 * ROC)
    escrow_before = await chain_client.free_balance(escrow.ss58_address)
    payout_id = await payouts.create_withdrawal(user_id, dest, 2 * ROC, fee)
    assert await payouts.meter.balance(str(user_id)) == 4 * ROC - fee
    # Signed with a short era and persisted, then the process stalls until the era is over.
    xt = await chain_client.sign_batch_transfer(escrow, [(dest, 2 * ROC)], era_period=4)
    await payouts.pool.execute(
        """UPDATE payouts SET status = 'signed', signer = $2, extrinsic_hex = $3,
                  extrinsic_hash = $4, nonce = $5, era_start = $6, era_period = $7
           WHERE id = $1""",
        payout_id,
        xt.signer,
        xt.hex,
        xt.hash,
        xt.nonce,
        xt.era_start,
        xt.era_period,
    )
    await dev_rpc(dev_chain, "dev_newBlock", [{"count": 5}])

    assert await payouts.drive(payout_id) in ("expired", "failed")
    assert await payouts.meter.balance(str(user_id)) == 6 * ROC  # amount and fee are back
    assert await chain_client.free_balance(viewer.ss58_address) == 0
    assert await chain_client.free_balance(escrow.ss58_address) == escrow_before


async def test_threshold_keeps_the_fee_below_the_bound(
    chain_client: ChainClient, escrow: Keypair
) -> None:
    policy = PayoutPolicy(max_fee_bps=50)
    threshold = await payout_threshold(chain_client, escrow, policy)
    fee = await chain_client.estimate_fee(escrow, [(fresh_account().ss58_address, threshold)])
    assert fee * 10_000 <= 50 * threshold  # 0.5 %
    assert threshold == amount_for_fee(fee, 50)
    ed = await chain_client.existential_deposit()
    configured = await payout_threshold(chain_client, escrow, PayoutPolicy(min_amount=1))
    assert configured == ed + await chain_client.estimate_fee(
        escrow, [(escrow.ss58_address, ed)]
    )  # never below what a transfer needs


async def test_busy_creator_gets_few_cheap_payouts(
    chain_client: ChainClient, escrow: Keypair, own_db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    policy = PayoutPolicy(min_interval_s=4.0)
    threshold = await payout_threshold(chain_client, escrow, policy)
    payouts = Payouts(
        chain_client,
        own_db,
        Meter(redis, 1000, redis_prefix),
        escrow,
        threshold,
        min_interval_s=policy.min_interval_s,
    )
    creator = fresh_account()
    creator_id = (await ensure_user(own_db, creator.public_key, 2))["id"]
    await own_db.execute("INSERT INTO creator_earnings (creator_id) VALUES ($1)", creator_id)
    per_second = threshold // 2  # enough to pay out every other round without the interval
    earned = 0
    started = time.monotonic()
    while time.monotonic() - started < 12:  # a stream earning for 12 s, payout rounds every 1 s
        await own_db.execute(
            """UPDATE creator_earnings SET total_earnings = total_earnings + $2,
                      pending_payout = pending_payout + $2 WHERE creator_id = $1""",
            creator_id,
            per_second,
        )
        earned += per_second
        await payouts.run_once()
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started) % 1.0))

    paid = await own_db.fetch(
        "SELECT total, chain_fee, created_at FROM payouts WHERE status = 'finalized'"
    )
    assert 2 <= len(paid) <= 12 / policy.min_interval_s + 1  # not one per round
    gaps = [
        (b["created_at"] - a["created_at"]).total_seconds()
        for a, b in zip(paid, paid[1:], strict=False)
    ]
    assert all(gap >= policy.min_interval_s for gap in gaps), gaps
    total = sum(int(p["total"]) for p in paid)
    fees = sum(int(p["chain_fee"]) for p in paid)
    assert 0 < fees * 100 < total  # fee / paid < 1 %
    assert await chain_client.free_balance(creator.ss58_address) == total
    pending = int(
        await own_db.fetchval(
            "SELECT pending_payout FROM creator_earnings WHERE creator_id = $1", creator_id
        )
    )
    assert total + pending == earned
