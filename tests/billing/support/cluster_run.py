"""A `vilokanam run` cluster (WORKERS=2, subprocesses) for money crash tests: its environment,
its nodes as `vilokanam cluster` lists them, and a tail of the ledger stream that keeps every
charge even after settlement trimmed it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from billing.ledger import decode_entry, ledger_key
from tests.billing.support.cluster_money import LedgerView
from tests.support import cluster_run


def run_env(
    tmp_path: Path, database_url: str, redis_url: str, prefix: str, chain_url: str
) -> dict[str, str]:
    return cluster_run.run_env(
        database_url=database_url,
        redis_url=redis_url,
        prefix=prefix,
        chain_url=chain_url,
        node_secret="cluster-money-test-credential-" + "m" * 16,
        var=tmp_path,
        LOG_LEVEL="WARNING",
    )


def living_nodes(env: dict[str, str], without_pid: int = 0) -> list[dict[str, Any]]:
    """Both nodes, node 0 (the first media port: it runs the billing loops) first, once both
    are in the registry and neither is the process `without_pid`; [] until then."""
    nodes = cluster_run.two_living_nodes(env, without_pid)
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
