"""`vilokanam run` with WORKERS=2 as a subprocess for browser tests, and a WHIP publisher in a
process of its own (tests/interop/support/publisher_process.py) that can be told to publish
again elsewhere, as OBS does."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.billing.support.processes import cli, wait_healthy
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
NODE_SECRET = "failover-test-node-credential-" + "f" * 16


def free_udp_pair() -> int:
    """A UDP port p on 127.0.0.1 with p + 1 free too (node 0 and node 1's media ports)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise AssertionError("no two consecutive free UDP ports")


def run_env(
    database_url: str, redis_url: str, prefix: str, chain_url: str, var: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_URL", "ESCROW_SEED")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=prefix,
        CHAIN_URL=chain_url,  # given: `vilokanam run` starts no chain of its own
        VILOKANAM_ENV="dev",
        LOG_LEVEL="INFO",
        WORKERS="2",
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(free_port()),
        NODE_PORT="0",
        NODE_SECRET=NODE_SECRET,
        RTC_HOST_ADDRESSES="127.0.0.1",
        ICE_SERVERS="",
        RTC_UDP_PORT=str(free_udp_pair()),
        VOD_WORKER="false",
        RECORDING="false",
        VAR_DIR=str(var / "var"),
        MEDIA_ROOT=str(var / "media"),
        PYTHONPATH=str(ROOT),
    )
    return env


@contextmanager
def vilokanam_run(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vilokanam", "run"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(shared_url(env), proc, log=log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def shared_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['HTTP_PORT']}"


async def cluster(env: dict[str, str]) -> dict[str, Any]:
    """`vilokanam cluster`: living nodes (pid, internal_url, viewers…) and streams."""
    result = await asyncio.to_thread(cli, env, "cluster")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


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
