"""Background loops that never leave the process half-alive.

A loop that raises (or returns while it should run) is logged with its traceback, counted, and
started again after a back-off that doubles up to a ceiling and starts over once a run lasted
long enough; it ends only when its stop event is set or its task is cancelled. Every loop the
server and the workers run goes through `supervise` (test_crashed_loop_is_restarted_with_back_off
in tests/signaling/test_supervisor.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import Counter

logger = structlog.get_logger(__name__)

LOOP_RESTARTS = Counter(
    "vilokanam_loop_restarts_total", "Background loops restarted after a crash", ["loop"]
)


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
            logger.exception("background loop crashed", loop=name)
        else:
            if stop.is_set():
                return
            logger.error("background loop returned while it should run", loop=name)
        if loop.time() - started >= healthy_after_s:
            backoff = first_backoff_s
        LOOP_RESTARTS.labels(name).inc()
        logger.warning("background loop restarts", loop=name, after_s=backoff)
        try:
            await asyncio.wait_for(stop.wait(), backoff)
        except TimeoutError:
            pass
        backoff = min(backoff * 2, max_backoff_s)
