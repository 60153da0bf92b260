"""Cut-offs across nodes: a viewer whose balance ran out is cut on every node holding a view of
theirs, not only where a tick found it out (ARCHITECTURE "Money" 4, issue 12: within 2 s).

A tick checks a viewer's balance only when it charges one of their views, and a view is charged
when its receiver report comes (every 0.5-1.5 s with aiortc). A view of the same account on
another node, or on this node without a report this second, would run on unpaid until its own
next charge. So a tick that cuts a view for money announces the viewer on `{p}billing:cutoffs`;
every node (this one too) then cuts its paid views of that viewer if the balance left cannot
pay their next second.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter
from redis.exceptions import RedisError

from signaling.cluster.subscription import Subscription
from signaling.runtime.metering import MeteredViewing

logger = structlog.get_logger(__name__)

MONEY_REASONS = frozenset({"insufficient", "balance_exhausted"})
"""Cut reasons that mean the viewer's balance ran out (and not, say, a silent viewer)."""
REASON = "balance_exhausted"

CUTOFFS = Counter(
    "vilokanam_cutoff_announcements_total",
    "Viewers announced to every node as out of balance, by outcome (sent, heard, cut)",
    ["outcome"],
)

CutFn = Callable[[str, str], Awaitable[object]]


class Cutoffs:
    """Announces viewers out of balance and cuts this node's views of those it hears of."""

    def __init__(
        self, redis: aioredis.Redis, prefix: str, viewing: MeteredViewing, cut: CutFn
    ) -> None:
        self.redis = redis
        self.channel = f"{prefix}billing:cutoffs"
        self.viewing = viewing
        self._cut = cut
        self._subscription = Subscription(redis, self.channel, self._heard, "billing_cutoffs")

    async def announce(self, viewer_id: str) -> None:
        try:
            await self.redis.publish(self.channel, viewer_id)
            CUTOFFS.labels("sent").inc()
        except (RedisError, OSError) as exc:  # each node's own next charge still cuts
            logger.warning("billing_cutoff_announce_failed", error=str(exc))

    async def start(self) -> None:
        await self._subscription.start()

    async def close(self) -> None:
        await self._subscription.close()

    async def _heard(self, data: bytes) -> None:
        CUTOFFS.labels("heard").inc()
        try:
            await self.check(data.decode())
        except Exception:  # one failed check (Redis, PostgreSQL) never ends the listener
            logger.exception("billing_cutoff_check_failed")

    async def check(self, viewer_id: str) -> None:
        """Cut this node's paid views of the viewer if the balance cannot pay their next second."""
        views = self.viewing.open_views_of(viewer_id)
        due = sum(view.price for _, view in views)
        if not views or await self.viewing.meter.balance(viewer_id) >= due:
            return
        for sub, _ in views:
            CUTOFFS.labels("cut").inc()
            await self._cut(sub, REASON)
