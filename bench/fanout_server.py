"""The server under test of bench/sfu_fanout.py: the app `vilokanam run` serves, as a process.

Run as a script, this file is `vilokanam run` with WORKERS=1 (settings from the environment,
migrations, one node: the whole app with billing, metering and the sfu, in this process rather
than a child of the supervisor) except that it starts no dev chain: the fan-out needs none, and
chopsticks would share the server's core. Settings come from the environment like the real
command's; with BENCH_PROFILE=<file>, SIGUSR1 starts cProfile and SIGUSR2 writes the stats there
(the bench profiles one window that way).

With the argument `run` it is the supervisor itself (bench/cluster.py: WORKERS nodes as child
processes), again without a chain.

Imported, it starts that process pinned to one core in a process group of its own and reads
its CPU time and resident memory from /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
STOP_GRACE_S = 30.0


# --- /proc readings -----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all threads."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def cpu_wait_seconds(pid: int) -> float:
    """Seconds the process's threads spent runnable but waiting for a CPU (/proc schedstat)."""
    waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            waited += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError):
            continue  # a thread that just ended
    return waited / 1e9


def rss_kb(pid: int) -> int:
    """Resident memory of a process, KiB."""
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_KB


def core_busy(core: int) -> float:
    """Busy CPU seconds of one core, all processes (from /proc/stat)."""
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith(f"cpu{core} "):
                ticks = [int(x) for x in line.split()[1:]]
                return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS
    return float("nan")


def load_average() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


# --- the process, seen from the bench -----------------------------------------------------------


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        """SIGINT (a clean shutdown, which also writes the profile), then SIGKILL the group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left in its group
        except ProcessLookupError:
            pass
        self.proc.wait()


def set_niceness(nice: int) -> None:
    """Niceness of this process and of its session's autogroup (Linux shares CPU between
    sessions first, so a process's own niceness only counts within its session)."""
    os.setpriority(os.PRIO_PROCESS, 0, nice)
    try:
        Path("/proc/self/autogroup").write_text(str(nice))
    except OSError:
        pass  # no autogroup scheduling here (or not allowed): the process niceness is all


def start_server(
    env: dict[str, str], port: int, core: int, log: Path, nice: int = 0
) -> ServerProcess:
    """This file as a script, pinned to ``core``; returns once /api/health answers."""

    def prepare() -> None:  # in the child, after setsid
        os.sched_setaffinity(0, {core})
        if nice:
            set_niceness(nice)

    with log.open("wb") as output:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            env={**env, "HTTP_PORT": str(port), "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one
            preexec_fn=prepare,
        )
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", log)
    try:
        wait_healthy(server)
    except BaseException:
        server.stop()
        raise
    return server


def logged_problems(log: Path) -> Counter[str]:
    """Warning and error events the server logged (JSON lines), by event name."""
    problems: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
            problems[str(entry.get("event"))] += 1
    return problems


def sfu_metrics(server: ServerProcess) -> list[str]:
    """The server's vilokanam_sfu_* samples from /metrics (dev mode serves it on the main port)."""
    try:
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as response:  # noqa: S310
            text = response.read().decode()
    except OSError as exc:
        return [f"/metrics: {exc}"]
    return [line for line in text.splitlines() if line.startswith("vilokanam_sfu_")]


def wait_healthy(server: ServerProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited: {server.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/api/health", timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become healthy in time")


# --- the process itself -------------------------------------------------------------------------


def serve_without_chain() -> None:
    """`vilokanam run` with WORKERS=1, its one node in this process (so its pid is the one
    measured): local services without a chain, migrations, then `vilokanam node`'s serve_node."""
    from vilokanam import server
    from vilokanam.logs import configure_logging
    from vilokanam.migrate import migrate
    from vilokanam.settings import load_settings

    os.environ.setdefault("NODE_PORT", "0")  # the node's own listener: any free port
    settings = load_settings()
    configure_logging(settings.log_level)

    async def serve() -> None:
        async with AsyncExitStack() as stack:
            urls = await server.local_services(settings, stack, chain=False)
            await migrate(urls.database_url)
            await server.serve_node(settings, urls)

    asyncio.run(serve())


def run_cluster_without_chain() -> None:
    """`vilokanam run` with WORKERS nodes (bench/cluster.py), local_services asked for no chain:
    the supervisor passes no CHAIN_URL to its nodes, so they run without one too."""
    from vilokanam import supervisor
    from vilokanam.logs import configure_logging
    from vilokanam.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    with_chain = supervisor.local_services

    async def no_chain(settings: object, stack: AsyncExitStack, chain: bool = True) -> object:
        return await with_chain(settings, stack, chain=False)  # type: ignore[arg-type]

    supervisor.local_services = no_chain  # type: ignore[assignment]
    asyncio.run(supervisor.run_cluster(settings))


def arm_profiler(path: str) -> None:
    """SIGUSR1 starts cProfile, SIGUSR2 stops it and writes the stats to ``path``."""
    import cProfile

    profiler = cProfile.Profile()

    def stop(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(path)

    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
    signal.signal(signal.SIGUSR2, stop)


def main() -> None:
    if sys.argv[1:] == ["run"]:
        run_cluster_without_chain()
        return
    if profile := os.environ.get("BENCH_PROFILE"):
        arm_profiler(profile)
    serve_without_chain()


if __name__ == "__main__":
    main()
