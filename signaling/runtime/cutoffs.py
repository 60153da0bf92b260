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

import asyncio
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter
from redis.exceptions import RedisError

from signaling.background import finish
from signaling.runtime.metering import MeteredViewing

logger = structlog.get_logger(__name__)

MONEY_REASONS = frozenset({"insufficient", "balance_exhausted"})
"""Cut reasons that mean the viewer's balance ran out (and not, say, a silent viewer)."""
REASON = "balance_exhausted"
_POLL_S = 1.0
_RETRY_S = 1.0

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
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._listener: asyncio.Task[None] | None = None
        self._closed = False

    async def announce(self, viewer_id: str) -> None:
        try:
            await self.redis.publish(self.channel, viewer_id)
            CUTOFFS.labels("sent").inc()
        except (RedisError, OSError) as exc:  # each node's own next charge still cuts
            logger.warning("billing_cutoff_announce_failed", error=str(exc))

    async def start(self) -> None:
        await self._pubsub.subscribe(self.channel)
        self._listener = asyncio.create_task(self._listen())

    async def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            await finish([self._listener])
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    async def _listen(self) -> None:
        while not self._closed:
            try:
                message = await self._pubsub.get_message(timeout=_POLL_S)
            except (RedisError, OSError) as exc:
                logger.warning("billing_cutoffs_subscription_lost", error=str(exc))
                await asyncio.sleep(_RETRY_S)
                continue
            if message is not None and message["type"] == "message":
                CUTOFFS.labels("heard").inc()
                try:
                    await self.check(message["data"].decode())
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
