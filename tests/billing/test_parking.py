"""Parked items are shown to an operator by `vilokanam reconcile` and closed by
`vilokanam parked retry|resolve`."""

from __future__ import annotations

import subprocess
import sys
import uuid

import asyncpg

from billing.deposits import DepositWatcher
from billing.meter import Meter
from billing.parking import list_parked, park
from tests.billing.support import rows
from tests.billing.support.processes import worker_env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vilokanam", *args], env=env,
                          capture_output=True, text=True, timeout=60)


async def test_reconcile_lists_parked_items_and_operator_closes_them(
    own_db: asyncpg.Pool, own_database_url: str, redis, redis_url: str, redis_prefix: str
) -> None:
    db = own_db
    viewer = await rows.user(db)
    huge, small = 2**64, 3_000
    deposit_ids = [await db.fetchval(
        """INSERT INTO deposits (user_id, from_account, amount, block_number, block_hash,
                                 event_index) VALUES ($1, 'x', $2, 1, $3, 0) RETURNING id""",
        viewer, amount, "0x" + uuid.uuid4().hex * 2) for amount in (huge, small)]
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


async def test_retried_item_goes_back_to_its_loop(
    own_db: asyncpg.Pool, own_database_url: str, redis, redis_url: str, redis_prefix: str
) -> None:
    db = own_db
    viewer = await rows.user(db)
    deposit = await db.fetchval(
        """INSERT INTO deposits (user_id, from_account, amount, block_number, block_hash,
                                 event_index) VALUES ($1, 'x', 500, 1, $2, 0) RETURNING id""",
        viewer, "0x" + uuid.uuid4().hex * 2)
    await park(db, "deposit", str(deposit), "Redis refused the script (since fixed)", 500)
    meter = Meter(redis, 1000, redis_prefix)
    watcher = DepositWatcher(None, db, meter, "escrow", 2)  # type: ignore[arg-type]
    assert await watcher.credit_recorded() == 0  # parked: skipped
    retried = cli(worker_env(own_database_url, redis_url, redis_prefix),
                  "parked", "retry", "deposit", str(deposit))
    assert retried.returncode == 0, retried.stderr
    assert await watcher.credit_recorded() == 1
    assert await meter.balance(str(viewer)) == 500
    assert await list_parked(db, include_resolved=True) == []
