"""Background loops that never leave the process half-alive.

A loop that raises (or returns while it should run) is logged with its traceback, counted, and
started again after a back-off that doubles up to a ceiling and starts over once a run lasted
long enough; it ends only when its stop event is set or its task is cancelled. Every loop the
server and the workers run goes through `supervise` (test_crashed_loop_is_restarted_with_back_off
in tests/signaling/test_supervisor.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

import structlog
from prometheus_client import Counter

logger = structlog.get_logger(__name__)

LOOP_RESTARTS = Counter(
    "vilokanam_loop_restarts_total", "Background loops restarted after a crash", ["loop"]
)
LOOPS_STUCK = Counter(
    "vilokanam_loops_stuck_total", "Background tasks still running when shutdown gave up on them"
)

# How long a stopping loop may take to finish its current step, then again once cancelled.
STOP_GRACE_S = 5.0


async def supervise(
    name: str,
    run: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    *,
    first_backoff_s: float = 1.0,
    max_backoff_s: float = 60.0,
    healthy_after_s: float = 60.0,
) -> None:
    """Run `run()` until `stop` is set, restarting it with back-off whenever it ends."""
    loop = asyncio.get_running_loop()
    backoff = first_backoff_s
    while not stop.is_set():
        started = loop.time()
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("background_loop_crashed", loop=name)
        else:
            if stop.is_set():
                return
            logger.error("background_loop_returned_early", loop=name)
        if loop.time() - started >= healthy_after_s:
            backoff = first_backoff_s
        LOOP_RESTARTS.labels(name).inc()
        logger.warning("background_loop_restarting", loop=name, after_s=backoff)
        try:
            await asyncio.wait_for(stop.wait(), backoff)
        except TimeoutError:
            pass
        backoff = min(backoff * 2, max_backoff_s)


async def every(
    interval_s: float, stop: asyncio.Event, step: Callable[[], Awaitable[object]]
) -> None:
    """Run `step()` now and then every `interval_s` until `stop` is set.

    Stopping waits for the step in progress instead of cancelling it: a query is never cut off
    inside a transaction, and the loop ends even where a library swallowed a cancellation
    (Python 3.11's `asyncio.wait_for`, used by redis-py, can return normally after a cancel).
    """
    while not stop.is_set():
        await step()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


async def finish(tasks: Iterable[asyncio.Task[object]], grace_s: float = STOP_GRACE_S) -> None:
    """Wait for tasks whose stop was requested; cancel those still running after `grace_s`,
    and give up on (log and count) the ones that survive even that, so shutdown never hangs."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    if pending:
        _done, pending = await asyncio.wait(pending, timeout=grace_s)
    for task in pending:
        task.cancel()
    if pending:
        _done, pending = await asyncio.wait(pending, timeout=grace_s)
    for task in pending:
        LOOPS_STUCK.inc()
        logger.error("background_task_stuck_at_shutdown", task=task.get_name())
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            logger.error(
                "background_task_failed_at_shutdown",
                task=task.get_name(),
                error=repr(task.exception()),
            )
