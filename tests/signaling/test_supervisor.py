"""A background loop that crashes is restarted with back-off, counted, and stops on request."""

from __future__ import annotations

import asyncio

from signaling.runtime.supervisor import LOOP_RESTARTS, supervise


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
    task = asyncio.create_task(supervise("flaky-test", flaky, stop, first_backoff_s=0.05,
                                         max_backoff_s=0.2))
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
