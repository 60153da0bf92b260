"""`vilokanam run`: one machine's cluster, supervised.

It starts what is missing locally (embedded PostgreSQL, Redis, dev chain), migrates once, then
runs WORKERS node processes (`vilokanam node`) on the one HTTP port and, in dev, one
`vilokanam worker vod` process, so transcoding never takes a node's CPU. A child that exits
while the supervisor runs is restarted with a back-off, whatever its exit code: a node an
operator stopped alone with SIGTERM (drained, exit 0) comes back too; SIGINT/SIGTERM to the
supervisor stop every child, then the embedded services.

What each node gets differently (node k): NODE_PORT + k and RTC_UDP_PORT + k (its own listener
and media port, unless 0: any free port), METRICS_ADDRESS's port + k, and the billing loops
(BILLING_WORKERS on node 0 only: settlement, deposits and payouts are single-owner jobs).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import structlog

from vilokanam.migrate import migrate
from vilokanam.server import ServiceUrls, announce, local_services
from vilokanam.settings import Settings
from vilokanam.signals import stop_on_signals

logger = structlog.get_logger(__name__)

RESTART_FIRST_S = 0.5  # back-off before the first restart, doubled per quick death
RESTART_MAX_S = 10.0
HEALTHY_S = 60.0  # a child that ran this long starts over at RESTART_FIRST_S
STOP_GRACE_S = 30.0  # SIGTERM, then SIGKILL after this long (a VOD worker stops within 30 s)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass
class Child:
    """One supervised process: a node (index k) or the VOD worker (index None)."""

    role: str  # "node" or "vod"
    index: int | None
    args: tuple[str, ...]
    env: dict[str, str]
    proc: asyncio.subprocess.Process | None = None


async def run_cluster(settings: Settings) -> None:
    """`vilokanam run` until SIGINT/SIGTERM."""
    async with AsyncExitStack() as stack:
        urls = await local_services(settings, stack)
        applied = await migrate(urls.database_url)
        logger.info("server_database_ready", migrations_applied=len(applied))
        stop = stop_on_signals()
        children = plan(settings, urls, settings.cluster.node_secret or secrets.token_urlsafe(32))
        keepers = [asyncio.create_task(keep_running(child, stop)) for child in children]
        logger.info("cluster_started", nodes=sum(c.role == "node" for c in children))
        announcer = asyncio.create_task(_announce_when_serving(settings, urls))
        await stop.wait()
        announcer.cancel()
        logger.info("server_shutting_down")
        await asyncio.gather(*keepers)
        await stop_all(children)


async def _announce_when_serving(settings: Settings, urls: ServiceUrls) -> None:
    """Print where the run serves once a node accepts connections on the shared port."""
    while True:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection(
                settings.server.http_host, settings.server.http_port
            )
            writer.close()
            break
        await asyncio.sleep(0.2)
    announce(settings, urls)


def plan(settings: Settings, urls: ServiceUrls, node_secret: str) -> list[Child]:
    """The children of this run: WORKERS nodes, plus the VOD worker when it runs here."""
    shared = {k: v for k, v in os.environ.items() if k not in ("CHAIN_URL", "NODE_SECRET")}
    shared.update(DATABASE_URL=urls.database_url, REDIS_URL=urls.redis_url)
    if urls.chain_url:
        shared["CHAIN_URL"] = urls.chain_url
    workers = settings.cluster.workers or os.cpu_count() or 1
    children = [
        Child("node", k, ("node",), {**shared, **node_env(settings, k), "NODE_SECRET": node_secret})
        for k in range(workers)
    ]
    vod = settings.media.vod_worker  # as AppConfig.runs_vod_worker reads it: dev only by default
    if settings.is_dev if vod is None else vod:
        children.append(Child("vod", None, ("worker", "vod", "--name", "vod-1"), shared))
    return children


def node_env(settings: Settings, k: int) -> dict[str, str]:
    """What node k gets differently from the others."""
    cluster, rtc, server = settings.cluster, settings.rtc, settings.server
    billing = settings.billing.billing_workers if k == 0 else ()
    env = {
        "NODE_PORT": str(cluster.node_port + k if cluster.node_port else 0),
        "RTC_UDP_PORT": str(rtc.rtc_udp_port + k if rtc.rtc_udp_port else 0),
        "BILLING_WORKERS": ",".join(billing) or "none",
    }
    if server.metrics_listener is not None:
        host, port = server.metrics_listener
        env["METRICS_ADDRESS"] = f"{host}:{port + k}"
    return env


async def keep_running(child: Child, stop: asyncio.Event) -> None:
    """Run the child until `stop`, restarting it when it exits on its own."""
    delay = RESTART_FIRST_S
    while not stop.is_set():
        started = time.monotonic()
        child.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "vilokanam",
            *child.args,
            env=child.env,
            preexec_fn=_dies_with(os.getpid()),
        )
        code = await _exit_or_stop(child.proc, stop)
        if code is None or stop.is_set():
            return  # stop_all ends it
        if time.monotonic() - started >= HEALTHY_S:
            delay = RESTART_FIRST_S
        logger.warning(
            "cluster_node_restarted",
            role=child.role,
            index=child.index,
            exit_code=code,
            delay_s=delay,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, RESTART_MAX_S)


async def _exit_or_stop(proc: asyncio.subprocess.Process, stop: asyncio.Event) -> int | None:
    """The child's exit code, or None when `stop` came first."""
    exited = asyncio.ensure_future(proc.wait())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait((exited, stopping), return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if exited.done():
        return exited.result()
    exited.cancel()
    return None


async def stop_all(children: list[Child]) -> None:
    """SIGTERM every running child; SIGKILL those still running after STOP_GRACE_S."""
    running = [c.proc for c in children if c.proc is not None and c.proc.returncode is None]
    for proc in running:
        _signal(proc, signal.SIGTERM)
    waits = [asyncio.ensure_future(proc.wait()) for proc in running]
    if not waits:
        return
    _, late = await asyncio.wait(waits, timeout=STOP_GRACE_S)
    for proc in running:
        if proc.returncode is None:
            logger.warning("cluster_child_killed", pid=proc.pid)
            _signal(proc, signal.SIGKILL)
    await asyncio.gather(*late)


def _dies_with(parent: int) -> Callable[[], None] | None:
    """Linux: the child is SIGKILLed when the supervisor dies (kill -9 included), so no node
    outlives it holding the HTTP port and heartbeats; elsewhere nothing."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:  # runs in the child between fork and exec
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the supervisor died before the line above
            os._exit(1)

    return arm


def _signal(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
