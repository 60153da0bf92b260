"""Worker processes for crash tests: start `vilokanam worker ROLE`, kill -9 it at random."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def worker_env(database_url: str, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CHAIN_URL", "ESCROW_SEED")}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, REDIS_PREFIX=prefix,
               VILOKANAM_ENV="dev", LOG_LEVEL="WARNING", **extra)
    return env


def start_worker(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vilokanam", "worker", role],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def kill_after(proc: subprocess.Popen[bytes], seconds: float) -> None:
    """SIGKILL the worker after `seconds` (it must still be running: a crash is a failure)."""
    time.sleep(seconds)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "worker died"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
