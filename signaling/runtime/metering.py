"""Billing as signaling's ViewPolicy: admit paying viewers, meter every second, cut the unpaid.

Signaling owns the views (who watches which stream at what price); billing's TickService reads
the sfu's delivery counters through the callable handed to it and charges the views known here.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from prometheus_client import Counter

from billing import BatchResult, ChargeStatus, Meter, ViewInfo
from signaling.runtime.viewing import View, ViewRefused

FORGET_AFTER_S = 60.0
"""An ended view the sfu never reported as ended is forgotten after this long."""

CUTS = Counter("vilokanam_viewer_cuts_total", "Viewers cut off by billing", ["reason"])


class MeteredViewing:
    """A ViewPolicy that requires `min_seconds` of balance for a paid stream."""

    def __init__(self, meter: Meter, min_seconds: int) -> None:
        self.meter = meter
        self.min_seconds = min_seconds
        self.views: dict[str, ViewInfo] = {}  # by sfu subscriber id; the TickService reads it
        self.seconds: dict[str, int] = {}  # seconds charged per subscriber, shown to the viewer
        self._ended: dict[str, float] = {}  # ended views not forgotten yet: when they ended

    async def admit(self, viewer_id: uuid.UUID, stream_id: uuid.UUID, price: Decimal) -> None:
        if price <= 0:
            return  # free streams are metered for statistics only
        needed = int(price) * self.min_seconds
        balance = await self.meter.balance(str(viewer_id))
        if balance < needed:
            raise ViewRefused(
                f"this stream costs {int(price)} planck per second; watching needs at least "
                f"{needed} planck ({self.min_seconds} s) of balance and you have {balance}: "
                "add funds to watch"
            )

    async def started(self, view: View) -> None:
        self.views[view.subscriber_id] = ViewInfo(
            view_id=str(view.view_id),
            viewer_id=str(view.viewer_id),
            stream_id=str(view.stream_id),
            creator_id=str(view.creator_id),
            price=int(view.price_per_second),
        )

    async def ended(self, view: View) -> None:
        """Kept in `views` until the tick has charged its last acknowledged seconds (`forget`)."""
        self._ended[view.subscriber_id] = time.monotonic()
        stale = time.monotonic() - FORGET_AFTER_S
        for sub in [s for s, at in self._ended.items() if at < stale]:
            self.forget([sub])  # the sfu never reported it (it never had it): do not leak

    def open_views_of(self, viewer_id: str) -> list[tuple[str, ViewInfo]]:
        """The viewer's paid views here that have not ended, by sfu subscriber id."""
        return [
            (sub, view)
            for sub, view in self.views.items()
            if view.viewer_id == viewer_id and view.price > 0 and sub not in self._ended
        ]

    def forget(self, subscribers: list[str]) -> None:
        """The tick's last word on these subscribers (their sfu sessions are closed)."""
        for sub in subscribers:
            self.views.pop(sub, None)
            self.seconds.pop(sub, None)
            self._ended.pop(sub, None)

    def balance_updates(
        self, subscribers: list[str], views: list[ViewInfo], result: BatchResult
    ) -> list[tuple[ViewInfo, dict[str, Any]]]:
        """After a tick: what each charged viewer's page should show (seconds, balance left).

        One update per view, however many of its seconds the tick charged (a receiver report
        may acknowledge several at once).
        """
        latest: dict[str, tuple[ViewInfo, int]] = {}
        for sub, view, status, balance in zip(
            subscribers, views, result.statuses(), result.balances, strict=True
        ):
            if status is ChargeStatus.CHARGED and sub in self.views:
                self.seconds[sub] = self.seconds.get(sub, 0) + 1
                latest[sub] = (view, balance)
        return [
            (
                view,
                {
                    "type": "balance",
                    "balance": str(balance),
                    "seconds_watched": self.seconds[sub],
                    "price": str(view.price),
                },
            )
            for sub, (view, balance) in latest.items()
        ]
