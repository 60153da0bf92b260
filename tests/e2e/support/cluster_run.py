"""`vilokanam run` with WORKERS=2 as a subprocess for browser tests, and a WHIP publisher in a
process of its own (tests/interop/support/publisher_process.py) that can be told to publish
again elsewhere, as OBS does."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support import cluster_run
from tests.support.cluster_run import ROOT, shared_url, vilokanam_run
from tests.support.cluster_run import cluster_async as cluster

__all__ = ["Publisher", "cluster", "run_env", "shared_url", "until", "vilokanam_run"]

NODE_SECRET = "failover-test-node-credential-" + "f" * 16


def run_env(
    database_url: str, redis_url: str, prefix: str, chain_url: str, var: Path
) -> dict[str, str]:
    return cluster_run.run_env(
        database_url=database_url,
        redis_url=redis_url,
        prefix=prefix,
        chain_url=chain_url,
        node_secret=NODE_SECRET,
        var=var,
        LOG_LEVEL="INFO",
        HTTP_HOST="127.0.0.1",
        ICE_SERVERS="",
        VOD_WORKER="false",
        RECORDING="false",
    )


async def until(check: Callable[[], Any], within: float = 30.0, every: float = 0.2) -> Any:
    """The first truthy value of (async) `check()`, or its last value after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(every)


class Publisher:
    """tests/interop/support/publisher_process.py on 127.0.0.1: `publish(base)` drops its
    connection and WHIPs again to `base`."""

    def __init__(self, stream_id: str, key: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.interop.support.publisher_process"]
            + ["127.0.0.1", stream_id, key],
            env={**env, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    async def publish(self, base: str, retry_s: float = 0.0) -> float:
        """WHIP to `base`, again every second while refused, for up to `retry_s` seconds (as OBS
        retries): the seconds it took."""
        started = time.monotonic()
        while not await self._publish_once(base):
            assert time.monotonic() - started < retry_s, f"WHIP to {base} refused"
            await asyncio.sleep(1)
        return time.monotonic() - started

    async def _publish_once(self, base: str) -> bool:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(base + "\n")
        self.proc.stdin.flush()
        while True:
            line = await asyncio.to_thread(self.proc.stdout.readline)
            assert line, "the publisher exited"
            if line.startswith("published "):
                return True
            if line.startswith("refused "):
                print(f"publisher: {line.strip()}")
                return False

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
