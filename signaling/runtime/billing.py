"""Billing inside the server: the meter, the per-second tick, settlement, deposits, payouts.

Opened and closed with the app (cleanup_ctx), after the media context (it meters the views of
app[LIVE]) and the realtime context (it tells viewers through app[EVENTS]). The chain-facing
loops run only when the server has a chain (`chain_url`); without one, viewing and metering
still work from Redis balances. A view cut for money is announced to every node
(signaling/runtime/cutoffs.py), which cut their views of that account too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web
from substrateinterface import Keypair

from billing import (
    BatchResult,
    ChainClient,
    Meter,
    PayoutPolicy,
    Payouts,
    Settlement,
    TickService,
    ViewInfo,
    chain_loops,
)
from signaling.background import finish, supervise
from signaling.config import AppConfig
from signaling.keys import BILLING, CONFIG, EVENTS, LIVE, PG, REDIS
from signaling.runtime.cutoffs import MONEY_REASONS, Cutoffs
from signaling.runtime.metering import CUTS, MeteredViewing

logger = structlog.get_logger(__name__)


@dataclass
class BillingRuntime:
    meter: Meter
    viewing: MeteredViewing
    chain: ChainClient | None = None
    escrow: Keypair | None = None
    payouts: Payouts | None = None
    existential_deposit: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> None:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # e.g. a withdrawal's first drive: the payout loop takes it again later; logged
            # here, never "Task exception was never retrieved"
            logger.warning("billing_runtime_task_failed", error=repr(task.exception()))

    def spawn_loop(self, name: str, run: Callable[[], Awaitable[object]]) -> None:
        """A background loop, restarted with back-off if it crashes, until close()."""
        self.spawn(supervise(name, run, self.stop), name=f"loop:{name}")

    async def close(self) -> None:
        """Loops end at their next stop check; one-off tasks (a withdrawal's first drive) are
        cancelled at once: the payout loop takes their work up again."""
        self.stop.set()
        for task in self.tasks:
            if not task.get_name().startswith("loop:"):
                task.cancel()
        await finish(self.tasks)
        if self.chain is not None:
            await self.chain.close()


async def billing_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    live = app[LIVE]
    meter = Meter(app[REDIS], config.billing.platform_fee_bps, config.server.redis_prefix)
    runtime = BillingRuntime(meter, MeteredViewing(meter, config.billing.min_view_seconds))
    live.policy = runtime.viewing
    app[BILLING] = runtime

    async def end(subscriber_id: str, reason: str) -> str | None:
        """Cut one view here and tell its viewer; the viewer's id if it was open."""
        view = await live.cut(subscriber_id, reason)
        if view is None:
            return None
        CUTS.labels(reason).inc()
        await _tell_viewer(app, view, {"type": "cut", "reason": reason})
        return str(view.viewer_id)

    cutoffs = Cutoffs(app[REDIS], config.server.redis_prefix, runtime.viewing, end)
    await cutoffs.start()

    async def cut(subscriber_id: str, reason: str) -> None:
        viewer_id = await end(subscriber_id, reason)
        if viewer_id is not None and reason in MONEY_REASONS:  # their views on other nodes too
            await cutoffs.announce(viewer_id)

    async def charged(subscribers: list[str], views: list[ViewInfo], result: BatchResult) -> None:
        updates = runtime.viewing.balance_updates(subscribers, views, result)
        if updates:  # one Redis round trip for every viewer charged this second
            await app[EVENTS].to_viewers(
                [(view.stream_id, view.viewer_id, payload) for view, payload in updates]
            )

    tick = TickService(
        meter,
        live.sfu.take_delivery,
        runtime.viewing.views,
        cut,
        on_charged=charged,
        on_ended=runtime.viewing.forget,
    )
    runtime.spawn_loop("tick", lambda: tick.run(runtime.stop))
    if _runs(config, "settlement"):
        settlement = Settlement(app[REDIS], app[PG], config.server.redis_prefix)
        runtime.spawn_loop("settlement", lambda: settlement.run(runtime.stop))
    if config.chain_url:
        await _connect_chain(app, runtime, config.chain_url)
    yield
    await runtime.close()
    await cutoffs.close()


async def _connect_chain(app: web.Application, runtime: BillingRuntime, chain_url: str) -> None:
    config = app[CONFIG]
    if not config.escrow_seed:
        raise RuntimeError("a chain is configured but no escrow seed")
    runtime.chain = await ChainClient.connect(chain_url)
    runtime.existential_deposit = await runtime.chain.existential_deposit()
    policy = PayoutPolicy(
        config.billing.payout_threshold,
        config.billing.payout_min_interval_s,
        config.billing.payout_max_fee_bps,
    )
    loops = await chain_loops(
        runtime.chain,
        app[PG],
        runtime.meter,
        config.escrow_seed,
        policy,
        app[REDIS],
        config.billing.payout_lease_s,
    )
    runtime.escrow, runtime.payouts = loops.escrow, loops.payouts
    if _runs(config, "deposits"):
        runtime.spawn_loop("deposits", lambda: loops.deposits.run(runtime.stop))
    if _runs(config, "payouts"):
        runtime.spawn_loop(
            "payouts", lambda: loops.payouts.run(runtime.stop, config.billing.payout_interval_s)
        )
    logger.info("billing_runtime_chain_connected", escrow=runtime.escrow.ss58_address)


def _runs(config: AppConfig, loop: str) -> bool:
    """Whether this process runs one of the billing loops (BILLING_WORKERS)."""
    return loop in config.billing.billing_workers


async def _tell_viewer(app: web.Application, view: Any, payload: dict[str, Any]) -> None:
    try:
        await app[EVENTS].to_viewer(view.stream_id, view.viewer_id, payload)
    except Exception:  # noqa: BLE001 - telling the viewer must never break a cut
        logger.warning("billing_runtime_viewer_notify_failed", viewer_id=str(view.viewer_id))
