"""The tick service against real Redis: who is charged each second, and who is cut.

A fake of the sfu's public surface stands in for the media; the meter fixtures are in
tests/billing/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
import redis.asyncio
from prometheus_client import REGISTRY

from billing.meter import Meter
from billing.tick import TickReport, TickService, ViewInfo
from sfu.delivery import Delivery  # what the sfu reports; billing reads it as a protocol
from tests.billing.support.metering import fund, ledger


class FakeSfu:
    """A fake of the sfu's public surface: per-interval delivery counters and cut.

    Subscribers with packets acknowledge the second `second` (by default the one that just
    ended), as a viewer whose receiver reports arrive promptly does.
    """

    def __init__(self, packets: dict[str, int]) -> None:
        self.packets = packets
        self.second: int | None = None
        self.cuts: dict[str, tuple[str, float]] = {}
        self._cut = asyncio.Event()

    def delivery(self) -> dict[str, Delivery]:
        second = int(time.time()) - 1 if self.second is None else self.second
        return {
            sub: Delivery(packets=n, bytes=n * 1_200, frames=n // 3, seconds=(second,) if n else ())
            for sub, n in self.packets.items()
            if sub not in self.cuts
        }

    async def tick(self, service: TickService, second: int) -> TickReport:
        """Run one tick in which every subscriber with packets acknowledged `second`."""
        self.second = second
        return await service.tick(second)

    async def cut(self, subscriber_id: str, reason: str) -> None:
        self.cuts[subscriber_id] = (reason, time.time())
        self._cut.set()

    async def wait_for_cuts(self, subscribers: set[str]) -> None:
        """Return once all `subscribers` are cut."""
        while subscribers - self.cuts.keys():
            self._cut.clear()
            await self._cut.wait()


def view_info(sub: str, price: int) -> ViewInfo:
    return ViewInfo(f"view-{sub}", f"user-{sub}", "stream", "creator", price)


@pytest.mark.parametrize("any_redis_url", ["main"], indirect=True)
async def test_tick_charges_only_subscribers_with_packets(
    rclient: redis.asyncio.Redis, meter: Meter
) -> None:
    views = {sub: view_info(sub, 100) for sub in ("a", "b", "c")}
    for sub in views:
        await fund(meter, f"user-{sub}", 1_000)
    sfu = FakeSfu({"a": 30, "b": 0, "recorder": 50})  # c got nothing; recorder is no view
    service = TickService(meter, sfu.delivery, views, sfu.cut)
    report = await sfu.tick(service, 1_700_000_000)
    assert dict(report.counts) == {"charged": 1}
    assert [(e.viewer_id, e.second) for e in await ledger(rclient, meter)] == [
        ("user-a", 1_700_000_000)
    ]
    assert [await meter.balance(f"user-{s}") for s in ("a", "b", "c")] == [900, 1_000, 1_000]
    report = await sfu.tick(service, 1_700_000_000)  # the same second again: not charged twice
    assert dict(report.counts) == {"duplicate": 1}
    assert await meter.balance("user-a") == 900
    assert sfu.cuts == {}


@pytest.mark.parametrize("any_redis_url", ["main"], indirect=True)
async def test_tick_charges_the_price_signaling_holds_now(meter: Meter) -> None:
    """The tick reuses each view's charge line, yet a replaced ViewInfo (new price) is seen."""
    views = {"a": view_info("a", 100)}
    await fund(meter, "user-a", 1_000)
    sfu = FakeSfu({"a": 30})
    service = TickService(meter, sfu.delivery, views, sfu.cut)
    await sfu.tick(service, 1_700_000_000)
    await sfu.tick(service, 1_700_000_001)
    views["a"] = view_info("a", 300)
    await sfu.tick(service, 1_700_000_002)
    assert await meter.balance("user-a") == 1_000 - 100 - 100 - 300
    assert await meter.view_ticks("view-a") == 3


async def test_tick_cuts_every_view_of_a_viewer_who_cannot_pay_them_all(
    rclient: redis.asyncio.Redis, meter: Meter
) -> None:
    """Two views of one viewer: the next second costs both prices, not one."""
    views = {sub: ViewInfo(f"view-{sub}", "user-two", "stream", "creator", 1_000) for sub in "ab"}
    views["other"] = view_info("other", 1_000)
    await fund(meter, "user-two", 3_500)  # pays one second of both, then 1,500 < 2,000
    await fund(meter, "user-other", 3_500)
    sfu = FakeSfu({sub: 40 for sub in views})
    report = await sfu.tick(TickService(meter, sfu.delivery, views, sfu.cut), 1_700_000_000)
    assert dict(report.counts) == {"charged": 3}
    assert report.cut == {"a": "balance_exhausted", "b": "balance_exhausted"}
    assert set(sfu.cuts) == {"a", "b"}
    assert await meter.balance("user-two") == 1_500


