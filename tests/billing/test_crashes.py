"""kill -9 at random points of settlement and payout workers: nothing lost or doubled."""

from __future__ import annotations

import asyncio
import random
import signal
import time

import asyncpg
import pytest
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.meter import Charge, Meter
from billing.reconcile import reconcile
from billing.settlement import Settlement
from billing.users_db import ensure_user
from tests.billing.support import rows
from tests.billing.support.chain_money import ROC, funded_escrow
from tests.billing.support.processes import kill_after, start_worker, worker_env
from tests.support.chain_fixtures import fresh_account

KILLS = 6


async def test_settlement_kill_9_applies_every_batch_once(
    own_db: asyncpg.Pool, own_database_url: str, redis, redis_url: str, redis_prefix: str
) -> None:
    db = own_db
    creator = await rows.user(db, creator=True)
    viewers = [await rows.user(db) for _ in range(3)]
    stream = await rows.live_stream(db, creator, 1_000)
    views = [await rows.view(db, stream, v) for v in viewers]
    meter = Meter(redis, 1_500, redis_prefix)
    for viewer in viewers:
        await meter.credit(str(viewer), 10**12, f"seed-{viewer}")
    rng = random.Random(7)
    second = 1_000_000
    env = worker_env(own_database_url, redis_url, redis_prefix)
    batches = 0  # every charge call below adds one ledger entry (one chunk, all charged)
    for _ in range(KILLS):
        proc = start_worker("settlement", env)
        for _ in range(rng.randint(5, 40)):  # charges keep arriving while it works
            second += 1
            batches += 1
            await meter.charge(
                [
                    Charge(
                        str(view),
                        str(viewer),
                        str(stream),
                        str(creator),
                        second,
                        rng.choice((1_000, 999, 1)),
                    )
                    for view, viewer in zip(views, viewers, strict=True)
                ]
            )
        await asyncio.to_thread(kill_after, proc, rng.uniform(0.3, 2.5))
    # A last clean run drains what is left.
    final = Settlement(redis, db, redis_prefix, consumer="settlement-1")
    await final.ensure_group()
    while await final.settle_pending() or await final.settle_new(block_ms=None):
        pass

    totals = await meter.totals()
    settled = await db.fetchrow("SELECT count(*) AS n, sum(amount) AS amount FROM settled_batches")
    assert settled["n"] == batches  # each batch applied once, none lost
    assert await redis.xlen(f"{redis_prefix}ledger") <= 1  # and trimmed once settled
    assert int(settled["amount"]) == totals.debits
    for view in views:
        ticks = await db.fetchval("SELECT total_ticks FROM stream_viewers WHERE id = $1", view)
        assert ticks == await meter.view_ticks(str(view))
    report = await reconcile(db, redis, redis_prefix, None)
    assert report.ok, report.text()


@pytest.mark.parametrize("workers", [1, 2])
async def test_payout_kill_9_never_pays_twice(
    dev_chain,
    chain_client: ChainClient,
    own_db: asyncpg.Pool,
    own_database_url: str,
    redis,
    redis_url: str,
    redis_prefix: str,
    workers: int,
) -> None:
    """Payout workers killed at random; with two at once, the lease keeps one signer."""
    db = own_db
    escrow_mnemonic = Keypair.generate_mnemonic()
    escrow = Keypair.create_from_mnemonic(escrow_mnemonic)
    funder = await funded_escrow(chain_client, 200 * ROC)
    xt = await chain_client.sign_transfer(funder, escrow.ss58_address, 150 * ROC)
    await chain_client.submit(xt)
    await chain_client.wait_for_inclusion(xt, 30, finalized=True)
    creators = [fresh_account() for _ in range(3)]
    owed = {c.ss58_address: 0 for c in creators}
    users = {c.ss58_address: (await ensure_user(db, c.public_key, 2))["id"] for c in creators}

    async def earn(amount: int) -> None:
        for creator in creators:
            await db.execute(
                """INSERT INTO creator_earnings (creator_id, total_earnings, pending_payout)
                   VALUES ($1, $2, $2) ON CONFLICT (creator_id) DO UPDATE SET
                   total_earnings = creator_earnings.total_earnings + $2,
                   pending_payout = creator_earnings.pending_payout + $2""",
                users[creator.ss58_address],
                amount,
            )
            owed[creator.ss58_address] += amount

    # Creators earn every few seconds here: pay them whenever due (no interval between payouts).
    env = worker_env(
        own_database_url,
        redis_url,
        redis_prefix,
        CHAIN_URL=dev_chain.url,
        ESCROW_SEED=escrow_mnemonic,
        PAYOUT_LEASE_S="2",
        PAYOUT_MIN_INTERVAL_S="0",
    )
    rng = random.Random(11)
    standby = [start_worker("payouts", env) for _ in range(workers - 1)]
    for _ in range(KILLS):
        await earn(rng.randint(1, 3) * ROC + rng.randint(0, 999))
        proc = start_worker("payouts", env)
        await asyncio.to_thread(kill_after, proc, rng.uniform(1.0, 4.0))
    for other in standby:  # it ran (signing or standing by) through every kill: still alive
        assert other.poll() is None
        other.send_signal(signal.SIGKILL)
        other.wait(10)
    # Restart once more and let it finish everything.
    proc = start_worker("payouts", env)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            open_or_due = await db.fetchval(
                """SELECT (SELECT count(*) FROM payouts WHERE status IN
                           ('created', 'signed', 'submitted', 'in_block'))
                        + (SELECT count(*) FROM creator_earnings WHERE pending_payout > 0)"""
            )
            if open_or_due == 0:
                break
            await asyncio.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(10)
    assert open_or_due == 0
    for creator in creators:
        assert await chain_client.free_balance(creator.ss58_address) == owed[creator.ss58_address]
    signed = await db.fetch("SELECT extrinsic_hash FROM payouts WHERE extrinsic_hash IS NOT NULL")
    assert len({r["extrinsic_hash"] for r in signed}) == len(signed)
    report = await reconcile(db, redis, redis_prefix, chain_client)
    # Earnings were written directly (no ledger here), so only the payout checks apply.
    payout_checks = {
        name: ok
        for name, ok, _ in report.checks
        if name in ("earnings = pending + paid/paying", "finalized payouts are on chain")
    }
    assert payout_checks == {
        "earnings = pending + paid/paying": True,
        "finalized payouts are on chain": True,
    }, report.text()
