"""`vilokanam run` with WORKERS=2 as a subprocess for tests: its environment (free HTTP and media
ports), the supervisor process until it answers, and its nodes as `vilokanam cluster` lists them.

Used by tests/vilokanam/test_cluster_run.py, tests/vilokanam/test_cluster_media.py,
tests/billing/support/cluster_run.py and tests/e2e/support/cluster_run.py."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.billing.support.processes import cli, wait_healthy
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


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
    *,
    database_url: str,
    redis_url: str,
    prefix: str,
    chain_url: str,
    node_secret: str,
    var: Path,
    **extra: str,
) -> dict[str, str]:
    """The environment of a dev `vilokanam run` with two nodes on a free HTTP port and two
    consecutive free media ports, its files under `var`; `extra` settings added or overriding.
    A chain is given (CHAIN_URL): `vilokanam run` starts none of its own."""
    env = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_URL", "ESCROW_SEED")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=prefix,
        CHAIN_URL=chain_url,
        VILOKANAM_ENV="dev",
        WORKERS="2",
        HTTP_PORT=str(free_port()),
        NODE_PORT="0",
        NODE_SECRET=node_secret,
        RTC_HOST_ADDRESSES="127.0.0.1",
        RTC_UDP_PORT=str(free_udp_pair()),
        VAR_DIR=str(var / "var"),
        MEDIA_ROOT=str(var / "media"),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def shared_url(env: dict[str, str]) -> str:
    """The HTTP port both nodes share."""
    return f"http://127.0.0.1:{env['HTTP_PORT']}"


@contextmanager
def vilokanam_run(
    env: dict[str, str], log: Path, terminate_s: float | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`vilokanam run` (output to `log`) once it answers on the shared port. Afterwards it is
    killed -9 if still running, or, given `terminate_s`, sent SIGTERM and given that long first."""
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
        if terminate_s is not None:
            proc.terminate()
            try:
                proc.wait(terminate_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        elif proc.poll() is None:
            proc.kill()
            proc.wait(10)


def cluster(env: dict[str, str]) -> dict[str, Any]:
    """`vilokanam cluster` (blocking): living nodes (pid, internal_url, media_port…) and streams."""
    result = cli(env, "cluster")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


async def cluster_async(env: dict[str, str]) -> dict[str, Any]:
    """`vilokanam cluster` in a thread, not blocking the event loop."""
    return await asyncio.to_thread(cluster, env)


def two_living_nodes(env: dict[str, str], without_pid: int = 0) -> list[dict[str, Any]]:
    """Both nodes, in registry order, once both are in the registry and neither is the process
    `without_pid`; [] until then."""
    nodes = cluster(env)["nodes"]
    if len(nodes) != 2 or without_pid in {node["pid"] for node in nodes}:
        return []
    return nodes  # type: ignore[no-any-return]
