"""A background loop that crashes is restarted with back-off, counted, and stops on request."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from signaling.background import LOOP_RESTARTS, LOOPS_STUCK, every, finish, supervise
from signaling.config import AppConfig
from signaling.runtime import node_liveness
from vilokanam.wiring import create_app


async def test_crashed_loop_is_restarted_with_back_off() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def flaky() -> None:
        starts.append(loop.time())
        if len(starts) <= 3:
            raise TypeError("a bug in one round")  # what used to end the payout loop silently
        await stop.wait()

    before = LOOP_RESTARTS.labels("flaky-test")._value.get()
    task = asyncio.create_task(
        supervise("flaky-test", flaky, stop, first_backoff_s=0.05, max_backoff_s=0.2)
    )
    for _ in range(100):
        if len(starts) == 4:
            break
        await asyncio.sleep(0.02)
    assert len(starts) == 4 and not task.done()  # alive again after three crashes
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2  # doubling, capped
    assert LOOP_RESTARTS.labels("flaky-test")._value.get() - before == 3
    stop.set()
    await asyncio.wait_for(task, 1)


async def test_loop_that_returns_early_is_restarted_and_stop_ends_it() -> None:
    stop = asyncio.Event()
    runs = 0

    async def quits() -> None:
        nonlocal runs
        runs += 1
        if runs == 2:
            stop.set()

    await asyncio.wait_for(supervise("quits-test", quits, stop, first_backoff_s=0.01), 2)
    assert runs == 2


async def _swallowing_step() -> None:
    """A step inside a library that loses a cancellation (Python 3.11's `asyncio.wait_for`
    returns normally when its inner task finished just as the cancel came, as in redis-py)."""
    try:
        await asyncio.sleep(0.2)
    except asyncio.CancelledError:
        pass


async def test_a_periodic_loop_stops_even_where_a_cancellation_is_swallowed() -> None:
    stop = asyncio.Event()
    steps = 0

    async def step() -> None:
        nonlocal steps
        steps += 1
        await _swallowing_step()

    task = asyncio.create_task(every(0.01, stop, step))
    await asyncio.sleep(0.1)
    task.cancel()  # lost inside the step: the loop would go on forever on cancellation alone
    stop.set()
    await finish([task], grace_s=2)
    assert task.done() and steps >= 1


async def test_shutdown_gives_up_on_a_task_that_never_stops() -> None:
    released = False

    async def stubborn() -> None:
        while not released:
            await _swallowing_step()

    task = asyncio.create_task(stubborn(), name="stubborn-test")
    before = LOOPS_STUCK._value.get()
    started = asyncio.get_running_loop().time()
    await finish([task], grace_s=0.3)
    assert asyncio.get_running_loop().time() - started < 2  # returned: shutdown goes on
    assert not task.done() and LOOPS_STUCK._value.get() - before == 1
    released = True  # only so that this test's event loop can close
    await task


async def test_the_server_stops_when_its_sweep_swallows_the_cancellation(
    app_config: AppConfig, redis: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full-suite hang of issue 10: node liveness relied on cancel to end its loop."""
    sweeps = 0
    swept_thrice = asyncio.Event()

    async def sweep(*_args: object) -> None:
        nonlocal sweeps
        sweeps += 1
        if sweeps == 3:
            swept_thrice.set()
        await _swallowing_step()

    monkeypatch.setattr(node_liveness, "SWEEP_EVERY_S", 0.01)
    monkeypatch.setattr(node_liveness, "sweep", sweep)
    server = TestServer(create_app(app_config))
    await server.start_server()
    await asyncio.wait_for(swept_thrice.wait(), 10)
    await asyncio.wait_for(server.close(), 20)  # hung forever before
