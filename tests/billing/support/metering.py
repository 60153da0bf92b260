"""Helpers of the meter and tick tests: funding, reading the ledger, checking the books."""

from __future__ import annotations

import uuid
from collections import Counter

import redis.asyncio

from billing.ledger import LedgerEntry, decode_entry
from billing.meter import Charge, ChargeResult, Meter

FEE_BPS = 250


async def delete_prefix(rclient: redis.asyncio.Redis, prefix: str) -> None:
    keys = [key async for key in rclient.scan_iter(match=prefix + "*", count=1000)]
    for start in range(0, len(keys), 1000):
        await rclient.delete(*keys[start : start + 1000])


async def fund(meter: Meter, user_id: str, amount: int) -> None:
    assert await meter.credit(user_id, amount, f"deposit-{uuid.uuid4().hex}")


async def ledger(rclient: redis.asyncio.Redis, meter: Meter) -> list[LedgerEntry]:
    raw = await rclient.xrange(meter.ledger_key)
    return [entry for _, fields in raw for entry in decode_entry(fields)]


def charge(view: str, second: int, price: int, viewer: str = "", stream: str = "s1") -> Charge:
    return Charge(view, viewer or f"u-{view}", stream, f"c-{stream}", second, price)


def statuses(results: list[ChargeResult]) -> list[str]:
    return [r.status for r in results]


async def assert_books_balance(rclient: redis.asyncio.Redis, meter: Meter) -> list[LedgerEntry]:
    """Invariant 3 in Redis: totals, ledger, earnings and fee pots agree to the planck."""
    totals = await meter.totals()
    entries = await ledger(rclient, meter)
    assert totals.debits == totals.creator_credits + totals.fees
    assert totals.debits == sum(e.amount for e in entries)
    assert totals.creator_credits == sum(e.creator_amount for e in entries)
    assert totals.fees == sum(e.fee for e in entries) == await meter.platform_fees()
    by_creator: Counter[str] = Counter()
    for e in entries:
        by_creator[e.creator_id] += e.creator_amount
    for creator, earned in by_creator.items():
        assert await meter.earnings(creator) == earned
    keys = [(e.view_id, e.second) for e in entries]
    assert len(keys) == len(set(keys)), "a (view, second) is in the ledger twice"
    return entries
