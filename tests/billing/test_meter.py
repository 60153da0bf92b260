"""Metering against real Redis: the session's server (REDIS_URL) and a private Redis 6.2 process.

The fixtures are in tests/billing/conftest.py. test_kill_9_mid_run_keeps_ledger_whole starts and
kills tests/billing/support/charge_worker.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import redis.asyncio
from redis.exceptions import ResponseError

from billing.meter import INT64_MAX, VIEW_TTL, Charge, Meter, split
from tests.billing.support.charge_worker import KILL_SECONDS, KILL_VIEWS, kill_charge
from tests.billing.support.metering import (
    FEE_BPS,
    assert_books_balance,
    charge,
    delete_prefix,
    fund,
    ledger,
    statuses,
)

ROOT = Path(__file__).resolve().parents[2]


# --- split ----------------------------------------------------------------------------------


def test_split_rounds_fee_down_and_adds_up() -> None:
    assert split(10_000, 250) == (9_750, 250)
    assert split(39, 250) == (39, 0)  # 0.975 planck of fee rounds down to 0
    assert split(41, 250) == (40, 1)
    assert split(INT64_MAX, 10_000) == (0, INT64_MAX)
    rnd = random.Random(1)
    for _ in range(1000):
        price, bps = rnd.randrange(INT64_MAX), rnd.randrange(10_001)
        creator, fee = split(price, bps)
        assert creator + fee == price and fee == price * bps // 10_000
    for bad_price, bad_bps in ((-1, 250), (INT64_MAX + 1, 250), (100, 10_001), (100, -1)):
        with pytest.raises(ValueError):
            split(bad_price, bad_bps)


# --- invariant 2: each (view, second) at most once ------------------------------------------


async def test_same_view_second_charged_once_in_one_batch(
    rclient: redis.asyncio.Redis, meter: Meter
) -> None:
    await fund(meter, "u-v1", 1_000)
    results = await meter.charge([charge("v1", 10, 100), charge("v1", 10, 100)])
    assert statuses(results) == ["charged", "duplicate"]
    assert [r.balance_left for r in results] == [900, 900]
    assert await meter.balance("u-v1") == 900
    assert [(e.view_id, e.second, e.amount) for e in await ledger(rclient, meter)] == [
        ("v1", 10, 100)
    ]
    assert await meter.view_ticks("v1") == 1
    assert await meter.stream_ticks("s1") == 1


async def test_same_view_second_charged_once_across_batches(
    rclient: redis.asyncio.Redis, meter: Meter
) -> None:
    await fund(meter, "u-v1", 1_000)
    assert statuses(await meter.charge([charge("v1", 10, 100)])) == ["charged"]
    assert statuses(await meter.charge([charge("v1", 10, 100), charge("v1", 11, 100)])) == [
        "duplicate",
        "charged",
    ]
    # A retry of an older second after a newer one is a duplicate too.
    assert statuses(await meter.charge([charge("v1", 10, 100)])) == ["duplicate"]
    assert await meter.balance("u-v1") == 800
    assert [e.second for e in await ledger(rclient, meter)] == [10, 11]
    assert (await meter.totals()).debits == 200
    await assert_books_balance(rclient, meter)


async def test_view_state_outlives_the_view_by_view_ttl(
    rclient: redis.asyncio.Redis, meter: Meter
) -> None:
    """A view's idempotency state sits in the bucket of the hour it was last written, which
    expires VIEW_TTL after its last write; a state in an older bucket still stops a replay."""
    await fund(meter, "u-v1", 1_000)
    await meter.charge([charge("v1", 7_200, 100)])
    [bucket] = [key async for key in rclient.scan_iter(match=meter.key("views:*"))]
    hour = int(bucket.rsplit(b":", 1)[1])
    assert hour == (await rclient.time())[0] // 3600
    assert VIEW_TTL - 60 < await rclient.ttl(bucket) <= VIEW_TTL
    # As if v1 were last charged 40 hours ago: its state sits in that hour's bucket.
    old = meter.key(f"views:{hour - 40}")
    await rclient.rename(bucket, old)
    assert statuses(await meter.charge([charge("v1", 7_200, 100)])) == ["duplicate"]
    assert statuses(await meter.charge([charge("v1", 7_201, 100)])) == ["charged"]
    assert await rclient.exists(old) == 0  # moved to the current bucket, not copied
    assert await rclient.hget(bucket, "v1") == b"7201 2"
    assert await meter.view_state("v1") == (7_201, 2)
    # Buckets past VIEW_TTL have expired: nothing older is looked for.
    await rclient.hset(meter.key(f"views:{hour - VIEW_TTL // 3600 - 2}"), "v2", "7200 1")
    assert statuses(await meter.charge([charge("v2", 7_200, 100, viewer="u-v1")])) == ["charged"]
    assert await meter.view_state("never") == (-1, 0)


async def test_view_state_without_ttl_never_expires(
    rclient: redis.asyncio.Redis, prefix: str
) -> None:
    meter = Meter(rclient, FEE_BPS, prefix, view_ttl=0)
    await fund(meter, "u-v1", 1_000)
    assert statuses(await meter.charge([charge("v1", 5, 100), charge("v1", 5, 100)])) == [
        "charged",
        "duplicate",
    ]
    assert await rclient.hget(meter.key("views:0"), "v1") == b"5 1"
    assert await rclient.ttl(meter.key("views:0")) == -1


# --- invariant 3: debits == credits + fee, to the planck ------------------------------------


class Model:
    """The rules of meter.lua in plain Python, to compare the script against."""

    def __init__(self) -> None:
        self.balance: dict[str, int] = defaultdict(int)
        self.last: dict[str, int] = {}
        self.earn: dict[str, int] = defaultdict(int)
        self.stream_ticks: Counter[str] = Counter()
        self.fees = 0

    def charge(self, batch: list[Charge], fee_bps: int) -> list[tuple[str, int]]:
        found = []
        for c in batch:
            if c.second <= self.last.get(c.view_id, -1):
                found.append("duplicate")
            elif self.balance[c.viewer_id] < c.price:
                found.append("insufficient")
            else:
                creator, fee = split(c.price, fee_bps)
                self.balance[c.viewer_id] -= c.price
                self.earn[c.creator_id] += creator
                self.fees += fee
                self.last[c.view_id] = c.second
                self.stream_ticks[c.stream_id] += 1
                found.append("charged")
        return [(s, self.balance[c.viewer_id]) for s, c in zip(found, batch, strict=True)]


async def test_random_batches_balance_to_the_planck(
    rclient: redis.asyncio.Redis, prefix: str
) -> None:
    rnd = random.Random(20240607)
    meters = [Meter(rclient, bps, prefix) for bps in (0, 1, 250, 3333, 10_000)]
    model = Model()
    seen: Counter[str] = Counter()
    viewers = [f"u{i}" for i in range(30)]
    funded = 0
    for i, viewer in enumerate(viewers):
        amount = rnd.choice([0, rnd.randrange(10**6), rnd.randrange(2**40), 2**62 + i])
        if amount:
            await fund(meters[0], viewer, amount)
            model.balance[viewer] = amount
            funded += amount
    prices = {f"s{i}": p for i, p in enumerate([0, 1, 39, 10**9 + 7, 2**50 - 3, 123_456_789])}
    views = [(f"v{i}", rnd.choice(viewers), rnd.choice(list(prices))) for i in range(60)]
    next_second = {view: 1_700_000_000 for view, _, _ in views}
    for _ in range(40):
        batch = []
        for view, viewer, stream in rnd.sample(views, rnd.randrange(1, 40)):
            next_second[view] += rnd.choice([-1, 0, 1, 1, 1, 2])  # replays and gaps
            batch.append(
                Charge(view, viewer, stream, f"c-{stream[-1]}", next_second[view], prices[stream])
            )
        if rnd.random() < 0.2:
            batch.append(batch[0])  # the same (view, second) twice in one batch
        meter = rnd.choice(meters)
        results = await meter.charge(batch)
        assert [(r.status, r.balance_left) for r in results] == model.charge(batch, meter.fee_bps)
        seen.update(statuses(results))

    entries = await assert_books_balance(rclient, meters[0])
    totals = await meters[0].totals()
    assert funded - sum([await meters[0].balance(v) for v in viewers]) == totals.debits
    assert totals.fees == model.fees and totals.creator_credits == sum(model.earn.values())
    for stream in prices:
        assert await meters[0].stream_ticks(stream) == model.stream_ticks[stream]
    assert len(entries) == sum(model.stream_ticks.values())
    assert min(seen[s] for s in ("charged", "duplicate", "insufficient")) > 10, seen


async def test_big_amounts_are_exact(rclient: redis.asyncio.Redis, prefix: str) -> None:
    """Amounts beyond 2^53 (where Lua's doubles go inexact) move to the planck."""
    meter = Meter(rclient, 3_333, prefix)
    await fund(meter, "u-big", INT64_MAX)
    price = INT64_MAX - 12_345
    [result] = await meter.charge([charge("big", 1, price, viewer="u-big")])
    assert (result.status, result.balance_left) == ("charged", 12_345)
    creator, fee = split(price, 3_333)
    [entry] = await ledger(rclient, meter)
    assert (entry.amount, entry.creator_amount, entry.fee) == (price, creator, fee)
    assert await meter.earnings("c-s1") == creator
    assert await meter.platform_fees() == fee


async def test_overflow_is_refused_and_moves_nothing(
    rclient: redis.asyncio.Redis, prefix: str
) -> None:
    meter = Meter(rclient, 0, prefix)
    await fund(meter, "u-a", INT64_MAX)
    with pytest.raises(ResponseError, match="overflow"):
        await meter.credit("u-a", 1, "one-too-many")
    assert await meter.balance("u-a") == INT64_MAX
    await fund(meter, "u-b", 10)
    await meter.charge([charge("a", 1, INT64_MAX, viewer="u-a")])  # creator earns 2^63-1
    [result] = await meter.charge([charge("b", 1, 1, viewer="u-b")])
    assert (result.status, result.balance_left) == ("overflow", 10)
    assert await meter.earnings("c-s1") == INT64_MAX
    assert (await meter.totals()).debits == INT64_MAX
    assert [e.view_id for e in await ledger(rclient, meter)] == ["a"]


# --- insufficient balance and free streams --------------------------------------------------


async def test_insufficient_balance_moves_nothing(
    rclient: redis.asyncio.Redis, meter: Meter
) -> None:
    await fund(meter, "u-v1", 150)
    assert statuses(await meter.charge([charge("v1", 1, 100)])) == ["charged"]
    length = await rclient.xlen(meter.ledger_key)
    [result] = await meter.charge([charge("v1", 2, 100)])
    assert (result.status, result.balance_left) == ("insufficient", 50)
    assert await rclient.xlen(meter.ledger_key) == length  # no ledger entry at all
    assert await meter.balance("u-v1") == 50
    assert await meter.earnings("c-s1") == split(100, FEE_BPS)[0]
    assert await meter.view_ticks("v1") == 1
    assert (await meter.totals()).debits == 100
    # The second was not charged, so it can still be charged once the viewer pays in.
    await fund(meter, "u-v1", 50)
    assert statuses(await meter.charge([charge("v1", 2, 100)])) == ["charged"]
    await assert_books_balance(rclient, meter)


async def test_free_stream_counts_ticks_without_balance(
    rclient: redis.asyncio.Redis, meter: Meter
) -> None:
    results = await meter.charge([charge("v1", s, 0, stream="free") for s in (1, 2, 3)])
    assert [(r.status, r.balance_left) for r in results] == [("charged", 0)] * 3
    assert await meter.stream_ticks("free") == 3
    assert await meter.view_ticks("v1") == 3
    assert [(e.second, e.amount, e.fee) for e in await ledger(rclient, meter)] == [
        (1, 0, 0),
        (2, 0, 0),
        (3, 0, 0),
    ]
    assert (await meter.totals()).debits == 0


async def test_ids_with_separators_are_refused(rclient: redis.asyncio.Redis, meter: Meter) -> None:
    await fund(meter, "u-v1", 1_000)
    for bad in ("v 1", "v\n1"):
        with pytest.raises(ValueError):
            await meter.charge([charge(bad, 1, 100, viewer="u-v1")])
    with pytest.raises(ResponseError, match="malformed"):
        await meter.charge([charge("", 1, 100, viewer="u-v1")])
    assert await meter.balance("u-v1") == 1_000
    assert await ledger(rclient, meter) == []


# --- deposits and withdrawals ---------------------------------------------------------------


async def test_credit_same_key_twice_credits_once(meter: Meter) -> None:
    assert await meter.credit("alice", 500, "block-7-ext-2") is True
    assert await meter.credit("alice", 500, "block-7-ext-2") is False
    assert await meter.balance("alice") == 500
    assert (await meter.totals()).deposits == 500
    with pytest.raises(ResponseError, match="reused"):
        await meter.credit("alice", 501, "block-7-ext-2")
    assert await meter.balance("alice") == 500


async def test_withdrawal_needs_the_balance_and_happens_once(meter: Meter) -> None:
    await fund(meter, "bob", 500)
    assert await meter.debit_for_withdrawal("bob", 600, "w-1") is False
    assert await meter.balance("bob") == 500
    assert await meter.debit_for_withdrawal("bob", 200, "w-2") is True
    assert await meter.debit_for_withdrawal("bob", 200, "w-2") is True  # a retry: same outcome
    assert await meter.balance("bob") == 300
    assert (await meter.totals()).withdrawals == 200


async def test_script_reloads_after_script_flush(redis62_url: str) -> None:
    """NOSCRIPT (Redis restarted or flushed) loads the script again. Private server only."""
    c = redis.asyncio.Redis.from_url(redis62_url)
    meter = Meter(c, FEE_BPS, f"test:meter:{uuid.uuid4().hex}:")
    try:
        await fund(meter, "u-v1", 1_000)
        await c.script_flush()
        assert statuses(await meter.charge([charge("v1", 1, 100)])) == ["charged"]
        assert await meter.balance("u-v1") == 900
    finally:
        await delete_prefix(c, meter.prefix)
        await c.aclose()


# --- kill -9 ---------------------------------------------------------------------------------


async def _start_worker(url: str, prefix: str, start: int) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.billing.support.charge_worker",
        url,
        prefix,
        str(start),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    assert await proc.stdout.readline() == b"ready\n"
    return proc


async def _last_seconds(meter: Meter) -> list[int]:
    states = await asyncio.gather(*(meter.view_state(f"v{v}") for v in range(KILL_VIEWS)))
    return [last for last, _ in states]


@pytest.mark.parametrize("any_redis_url", ["main"], indirect=True)
async def test_kill_9_mid_run_keeps_ledger_whole(
    any_redis_url: str, rclient: redis.asyncio.Redis, meter: Meter
) -> None:
    funded = {v: KILL_SECONDS * kill_charge(v, 0).price + v for v in range(KILL_VIEWS)}
    for v, amount in funded.items():
        await fund(meter, f"u{v}", amount)
    rnd = random.Random(99)
    start, kills, torn_seconds = 0, 0, 0
    for _ in range(10):
        proc = await _start_worker(any_redis_url, meter.prefix, start)
        await asyncio.sleep(rnd.uniform(0.05, 0.4))
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        kills += await proc.wait() == -signal.SIGKILL
        lasts = await _last_seconds(meter)
        torn_seconds += len(set(lasts)) > 1  # killed between the chunks of one second
        start = rnd.randint(0, max(max(lasts), 0))  # restart earlier: replays are duplicates
    assert kills == 10, "the worker finished before it was killed: make its run longer"
    assert torn_seconds > 0
    assert min(await _last_seconds(meter)) < KILL_SECONDS - 1
    proc = await _start_worker(any_redis_url, meter.prefix, 0)  # then let one run finish
    assert await asyncio.wait_for(proc.wait(), 120) == 0

    entries = await assert_books_balance(rclient, meter)
    assert {(e.view_id, e.second) for e in entries} == {
        (f"v{v}", s) for v in range(KILL_VIEWS) for s in range(KILL_SECONDS)
    }
    debited: Counter[str] = Counter()
    for e in entries:
        debited[e.viewer_id] += e.amount
    for v, amount in funded.items():
        assert amount - await meter.balance(f"u{v}") == debited[f"u{v}"]
        assert debited[f"u{v}"] == KILL_SECONDS * kill_charge(v, 0).price
        assert await meter.view_ticks(f"v{v}") == KILL_SECONDS
    assert await meter.stream_ticks("s0") == 14 * KILL_SECONDS
