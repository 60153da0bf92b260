"""Processes on the hosts of tests/interop/support/hosts.py: `vilokanam node`, `vilokanam`
commands, and test peers (publisher, viewers) whose stdout lines a test waits on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.billing.support.processes import wait_healthy
from tests.interop.support.hosts import Host

HTTP_PORT = 8080  # every host has its own address: the nodes all use the default ports
NODE_SECRET = "multi-host-node-credential-" + "y" * 16


def node_env(
    database_url: str, redis_url: str, prefix: str, host: Host, files: Path
) -> dict[str, str]:
    """A node of the cluster on ``host``: shared services and prefix, the host's own address,
    its files (recordings) under ``files``."""
    env = {k: v for k, v in os.environ.items() if k not in ("CHAIN_URL", "ESCROW_SEED")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=prefix,
        VILOKANAM_ENV="dev",
        LOG_LEVEL="INFO",
        HTTP_HOST=host.address,
        HTTP_PORT=str(HTTP_PORT),
        RTC_HOST_ADDRESSES=host.address,
        ICE_SERVERS="",
        NODE_SECRET=NODE_SECRET,
        MEDIA_ROOT=str(files / host.name / "media"),
        VAR_DIR=str(files / host.name / "var"),
    )
    env.pop("PUBLIC_URL", None)
    return env


@dataclass
class HostNode:
    """`vilokanam node` running on ``host``; its log (stdout and stderr) in ``log``."""

    host: Host
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host.address}:{HTTP_PORT}"

    def kill(self) -> None:
        """kill -9, as a crash or power loss would end it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def log_tail(self) -> str:
        return f"--- node on {self.host.name}:\n" + self.log.read_text(errors="replace")[-3000:]


def start_node(host: Host, env: dict[str, str], logs: Path) -> HostNode:
    log = logs / f"node-{host.name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            host.command(sys.executable, "-m", "vilokanam", "node"),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return HostNode(host, process, log)


async def healthy(node: HostNode) -> str:
    """Wait until the node answers /api/health; the id of the node that answered."""
    health = await asyncio.to_thread(wait_healthy, node.url, node.process, 60, node.log)
    body = json.loads(health["body"])
    assert body["postgres"] == body["redis"] == "ok", body  # reached from this host
    return str(body["node_id"])


def vilokanam(host: Host, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`vilokanam ARGS` run to its end on ``host``, as an operator there would."""
    return subprocess.run(
        host.command(sys.executable, "-m", "vilokanam", *args),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def cluster(host: Host, env: dict[str, str]) -> dict[str, Any]:
    """What `vilokanam cluster` prints, read on ``host``."""
    done = vilokanam(host, env, "cluster")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@dataclass
class Peer:
    """A test peer process on a host (publisher or viewer); ``lines`` is what it printed."""

    name: str
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)

    async def wait_for(
        self, prefix: str, within: float, holds: Callable[[str], bool] = bool
    ) -> str:
        """The next line starting with ``prefix`` (of which ``holds``); fails (with what it
        printed) otherwise."""
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(within):
                while line := (await self.process.stdout.readline()).decode():
                    self.lines.append(line.rstrip())
                    if line.startswith(prefix) and holds(line):
                        return line.rstrip()
        except TimeoutError:
            pass
        raise AssertionError(f"{self.name} never printed {prefix!r}: {self.lines[-12:]}")

    async def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


@dataclass
class Peers:
    """The peers a test started on its hosts (all killed at its end); their stderr in ``log``."""

    log: Path
    started: list[Peer] = field(default_factory=list)

    async def start(self, host: Host, name: str, module: str, *args: str) -> Peer:
        """``python -m tests.<module> ARGS`` on ``host``."""
        with self.log.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *host.command(sys.executable, "-m", f"tests.{module}", *args),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        self.started.append(peer := Peer(name, process))
        return peer

    async def stop(self) -> None:
        for peer in self.started:
            await peer.stop()
