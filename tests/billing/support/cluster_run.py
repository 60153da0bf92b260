"""A `vilokanam run` cluster (WORKERS=2, subprocesses) for money crash tests: its environment,
its nodes as `vilokanam cluster` lists them, and a tail of the ledger stream that keeps every
charge even after settlement trimmed it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from billing.ledger import decode_entry, ledger_key
from tests.billing.support.cluster_money import LedgerView
from tests.billing.support.processes import cli
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[3]


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
    tmp_path: Path, database_url: str, redis_url: str, prefix: str, chain_url: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_URL", "ESCROW_SEED")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=prefix,
        CHAIN_URL=chain_url,
        VILOKANAM_ENV="dev",
        LOG_LEVEL="WARNING",
        WORKERS="2",
        HTTP_PORT=str(free_port()),
        NODE_PORT="0",
        NODE_SECRET="cluster-money-test-credential-" + "m" * 16,
        RTC_HOST_ADDRESSES="127.0.0.1",
        RTC_UDP_PORT=str(free_udp_pair()),
        VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(tmp_path / "media"),
        PYTHONPATH=str(ROOT),
    )
    return env


def living_nodes(env: dict[str, str], without_pid: int = 0) -> list[dict[str, Any]]:
    """Both nodes, node 0 (the first media port: it runs the billing loops) first, once both
    are in the registry and neither is the process `without_pid`; [] until then."""
    result = cli(env, "cluster")
    assert result.returncode == 0, result.stderr
    nodes = json.loads(result.stdout)["nodes"]
    if len(nodes) != 2 or without_pid in {node["pid"] for node in nodes}:
        return []
    return sorted(nodes, key=lambda node: int(node["media_port"]))


async def until(check: Callable[[], Any], within: float = 30.0) -> Any:
    """`check` (blocking: it may run a command) in a thread until true or `within` passed."""
    deadline = time.monotonic() + within
    while True:
        value = await asyncio.to_thread(check)
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.3)


class LedgerTail:
    """Reads every ledger entry as it is added (XREAD, blocked: served at XADD time), so the
    charges stay known after the settlement loop trims what it settled."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.key = ledger_key(prefix)
        self.ledger = LedgerView()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> LedgerView:
        await asyncio.sleep(0.5)  # the last entries
        assert self._task is not None
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
        return self.ledger

    async def _follow(self) -> None:
        last = "0-0"
        while True:
            reply = await self.redis.xread({self.key: last}, block=200)
            for _, entries in reply or ():
                for entry_id, fields in entries:
                    last = entry_id
                    for charge in decode_entry(fields):
                        self.ledger.entries.append(charge)
                        self.ledger.seconds[charge.view_id].append(charge.second)
