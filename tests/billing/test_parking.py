"""A parked item an operator retries (`vilokanam parked retry`) goes back to its loop.

Listing parked items in `vilokanam reconcile` and resolving them: tests/billing/test_reconcile.py.
"""

from __future__ import annotations

import uuid

import asyncpg

from billing.deposits import DepositWatcher
from billing.meter import Meter
from billing.parking import list_parked, park
from tests.billing.support import rows
from tests.billing.support.processes import cli, worker_env


async def test_retried_item_goes_back_to_its_loop(
    own_db: asyncpg.Pool, own_database_url: str, redis, redis_url: str, redis_prefix: str
) -> None:
    db = own_db
    viewer = await rows.user(db)
    deposit = await db.fetchval(
        """INSERT INTO deposits (user_id, from_account, amount, block_number, block_hash,
                                 event_index) VALUES ($1, 'x', 500, 1, $2, 0) RETURNING id""",
        viewer,
        "0x" + uuid.uuid4().hex * 2,
    )
    await park(db, "deposit", str(deposit), "Redis refused the script (since fixed)", 500)
    meter = Meter(redis, 1000, redis_prefix)
    watcher = DepositWatcher(None, db, meter, "escrow", 2)  # type: ignore[arg-type]
    assert await watcher.credit_recorded() == 0  # parked: skipped
    retried = cli(
        worker_env(own_database_url, redis_url, redis_prefix),
        "parked",
        "retry",
        "deposit",
        str(deposit),
    )
    assert retried.returncode == 0, retried.stderr
    assert await watcher.credit_recorded() == 1
    assert await meter.balance(str(viewer)) == 500
    assert await list_parked(db, include_resolved=True) == []
