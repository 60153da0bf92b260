"""A withdrawal that fails is refunded exactly once, even when the process dies between marking
it failed (PostgreSQL) and crediting the balance back (Redis)."""

from __future__ import annotations

import asyncpg

from billing.chain import ChainClient
from billing.meter import Meter
from billing.payouts import Payouts
from billing.users_db import ensure_user
from tests.billing.support.chain_money import ROC
from tests.support.chain_fixtures import fresh_account


class CrashBeforeRefund(Exception):
    """Stands for the process dying right after the failed status was committed."""


async def test_a_refund_cut_off_by_a_crash_is_recovered_once(
    chain_client: ChainClient, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    meter = Meter(redis, 1000, redis_prefix)
    payouts = Payouts(chain_client, db, meter, fresh_account(), 0)  # empty escrow: refused
    viewer = await ensure_user(db, fresh_account().public_key, 2)
    await meter.credit(str(viewer["id"]), 6 * ROC, "seed")
    payout_id = await payouts.create_withdrawal(viewer["id"], viewer["account_id"], 4 * ROC)
    assert await meter.balance(str(viewer["id"])) < 2 * ROC  # amount and fee taken

    credit = meter.credit

    async def crash_on_refund(user_id: str, amount: int, key: str) -> bool:
        if key.startswith("refund:"):
            raise CrashBeforeRefund
        return await credit(user_id, amount, key)

    meter.credit = crash_on_refund  # type: ignore[method-assign]
    try:
        await payouts.drive(payout_id)
    except CrashBeforeRefund:
        pass
    meter.credit = credit  # type: ignore[method-assign]
    assert await db.fetchval("SELECT status FROM payouts WHERE id = $1", payout_id) == "failed"
    assert await meter.balance(str(viewer["id"])) < 2 * ROC  # the refund was lost here

    # One refused for want of balance (a concurrent debit won) took nothing: never refunded.
    await _refused_withdrawal(db, viewer["id"], viewer["account_id"], 3 * ROC)

    assert await payouts.recover_refunds() == 1
    assert await meter.balance(str(viewer["id"])) == 6 * ROC  # amount and fee, back
    assert await payouts.recover_refunds() == 0  # exactly once
    assert await meter.balance(str(viewer["id"])) == 6 * ROC


async def _refused_withdrawal(db: asyncpg.Pool, user_id: object, dest: str, amount: int) -> None:
    """The rows `create_withdrawal` leaves when its debit is refused."""
    async with db.acquire() as conn, conn.transaction():
        payout_id = await conn.fetchval(
            """INSERT INTO payouts (kind, total, fee_charged, status, error, extrinsic_hex)
               VALUES ('withdrawal', $1, 0, 'failed', 'insufficient balance', '')
               RETURNING id""",
            amount,
        )
        await conn.execute(
            """INSERT INTO payout_items (payout_id, user_id, dest_account, amount)
               VALUES ($1, $2, $3, $4)""",
            payout_id,
            user_id,
            dest,
            amount,
        )
