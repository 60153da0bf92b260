"""Reconcile: the money checks across Redis, PostgreSQL and the chain, and what it shows.

It passes on settled books and catches a tampered row, fails when the escrow cannot cover what it
owes, and lists parked items for an operator (`vilokanam reconcile`).
"""

from __future__ import annotations

import uuid

import asyncpg

from billing.chain import ChainClient
from billing.deposits import DepositWatcher
from billing.meter import Meter
from billing.parking import list_parked
from billing.reconcile import reconcile
from billing.settlement import Settlement
from billing.users_db import ensure_user
from tests.billing.support import rows
from tests.billing.support.chain_money import ROC, funded_escrow
from tests.billing.support.processes import cli, worker_env
from tests.billing.support.scene import charges, make_scene, settle_all
from tests.support.chain_fixtures import fresh_account


async def test_reconcile_passes_then_catches_a_tampered_row(
    own_db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    db = own_db
    scene = await make_scene(db, redis, redis_prefix)
    await scene["meter"].charge(charges(scene, range(3000, 3004)))
    before = await reconcile(db, redis, redis_prefix, None)
    assert before.ok, before.text()  # unsettled ledger entries are accounted for
    await settle_all(Settlement(redis, db, redis_prefix))
    settled = await reconcile(db, redis, redis_prefix, None)
    assert settled.ok, settled.text()
    await db.execute(
        "UPDATE creator_earnings SET total_earnings = total_earnings + 1 WHERE creator_id = $1",
        scene["creator"],
    )
    tampered = await reconcile(db, redis, redis_prefix, None)
    assert not tampered.ok
    assert "FAIL postgres creator earnings = settled credits" in tampered.text()
    await db.execute(
        "UPDATE creator_earnings SET total_earnings = total_earnings - 1 WHERE creator_id = $1",
        scene["creator"],
    )


async def test_reconcile_lists_parked_items_and_operator_closes_them(
    own_db: asyncpg.Pool, own_database_url: str, redis, redis_url: str, redis_prefix: str
) -> None:
    db = own_db
    viewer = await rows.user(db)
    huge, small = 2**64, 3_000
    deposit_ids = [
        await db.fetchval(
            """INSERT INTO deposits (user_id, from_account, amount, block_number, block_hash,
                                 event_index) VALUES ($1, 'x', $2, 1, $3, 0) RETURNING id""",
            viewer,
            amount,
            "0x" + uuid.uuid4().hex * 2,
        )
        for amount in (huge, small)
    ]
    meter = Meter(redis, 1000, redis_prefix)
    watcher = DepositWatcher(None, db, meter, "escrow", 2)  # type: ignore[arg-type]
    assert await watcher.credit_recorded() == 2
    assert await meter.balance(str(viewer)) == small
    env = worker_env(own_database_url, redis_url, redis_prefix)

    report = cli(env, "reconcile")
    assert report.returncode == 0, report.stdout + report.stderr
    assert f"PARK deposit {deposit_ids[0]} amount {huge}" in report.stdout
    assert "1 parked item(s) need an operator" in report.stdout

    # The operator refunded it on chain by hand and records that; the watcher never takes it.
    assert cli(env, "parked", "resolve", "deposit", str(deposit_ids[0])).returncode == 2
    resolved = cli(env, "parked", "resolve", "deposit", str(deposit_ids[0]), "refunded in #42")
    assert resolved.returncode == 0, resolved.stderr
    assert "PARK" not in cli(env, "reconcile").stdout
    assert await watcher.credit_recorded() == 0
    assert await meter.balance(str(viewer)) == small
    [item] = await list_parked(db, include_resolved=True)
    assert item.resolution == "refunded in #42" and item.resolved_at is not None
    assert cli(env, "parked", "retry", "deposit", str(deposit_ids[0])).returncode == 1


async def test_reconcile_fails_when_the_escrow_is_short(
    chain_client: ChainClient, own_db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    escrow = await funded_escrow(chain_client, amount=10 * ROC)
    meter = Meter(redis, 1000, redis_prefix)
    ed = await chain_client.existential_deposit()
    viewer = await ensure_user(own_db, fresh_account().public_key, 2)
    await meter.credit(str(viewer["id"]), 10 * ROC - ed, "deposit-1")  # all it can owe

    def escrow_check(report):  # type: ignore[no-untyped-def]
        [check] = [c for c in report.checks if c[0] == "escrow covers what it owes"]
        return check

    name, ok, detail = escrow_check(
        await reconcile(own_db, redis, redis_prefix, chain_client, escrow.ss58_address)
    )
    assert ok, detail
    await meter.credit(str(viewer["id"]), 1, "deposit-2")  # a planck more than it holds
    report = await reconcile(own_db, redis, redis_prefix, chain_client, escrow.ss58_address)
    name, ok, detail = escrow_check(report)
    assert not ok and "margin -1" in detail
    assert not report.ok and f"FAIL {name}" in report.text()
