"""One-off payments (tips) through the meter, settlement and reconcile, on real Redis/PostgreSQL."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from billing.ledger import Payment, decode_payment
from billing.meter import Meter
from billing.reconcile import reconcile
from billing.settlement import Settlement, apply_payment
from tests.billing.support.scene import PRICE, charges, make_scene, settle_all

TIP = 12_345_679  # a fee (10 %) that rounds down: 1_234_567, creator 11_111_112


@pytest.fixture
def db(own_db: asyncpg.Pool) -> asyncpg.Pool:
    """A database of each test alone: reconcile checks whole tables."""
    return own_db


@pytest.fixture
async def scene(db: asyncpg.Pool, redis, redis_prefix: str) -> dict:
    return await make_scene(db, redis, redis_prefix)


def tip(scene: dict, amount: int = TIP, payment_id: str | None = None) -> Payment:
    return Payment(
        "tip",
        payment_id or str(uuid.uuid4()),
        str(scene["viewers"][0]),
        str(scene["creator"]),
        str(scene["stream"]),
        amount,
    )


async def money(meter: Meter, scene: dict) -> tuple[int, int, int]:
    """(tipping viewer's balance, creator's pending earnings, platform fees)."""
    viewer, creator = str(scene["viewers"][0]), str(scene["creator"])
    return await meter.balance(viewer), await meter.earnings(creator), await meter.platform_fees()


async def test_tip_moves_money_once_per_payment_id(scene: dict) -> None:
    meter: Meter = scene["meter"]
    before = await money(meter, scene)
    payment = tip(scene)

    first = await meter.pay(payment)
    again = await meter.pay(payment)

    assert (first.paid, first.fresh, first.fee) == (True, True, 1_234_567)
    assert (again.paid, again.fresh) == (True, False)  # the first outcome, nothing moved
    assert await money(meter, scene) == (
        before[0] - TIP,
        before[1] + TIP - 1_234_567,
        before[2] + 1_234_567,
    )
    totals = await meter.totals()
    assert totals.debits == totals.creator_credits + totals.fees == TIP


async def test_short_balance_is_refused_and_stays_refused(scene: dict) -> None:
    meter: Meter = scene["meter"]
    before = await money(meter, scene)
    payment = tip(scene, amount=before[0] + 1)

    refused = await meter.pay(payment)
    await meter.credit(str(scene["viewers"][0]), 10 * before[0], "top-up")
    retried = await meter.pay(payment)

    assert (refused.paid, refused.fresh) == (False, True)
    assert (retried.paid, retried.fresh) == (False, False)  # answers the first outcome
    assert (await money(meter, scene))[1:] == before[1:]
    assert (await meter.totals()).debits == 0


async def test_same_payment_id_with_another_amount_is_an_error(scene: dict) -> None:
    meter: Meter = scene["meter"]
    payment_id = str(uuid.uuid4())
    await meter.pay(tip(scene, payment_id=payment_id))
    with pytest.raises(Exception, match="reused"):
        await meter.pay(tip(scene, amount=TIP + 1, payment_id=payment_id))
    assert (await meter.totals()).debits == TIP


async def test_tipping_yourself_moves_nothing(scene: dict) -> None:
    meter: Meter = scene["meter"]
    creator = str(scene["creator"])
    await meter.credit(creator, TIP, "creator-funds")
    with pytest.raises(Exception, match="oneself"):
        await meter.pay(Payment("tip", str(uuid.uuid4()), creator, creator, "x", TIP))
    assert await meter.balance(creator) == TIP


async def test_tip_settles_to_one_payment_even_delivered_twice_and_reconciles(
    scene: dict, db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    meter: Meter = scene["meter"]
    await meter.charge(charges(scene, range(1000, 1003)))  # viewing in the mix
    payment = tip(scene)
    await meter.pay(payment)
    [(entry_id, fields)] = [m for m in await redis.xrange(meter.ledger_key) if b"kind" in m[1]]
    report = await reconcile(db, redis, redis_prefix, None)
    assert report.ok, report.text()  # the tip not settled yet: counted from the ledger
    await settle_all(Settlement(redis, db, redis_prefix))
    # Delivered again (a consumer that died after its commit, before XACK): applied once.
    async with db.acquire() as conn:
        again = await apply_payment(conn, entry_id.decode(), decode_payment(fields))
    assert again is False

    rows = await db.fetch(
        "SELECT id, from_user_id, to_user_id, amount, fee, reference_id, status FROM payments"
        " WHERE payment_type = 'tip'"
    )
    assert [
        (str(r["id"]), r["from_user_id"], r["to_user_id"], int(r["amount"]), int(r["fee"]))
        for r in rows
    ] == [(payment.payment_id, scene["viewers"][0], scene["creator"], TIP, 1_234_567)]
    assert rows[0]["reference_id"] == scene["stream"] and rows[0]["status"] == "completed"
    earnings = await db.fetchval(
        "SELECT total_earnings FROM creator_earnings WHERE creator_id = $1", scene["creator"]
    )
    assert int(earnings) == 6 * PRICE * 9 // 10 + TIP - 1_234_567
    report = await reconcile(db, redis, redis_prefix, None)
    assert report.ok, report.text()
