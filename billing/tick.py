"""The tick service: every wall-clock second, charge the seconds viewers acknowledged receiving.

Money invariants held here (ARCHITECTURE.md "Money"), each with the test that proves it:
  1. A viewer-second is charged only if the sfu delivered media to that viewer in that second
     and the viewer acknowledged it (RTCP receiver reports within the sfu's window): only the
     `seconds` a delivery lists become charges (test_tick_charges_only_acknowledged_seconds);
     a view that ended is still charged for the seconds it acknowledged, and its ViewInfo is
     forgotten only after the sfu's last delivery of it
     (test_tick_charges_a_view_that_ended_and_cuts_a_silent_one,
     test_views_deleted_between_ticks_are_charged_for_the_seconds_they_received,
     test_views_are_charged_their_last_second_when_the_stream_ends); a viewer whose seconds went
     unacknowledged is cut as "silent" (test_frozen_viewer_is_cut_and_not_charged_past_the_window).
  4. A viewer whose balance cannot pay the next second is cut within 2 seconds: each tick cuts
     the subscribers whose charge failed or whose balance left cannot pay the seconds already
     delivered but not yet acknowledged plus the next one
     (test_tick_cuts_viewer_who_cannot_pay_next_second_within_2s).
The sfu is reached only through its public surface: a delivery callable and a cut coroutine;
what a delivery holds is the `Delivery` protocol below, which sfu.Delivery satisfies without
either package importing the other.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from prometheus_client import Counter

from billing.meter import BatchResult, ChargeStatus, Meter, ViewLine

logger = structlog.get_logger(__name__)

TICK_DELAY = 0.05
"""Seconds after a wall-clock second ends before it is charged: lets the last packets count."""


class Delivery(Protocol):
    """What the sfu sent one subscriber since the previous `delivery()` call, as far as
    billing reads it (sfu.Delivery satisfies it; tests/sfu/test_delivery_seam.py checks).

    seconds: unix seconds with media that the viewer acknowledged, increasing, each once;
    pending: seconds sent and not acknowledged yet; unacknowledged: seconds whose window passed
    without acknowledgement; ended: the subscriber is gone and this is its last delivery.
    Read-only properties, so a frozen dataclass fits.
    """

    @property
    def seconds(self) -> tuple[int, ...]: ...
    @property
    def pending(self) -> int: ...
    @property
    def unacknowledged(self) -> int: ...
    @property
    def ended(self) -> bool: ...


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
    counts: dict[ChargeStatus, int] = field(default_factory=lambda: defaultdict(int))
    cut: dict[str, str] = field(default_factory=dict)


@dataclass
class _Charges:
    """A tick's charge lines, with the subscriber and view of each, and who went silent."""

    subs: list[str] = field(default_factory=list)
    views: list[ViewInfo] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    silent: dict[str, str] = field(default_factory=dict)
    unacknowledged: int = 0
    unknown: int = 0


DeliveryFn = Callable[[], Mapping[str, Delivery]]
CutFn = Callable[[str, str], Awaitable[None]]
# Told after each tick which subscribers were charged, with their views and the batch result.
ChargedFn = Callable[[list[str], list[ViewInfo], BatchResult], Awaitable[None]]
# Told which subscribers the sfu reported for the last time: their views may be forgotten.
EndedFn = Callable[[list[str]], None]

_PAID = (ChargeStatus.CHARGED, ChargeStatus.DUPLICATE)  # this second is paid for
_REFUSED = (ChargeStatus.INSUFFICIENT, ChargeStatus.OVERFLOW)  # cut: it could not be paid

VIEWER_SECONDS = Counter(
    "vilokanam_viewer_seconds_total", "Viewer-seconds the tick metered, by outcome", ["status"]
)


def _cut_reasons(
    subscribers: list[str],
    views: list[ViewInfo],
    result: BatchResult,
    pending: Mapping[str, int],
) -> dict[str, str]:
    """Subscribers to cut: a charge failed, or the balance cannot pay what is due next.

    Due next, per viewer: the seconds delivered and not yet acknowledged (they will be charged
    when acknowledged) plus one, at each view's price, summed over the viewer's views.
    """
    statuses = result.statuses()
    need: dict[str, int] = defaultdict(int)
    counted: set[str] = set()
    for sub, view, status in zip(subscribers, views, statuses, strict=True):
        if sub not in counted and status in _PAID:
            counted.add(sub)
            need[view.viewer_id] += view.price * (pending.get(sub, 0) + 1)
    reasons: dict[str, str] = {}
    for sub, view, status, balance in zip(
        subscribers, views, statuses, result.balances, strict=True
    ):
        if status in _REFUSED:
            reasons[sub] = status.value
        elif sub not in reasons and balance < need[view.viewer_id]:
            reasons[sub] = "balance_exhausted"
    return reasons


