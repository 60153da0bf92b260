"""The metering worker test_kill_9_mid_run_keeps_ledger_whole starts and kills -9.

    python -m tests.billing.support.charge_worker REDIS_URL PREFIX START_SECOND

Prints "ready", then charges every view for each second from START_SECOND on.
"""

from __future__ import annotations

import asyncio
import sys

import redis.asyncio

from billing.meter import Charge, Meter
from tests.billing.support.metering import FEE_BPS

KILL_VIEWS, KILL_SECONDS, KILL_CHUNK = 40, 1500, 7


def kill_charge(view: int, second: int) -> Charge:
    return Charge(
        f"v{view}", f"u{view}", f"s{view % 3}", f"c{view % 4}", second, 10**9 + view * 7_919
    )


async def run(url: str, prefix: str, start: int) -> None:
    """Charge seconds start.. for every view, chunked so one second takes several scripts."""
    rclient = redis.asyncio.Redis.from_url(url)
    meter = Meter(rclient, FEE_BPS, prefix, chunk_size=KILL_CHUNK)
    print("ready", flush=True)
    for second in range(start, KILL_SECONDS):
        await meter.charge([kill_charge(v, second) for v in range(KILL_VIEWS)])
    await rclient.aclose()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2], int(sys.argv[3])))
