"""An origin node in a process of its own, for tests that kill it (kill -9, no goodbye).

It publishes the numbered pattern to its own Sfu as stream "s", then answers each relay offer
read from stdin (one JSON string a line) with the answer on stdout (one JSON string a line).
"""

from __future__ import annotations

import asyncio
import json
import sys

import aioice.ice
import structlog

from sfu import IceSettings, Sfu
from tests.sfu.support.peers import start_publisher


async def main() -> None:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout: answers
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # the loopback fixture
    origin = Sfu(IceSettings(("127.0.0.1",), None, (), udp_port=0), keyframe_interval=0.3)
    await start_publisher(origin, "s")
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        _, answer = await origin.subscribe("s", json.loads(line), relay=True)
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
