"""Processes for crash tests: `vilokanam worker ROLE` and `vilokanam run`, killed -9 at random;
`vilokanam` commands run to their end (`cli`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO


def worker_env(database_url: str, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CHAIN_URL", "ESCROW_SEED")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=prefix,
        VILOKANAM_ENV="dev",
        LOG_LEVEL="WARNING",
        PAYOUT_INTERVAL_S="1",  # a payout round every second, not every 5 (the default)
        RTC_UDP_PORT="0",  # servers started in parallel each take a free UDP port
        WORKERS="1",  # `vilokanam run` as one node (tests/vilokanam/test_cluster_run.py: more)
        **extra,
    )
    return env


def start_worker(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vilokanam", "worker", role],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_after(proc: subprocess.Popen[bytes], seconds: float) -> None:
    """SIGKILL the worker after `seconds` (it must still be running: a crash is a failure)."""
    time.sleep(seconds)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "worker died"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def start_vilokanam(
    args: list[str], env: dict[str, str], log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m vilokanam ARGS…` (a worker, the server); stderr to `log` when given."""
    return subprocess.Popen(
        [sys.executable, "-m", "vilokanam", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log if log is not None else subprocess.PIPE,
    )


def wait_healthy(
    url: str, proc: subprocess.Popen, timeout: float = 60, log: Path | None = None
) -> dict:
    """Wait until `url`/api/health answers; fail with the server's stderr if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if log is not None:
                raise AssertionError(log.read_text()[-4000:])
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:  # noqa: S310
                return {"status": response.status, "body": response.read().decode()}
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not become healthy in time")


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m vilokanam ARGS…` to its end (reconcile, parked …), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "vilokanam", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
