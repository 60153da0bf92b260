"""Deposits on the real dev chain: a finalized transfer to the escrow credits once."""

from __future__ import annotations

import asyncpg
from substrateinterface import Keypair

from billing.accounts import to_ss58
from billing.chain import ChainClient
from billing.deposits import DepositWatcher
from billing.meter import Meter
from billing.parking import list_parked
from tests.billing.support.chain_money import ROC, endow, transfer
from tests.support.chain_fixtures import fresh_account


def watcher(
    chain: ChainClient, db: asyncpg.Pool, meter: Meter, escrow: str, start: int
) -> DepositWatcher:
    return DepositWatcher(chain, db, meter, escrow, ss58_format=2, start_block=start)


async def test_deposit_credited_once_across_restarts(
    chain_client: ChainClient, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    escrow = fresh_account().ss58_address
    bob = Keypair.create_from_uri("//Bob")
    start, _ = await chain_client.finalized_head()
    meter = Meter(redis, 1000, redis_prefix)
    await transfer(chain_client, bob, escrow, 5 * ROC)
    await transfer(chain_client, bob, escrow, 2 * ROC)

    first = watcher(chain_client, db, meter, escrow, start)
    assert await first.poll() == 2
    user = await db.fetchrow(
        "SELECT id, account_id FROM users WHERE public_key = $1", bob.public_key
    )
    assert user["account_id"] == to_ss58(bob.public_key, 2)
    assert await meter.balance(str(user["id"])) == 7 * ROC

    # A restarted watcher, even one that lost its cursor, credits nothing twice.
    await db.execute("DELETE FROM chain_cursors WHERE name = $1", first.cursor)
    again = watcher(chain_client, db, meter, escrow, start)
    assert await again.poll() == 0
    assert await meter.balance(str(user["id"])) == 7 * ROC
    rows = await db.fetch("SELECT amount, credited_at FROM deposits WHERE user_id = $1", user["id"])
    assert sorted(int(r["amount"]) for r in rows) == [2 * ROC, 5 * ROC]
    assert all(r["credited_at"] is not None for r in rows)


async def test_crash_between_record_and_credit_is_finished_once(
    chain_client: ChainClient, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    escrow = fresh_account().ss58_address
    depositor = Keypair.create_from_uri("//Charlie")
    start, _ = await chain_client.finalized_head()
    meter = Meter(redis, 1000, redis_prefix)
    await transfer(chain_client, depositor, escrow, 3 * ROC)
    head, _ = await chain_client.finalized_head()
    crashed = watcher(chain_client, db, meter, escrow, start)
    for number in range(start, head + 1):  # recorded, then the process "dies" before crediting
        block = await chain_client.block_hash(number)
        await crashed._record(number, block, await chain_client.transfers_in_block(block, escrow))
    user_id = await db.fetchval("SELECT id FROM users WHERE public_key = $1", depositor.public_key)
    before = await meter.balance(str(user_id))
    recorded = await db.fetchval(
        "SELECT count(*) FROM deposits WHERE user_id = $1 AND credited_at IS NULL", user_id
    )
    assert recorded == 1
    restarted = watcher(chain_client, db, meter, escrow, start)
    await restarted.poll()
    await restarted.poll()
    # Redis said yes once even if the mark in PostgreSQL had been lost.
    await db.execute("UPDATE deposits SET credited_at = NULL WHERE user_id = $1", user_id)
    await restarted.credit_recorded()
    assert await meter.balance(str(user_id)) == before + 3 * ROC


async def test_transfers_elsewhere_are_not_deposits(
    chain_client: ChainClient, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    escrow = fresh_account().ss58_address
    start, _ = await chain_client.finalized_head()
    await transfer(
        chain_client, Keypair.create_from_uri("//Dave"), fresh_account().ss58_address, 1 * ROC
    )
    meter = Meter(redis, 1000, redis_prefix)
    assert await watcher(chain_client, db, meter, escrow, start).poll() == 0


async def test_deposit_above_int64_is_parked_and_later_ones_credited(
    chain_client: ChainClient, dev_chain, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    """Item 2: a u128 deposit the meter cannot hold is parked with its reason, never lost, and
    the watcher keeps crediting the deposits after it, across restarts."""
    escrow = fresh_account().ss58_address
    whale, small = fresh_account(), fresh_account()
    huge = 2**63 + 5  # planck: above what a Redis balance holds
    await endow(dev_chain, whale, huge + 10 * ROC)
    await transfer(chain_client, Keypair.create_from_uri("//Alice"), small.ss58_address, 5 * ROC)
    start, _ = await chain_client.finalized_head()
    meter = Meter(redis, 1000, redis_prefix)
    await transfer(chain_client, whale, escrow, huge)
    await transfer(chain_client, small, escrow, 2 * ROC)

    for _restart in range(2):
        await watcher(chain_client, db, meter, escrow, start).poll()

    rows = {
        r["public_key"]: r
        for r in await db.fetch(
            """SELECT u.public_key, u.id AS user_id, d.id, d.amount, d.credited_at
           FROM deposits d JOIN users u ON u.id = d.user_id
           WHERE u.public_key = ANY($1::bytea[])""",
            [whale.public_key, small.public_key],
        )
    }
    assert int(rows[small.public_key]["amount"]) == 2 * ROC
    assert rows[small.public_key]["credited_at"] is not None
    assert await meter.balance(str(rows[small.public_key]["user_id"])) == 2 * ROC
    big = rows[whale.public_key]
    assert int(big["amount"]) == huge and big["credited_at"] is None  # recorded to the planck
    assert await meter.balance(str(big["user_id"])) == 0
    parked = await list_parked(db)
    mine = [p for p in parked if p.ref == str(big["id"])]
    assert len(mine) == 1 and mine[0].kind == "deposit" and mine[0].amount == huge
    assert "above what a balance holds" in mine[0].reason
    assert (await meter.totals()).deposits == 2 * ROC  # nothing created
