"""Issue 10, "background loops never die on one bad item": payouts on the real dev chain.

Item 3 (a refused extrinsic leaves no nonce gap), racing drivers, parking, the signer lease.
"""

from __future__ import annotations

import asyncio

import asyncpg
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.meter import Meter
from billing.parking import OPEN_PARKED, PARKED, list_parked
from billing.payouts import Payouts
from billing.signer_lease import SignerLease
from billing.users_db import ensure_user
from tests.billing.support.chain_money import ROC, creator_with_earnings, funded_escrow, transfer
from tests.support.chain_fixtures import fresh_account


def payouts_of(
    chain: ChainClient,
    db: asyncpg.Pool,
    meter: Meter,
    escrow: Keypair,
    threshold: int,
    lease: SignerLease | None = None,
) -> Payouts:
    return Payouts(chain, db, meter, escrow, threshold, inclusion_timeout_s=20, lease=lease)


async def test_refused_payout_leaves_no_nonce_gap(
    chain_client: ChainClient, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    """Item 3: the node refuses the first payout as invalid (the escrow cannot pay its fee);
    once funded, the next payout is signed at the chain's nonce, not past a gap, and lands."""
    escrow = fresh_account()  # empty: cannot pay any fee
    ed = await chain_client.existential_deposit()
    payouts = payouts_of(chain_client, db, Meter(redis, 1000, redis_prefix), escrow, ed)
    first, first_id = await creator_with_earnings(db, 3 * ROC)
    refused = await payouts.create_creator_payout()
    assert await payouts.drive(refused) == "failed"
    row = await db.fetchrow("SELECT nonce, error FROM payouts WHERE id = $1", refused)
    assert row["nonce"] == 0 and "rejected" in row["error"]
    assert (
        int(
            await db.fetchval(
                "SELECT pending_payout FROM creator_earnings WHERE creator_id = $1", first_id
            )
        )
        == 3 * ROC
    )  # given back

    await transfer(chain_client, Keypair.create_from_uri("//Alice"), escrow.ss58_address, 100 * ROC)
    retried = await payouts.create_creator_payout()
    assert await payouts.drive(retried) == "finalized"
    assert await db.fetchval("SELECT nonce FROM payouts WHERE id = $1", retried) == 0
    assert await chain_client.free_balance(first.ss58_address) == 3 * ROC


async def test_racing_drivers_sign_once_and_leave_no_nonce_gap(
    chain_client: ChainClient, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    """Two drivers on one new payout: one signs, the loser backs off without an error and the
    nonce it took is reused by the next payout, which lands."""
    escrow = await funded_escrow(chain_client)
    ed = await chain_client.existential_deposit()
    meter = Meter(redis, 1000, redis_prefix)
    drivers = [payouts_of(chain_client, db, meter, escrow, ed) for _ in range(2)]
    creator, _ = await creator_with_earnings(db, 4 * ROC)
    payout_id = await drivers[0].create_creator_payout()

    statuses = await asyncio.gather(*(d.drive(payout_id) for d in drivers))

    assert "finalized" in statuses
    assert await chain_client.free_balance(creator.ss58_address) == 4 * ROC  # paid once
    later, _ = await creator_with_earnings(db, 2 * ROC)
    next_id = await drivers[1].create_creator_payout()
    assert await drivers[1].drive(next_id) == "finalized"
    nonces = await db.fetch(
        "SELECT nonce FROM payouts WHERE id = ANY($1::uuid[]) ORDER BY nonce", [payout_id, next_id]
    )
    assert [r["nonce"] for r in nonces] == [0, 1]  # no gap
    assert await chain_client.free_balance(later.ss58_address) == 2 * ROC


async def test_bad_payout_is_parked_and_others_paid(
    chain_client: ChainClient, own_db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    """Item 1's stranded row (a withdrawal above what a balance holds, left `created` by the
    old API) is parked with its reason; the loop pays the others and runs on."""
    db = own_db
    escrow = await funded_escrow(chain_client)
    ed = await chain_client.existential_deposit()
    payouts = payouts_of(chain_client, db, Meter(redis, 1000, redis_prefix), escrow, ed)
    viewer = await ensure_user(db, fresh_account().public_key, 2)
    hostile = 10**19
    bad_id = await db.fetchval(
        "INSERT INTO payouts (kind, total) VALUES ('withdrawal', $1) RETURNING id", hostile
    )
    await db.execute(
        "INSERT INTO payout_items (payout_id, user_id, dest_account, amount) "
        "VALUES ($1, $2, $3, $4)",
        bad_id,
        viewer["id"],
        viewer["account_id"],
        hostile,
    )
    creator, _ = await creator_with_earnings(db, 3 * ROC)
    parked_before = PARKED.labels("payout")._value.get()

    for _round in range(2):
        await payouts.run_once()

    assert await chain_client.free_balance(creator.ss58_address) == 3 * ROC
    [parked] = await list_parked(db)
    assert (parked.kind, parked.ref, parked.amount) == ("payout", str(bad_id), hostile)
    assert "2^63-1" in parked.reason
    assert PARKED.labels("payout")._value.get() - parked_before == 1  # counted once
    assert OPEN_PARKED.labels("payout")._value.get() == 1  # what an operator's graph shows
    assert await payouts.open_payouts() == []
    assert await payouts.meter.balance(str(viewer["id"])) == 0


async def test_second_payout_signer_stands_by_until_the_lease_is_free(
    chain_client: ChainClient, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    escrow = await funded_escrow(chain_client)
    ed = await chain_client.existential_deposit()
    meter = Meter(redis, 1000, redis_prefix)
    leases = [SignerLease(redis, redis_prefix, escrow.ss58_address, ttl_s=3) for _ in range(2)]
    first, second = (payouts_of(chain_client, db, meter, escrow, ed, lease) for lease in leases)
    stops = [asyncio.Event(), asyncio.Event()]
    runs = [
        asyncio.create_task(p.run(stop, interval_s=0.2))
        for p, stop in zip((first, second), stops, strict=True)
    ]
    try:
        for _ in range(40):
            await asyncio.sleep(0.1)
            assert not (first.may_sign() and second.may_sign())
        assert first.may_sign() != second.may_sign()  # exactly one signer
        active, standby = (first, second) if first.may_sign() else (second, first)
        creator, _ = await creator_with_earnings(db, 2 * ROC)
        for _ in range(100):
            if await chain_client.free_balance(creator.ss58_address):
                break
            await asyncio.sleep(0.2)
        assert await chain_client.free_balance(creator.ss58_address) == 2 * ROC

        # The active signer's lease is taken from it (as if it froze past the lease time):
        # it stops signing, and the other takes over and pays.
        await redis.delete(active.lease.key)
        for _ in range(100):
            if standby.may_sign() and not active.may_sign():
                break
            await asyncio.sleep(0.1)
        assert standby.may_sign() and not active.may_sign()
        later, _ = await creator_with_earnings(db, 2 * ROC)
        for _ in range(100):
            if await chain_client.free_balance(later.ss58_address):
                break
            await asyncio.sleep(0.2)
        assert await chain_client.free_balance(later.ss58_address) == 2 * ROC
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*runs)
    assert await redis.exists(leases[0].key) == 0  # released on stop