class TickService:
    """Charges delivered viewer-seconds once per wall-clock second and cuts unpaid viewers.

    `delivery()` returns per-subscriber deliveries since its previous call (the sfu resets
    them); `views` is the mapping subscriber_id -> ViewInfo kept by signaling, which must keep a
    view that ended until `on_ended` names it (its last acknowledged seconds are charged after
    it ended); `cut(subscriber_id, reason)` ends a subscriber's media.
    """

    def __init__(
        self,
        meter: Meter,
        delivery: DeliveryFn,
        views: Mapping[str, ViewInfo],
        cut: CutFn,
        clock: Callable[[], float] = time.time,
        on_charged: ChargedFn | None = None,
        on_ended: EndedFn | None = None,
    ) -> None:
        self._meter = meter
        self._delivery = delivery
        self._views = views
        self._cut = cut
        self._clock = clock
        self._on_charged = on_charged
        self._on_ended = on_ended
        self._lines: dict[str, tuple[ViewInfo, ViewLine]] = {}  # by subscriber id

    def _view_line(self, sub: str, view: ViewInfo) -> ViewLine:
        """The view's reusable charge line, made once per ViewInfo (signaling replaces it)."""
        cached = self._lines.get(sub)
        if cached is None or cached[0] is not view:
            line = self._meter.view_line(
                view.view_id, view.viewer_id, view.stream_id, view.creator_id, view.price
            )
            cached = self._lines[sub] = (view, line)
        return cached[1]

    def _charges(self, deliveries: Mapping[str, Delivery]) -> _Charges:
        """One charge line per acknowledged second of each known view, in the sfu's order."""
        charges = _Charges()
        for sub, delivery in deliveries.items():
            view = self._views.get(sub)
            if view is None:
                charges.unknown += bool(delivery.seconds)  # e.g. an internal subscriber
                continue
            line = self._view_line(sub, view)
            for charged_second in delivery.seconds:
                charges.subs.append(sub)
                charges.views.append(view)
                charges.lines.append(f"{line.head}{charged_second}{line.tail}")
            charges.unacknowledged += delivery.unacknowledged
            if delivery.unacknowledged and not delivery.ended:
                charges.silent[sub] = "silent"
        return charges

    async def tick(self, second: int) -> TickReport:
        """Charge every second the viewers acknowledged since the previous tick, then cut.

        ``second`` is the wall-clock second that just ended (for the report and logs); the
        seconds charged are those the sfu lists, each at most once per view.
        """
        report = TickReport(second)
        deliveries = self._delivery()
        charges = self._charges(deliveries)
        if charges.unknown:
            logger.debug("tick_unbilled_subscribers", count=charges.unknown)
        result = await self._meter.charge_lines(charges.lines)
        report.counts.update(result.counts())
        for status, count in report.counts.items():
            VIEWER_SECONDS.labels(status).inc(count)
        if charges.unacknowledged:  # delivered, never acknowledged: never charged
            VIEWER_SECONDS.labels("unacknowledged").inc(charges.unacknowledged)
        pending = {sub: d.pending for sub, d in deliveries.items()}
        report.cut = {
            **_cut_reasons(charges.subs, charges.views, result, pending),
            **charges.silent,
        }
        if self._on_charged is not None and charges.subs:
            try:  # before cuts, so the last paid second is reported; never in their way
                await self._on_charged(charges.subs, charges.views, result)
            except Exception:
                logger.exception("tick_on_charged_failed", second=second)
        self._forget([sub for sub, d in deliveries.items() if d.ended])
        await self._cut_all({s: r for s, r in report.cut.items() if not deliveries[s].ended})
        log = logger.info if report.cut else logger.debug  # one line a second is noise
        log("tick", second=second, cut=len(report.cut), **report.counts)
        return report

    def _forget(self, ended: list[str]) -> None:
        """The sfu will not report these subscribers again: drop their lines, tell signaling."""
        for sub in ended:
            self._lines.pop(sub, None)
        if ended and self._on_ended is not None:
            self._on_ended(ended)

    async def _cut_all(self, reasons: Mapping[str, str]) -> None:
        outcomes = await asyncio.gather(
            *(self._cut(sub, reason) for sub, reason in reasons.items()), return_exceptions=True
        )
        for sub, outcome in zip(reasons, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                logger.error("tick_cut_failed", subscriber_id=sub, error=repr(outcome))

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Tick just after each wall-clock second ends, charging the second that ended, until
        `stop` is set (cancelling works too, but a library may swallow a cancellation).

        A tick that fails (e.g. Redis unreachable) is logged and its second is not charged: the
        delivery counts it consumed are lost, which only ever undercharges.
        """
        last: int | None = None
        while stop is None or not stop.is_set():
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