@pytest.mark.parametrize("any_redis_url", ["main"], indirect=True)
async def test_tick_cuts_viewer_who_cannot_pay_next_second_within_2s(
    rclient: redis.asyncio.Redis, meter: Meter
) -> None:
    price = 1_000
    views = {
        "rich": view_info("rich", price),
        "poor": view_info("poor", price),  # can pay 2.5 seconds
        "broke": view_info("broke", price),
        "free": view_info("free", 0),
    }
    await fund(meter, "user-rich", 100 * price)
    await fund(meter, "user-poor", 2 * price + price // 2)
    sfu = FakeSfu({sub: 50 for sub in views})
    service = TickService(meter, sfu.delivery, views, sfu.cut)
    started = time.time()
    task = asyncio.create_task(service.run())
    try:
        with contextlib.suppress(TimeoutError):  # the asserts below say who was not cut
            async with asyncio.timeout(8):
                await sfu.wait_for_cuts({"poor", "broke"})
    finally:
        task.cancel()
    assert {sub: reason for sub, (reason, _) in sfu.cuts.items()} == {
        "poor": "balance_exhausted",
        "broke": "insufficient",
    }
    entries = await ledger(rclient, meter)
    poor_seconds = [e.second for e in entries if e.viewer_id == "user-poor"]
    assert len(poor_seconds) == 2 and await meter.balance("user-poor") == price // 2
    # Out of money from the end of its last paid second; broke from the start.
    assert sfu.cuts["poor"][1] - (poor_seconds[-1] + 1) <= 2.0
    assert sfu.cuts["broke"][1] - started <= 2.0
    assert not [e for e in entries if e.viewer_id == "user-broke"]
    assert {e.viewer_id for e in entries} >= {"user-rich", "user-free"}


async def test_tick_charges_only_acknowledged_seconds(meter: Meter) -> None:
    """Invariant 1: media sent is not enough; each second the viewer acknowledged, once."""
    views = {sub: view_info(sub, 100) for sub in ("acked", "unacked", "late")}
    for sub in views:
        await fund(meter, f"user-{sub}", 10_000)
    deliveries = {
        "acked": Delivery(40, 48_000, 30, seconds=(1_700_000_000, 1_700_000_001)),
        "unacked": Delivery(40, 48_000, 30, pending=2),  # sent, no report yet
        "late": Delivery(0, 0, 0, seconds=(1_700_000_000,)),  # a report for an earlier second
    }
    cuts: list[str] = []

    async def cut(sub: str, reason: str) -> None:
        cuts.append(sub)

    service = TickService(meter, lambda: deliveries, views, cut)
    report = await service.tick(1_700_000_001)
    assert dict(report.counts) == {"charged": 3}
    assert [await meter.view_ticks(f"view-{s}") for s in views] == [2, 0, 1]
    assert [await meter.balance(f"user-{s}") for s in views] == [9_800, 10_000, 9_900]
    assert cuts == []


async def test_tick_cuts_who_cannot_pay_the_seconds_awaiting_acknowledgement(
    meter: Meter,
) -> None:
    """Invariant 4: seconds delivered but not acknowledged yet are owed too."""
    views = {sub: view_info(sub, 100) for sub in ("owes", "fine")}
    for sub in views:
        await fund(meter, f"user-{sub}", 400)
    deliveries = {
        "owes": Delivery(40, 48_000, 30, seconds=(1_700_000_000,), pending=3),  # 300 left < 400
        "fine": Delivery(40, 48_000, 30, seconds=(1_700_000_000,), pending=2),  # 300 = 300
    }
    cuts: dict[str, str] = {}

    async def cut(sub: str, reason: str) -> None:
        cuts[sub] = reason

    report = await TickService(meter, lambda: deliveries, views, cut).tick(1_700_000_000)
    assert report.cut == cuts == {"owes": "balance_exhausted"}


async def test_tick_charges_a_view_that_ended_and_cuts_a_silent_one(meter: Meter) -> None:
    """An ended view is charged for what it acknowledged, then forgotten; a silent one is cut."""
    views = {sub: view_info(sub, 100) for sub in ("ended", "silent")}
    for sub in views:
        await fund(meter, f"user-{sub}", 10_000)
    deliveries = {
        "ended": Delivery(0, 0, 0, seconds=(1_700_000_000,), unacknowledged=1, ended=True),
        "silent": Delivery(40, 48_000, 30, pending=3, unacknowledged=1),
    }
    cuts: dict[str, str] = {}
    forgotten: list[str] = []

    async def cut(sub: str, reason: str) -> None:
        cuts[sub] = reason

    def unacknowledged() -> float:  # what an operator sees on /metrics
        return (
            REGISTRY.get_sample_value(
                "vilokanam_viewer_seconds_total", {"status": "unacknowledged"}
            )
            or 0.0
        )

    before = unacknowledged()
    service = TickService(meter, lambda: deliveries, views, cut, on_ended=forgotten.extend)
    report = await service.tick(1_700_000_001)
    assert unacknowledged() - before == 2
    assert dict(report.counts) == {"charged": 1}
    assert await meter.view_ticks("view-ended") == 1
    assert await meter.balance("user-ended") == 9_900
    assert await meter.view_ticks("view-silent") == 0
    assert cuts == {"silent": "silent"}  # the ended one is gone already: nothing to cut
    assert forgotten == ["ended"]
