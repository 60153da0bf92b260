"""The tick service: every wall-clock second, charge the viewers the sfu delivered media to.

Money invariants held here (ARCHITECTURE.md "Money"), each with the test that proves it:
  1. A viewer-second is charged only if the sfu delivered media to that viewer in that second:
     only subscribers with packets > 0 become charges
     (test_tick_charges_only_subscribers_with_packets).
  4. A viewer whose balance cannot pay the next second is cut within 2 seconds: each tick cuts
     the subscribers whose charge failed or whose balance left is below what their views cost
     per second (test_tick_cuts_viewer_who_cannot_pay_next_second_within_2s).
The sfu is reached only through its public surface: a delivery callable and a cut coroutine.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import structlog
from prometheus_client import Counter

from billing.meter import STATUS_BY_CODE, BatchResult, Meter, ViewLine

logger = structlog.get_logger(__name__)

TICK_DELAY = 0.05
"""Seconds after a wall-clock second ends before it is charged: lets the last packets count."""


@dataclass(frozen=True)
class Delivery:
    """What the sfu sent one subscriber since the previous `delivery()` call."""

    packets: int
    bytes: int
    frames: int


@dataclass(frozen=True)
class ViewInfo:
    """Who pays whom, and how much per second, for one subscriber."""

    view_id: str
    viewer_id: str
    stream_id: str
    creator_id: str
    price: int


@dataclass
class TickReport:
    """What one tick did: result counts by status and the subscribers it cut, with reasons."""

    second: int
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cut: dict[str, str] = field(default_factory=dict)


DeliveryFn = Callable[[], Mapping[str, Delivery]]
CutFn = Callable[[str, str], Awaitable[None]]
# Told after each tick which subscribers were charged, with their views and the batch result.
ChargedFn = Callable[[list[str], list[ViewInfo], BatchResult], Awaitable[None]]

VIEWER_SECONDS = Counter(
    "vilokanam_viewer_seconds_total", "Viewer-seconds the tick metered, by outcome", ["status"]
)


def _cut_reasons(
    subscribers: list[str], views: list[ViewInfo], result: BatchResult
) -> dict[str, str]:
    """Subscribers to cut: their charge failed, or their viewer cannot pay the next second.

    A viewer may watch several views at once; the next second costs the sum of their prices.
    """
    viewers = [view.viewer_id for view in views]
    if len(set(viewers)) == len(viewers):  # the usual tick: one view per viewer
        need = [view.price for view in views]
    else:
        by_viewer: dict[str, int] = defaultdict(int)
        for view, code in zip(views, result.codes, strict=True):
            if STATUS_BY_CODE[code] in ("charged", "duplicate"):
                by_viewer[view.viewer_id] += view.price
        need = [by_viewer[viewer] for viewer in viewers]
    reasons: dict[str, str] = {}
    for sub, code, balance, cost in zip(
        subscribers, result.codes, result.balances, need, strict=True
    ):
        status = STATUS_BY_CODE[code]
        if status in ("insufficient", "overflow"):
            reasons[sub] = status
        elif balance < cost:
            reasons[sub] = "balance_exhausted"
    return reasons


class TickService:
    """Charges delivered viewer-seconds once per wall-clock second and cuts unpaid viewers.

    `delivery()` returns per-subscriber counts since its previous call (the sfu resets them);
    `views` is the live mapping subscriber_id -> ViewInfo kept by signaling; `cut(subscriber_id,
    reason)` ends a subscriber's media.
    """

    def __init__(
        self,
        meter: Meter,
        delivery: DeliveryFn,
        views: Mapping[str, ViewInfo],
        cut: CutFn,
        clock: Callable[[], float] = time.time,
        on_charged: ChargedFn | None = None,
    ) -> None:
        self._meter = meter
        self._delivery = delivery
        self._views = views
        self._cut = cut
        self._clock = clock
        self._on_charged = on_charged
        self._lines: dict[str, tuple[ViewInfo, ViewLine]] = {}  # by subscriber id

    def _view_lines(self, subscribers: list[str], views: list[ViewInfo]) -> list[ViewLine]:
        """Each view's reusable charge line, made once per ViewInfo (signaling replaces it)."""
        lines = self._lines
        if len(lines) > 2 * len(self._views) + 1_000:  # forget views that ended
            self._lines = lines = {s: lines[s] for s in self._views if s in lines}
        found = []
        for sub, view in zip(subscribers, views, strict=True):
            cached = lines.get(sub)
            if cached is None or cached[0] is not view:
                line = self._meter.view_line(
                    view.view_id, view.viewer_id, view.stream_id, view.creator_id, view.price
                )
                cached = lines[sub] = (view, line)
            found.append(cached[1])
        return found

    async def tick(self, second: int) -> TickReport:
        """Charge `second` (unix time) for every subscriber with packets delivered, then cut."""
        report = TickReport(second)
        subscribers = [s for s, d in self._delivery().items() if d.packets > 0]
        known = [s for s in subscribers if s in self._views]
        if len(known) != len(subscribers):
            # e.g. the recorder's internal subscriber: it pays nothing and is not cut.
            logger.debug("tick_unbilled_subscribers", count=len(subscribers) - len(known))
        views = [self._views[s] for s in known]
        result = await self._meter.charge_second(self._view_lines(known, views), second)
        report.counts.update(result.counts())
        for status, count in report.counts.items():
            VIEWER_SECONDS.labels(status).inc(count)
        report.cut = _cut_reasons(known, views, result)
        if self._on_charged is not None and known:
            try:  # before cuts, so the last paid second is reported; never in their way
                await self._on_charged(known, views, result)
            except Exception:
                logger.exception("tick_on_charged_failed", second=second)
        await self._cut_all(report.cut)
        log = logger.info if report.cut else logger.debug  # one line a second is noise
        log("tick", second=second, cut=len(report.cut), **report.counts)
        return report

    async def _cut_all(self, reasons: Mapping[str, str]) -> None:
        outcomes = await asyncio.gather(
            *(self._cut(sub, reason) for sub, reason in reasons.items()), return_exceptions=True
        )
        for sub, outcome in zip(reasons, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                logger.error("tick_cut_failed", subscriber_id=sub, error=repr(outcome))

    async def run(self) -> None:
        """Tick forever, just after each wall-clock second ends, charging the second that ended.

        A tick that fails (e.g. Redis unreachable) is logged and its second is not charged: the
        delivery counts it consumed are lost, which only ever undercharges.
        """
        last: int | None = None
        while True:
            now = self._clock()
            await asyncio.sleep(math.floor(now) + 1 + TICK_DELAY - now)
            second = math.floor(self._clock()) - 1
            if last is not None and second <= last:
                continue  # woke early (wall clock stepped back): never charge a second twice
            if last is not None and second > last + 1:
                logger.warning("tick_seconds_skipped", since=last, second=second)
            last = second
            try:
                await self.tick(second)
            except Exception:
                logger.exception("tick_failed", second=second)
