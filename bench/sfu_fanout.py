"""SFU fan-out benchmark (issue 13): the real server process, WHIP in, N WHEP viewers out.

The server is the app `vilokanam run` serves (bench/fanout_server.py: the same serve(), no dev
chain), in its own process pinned to core 0, with PostgreSQL and Redis (DATABASE_URL /
REDIS_URL, else embedded ones; a fresh database per mode). One publisher sends a pre-encoded
1280x720 30 fps VP8 clip (~1.6 Mb/s) over WHIP; N viewers join over WHEP, signed in as viewers
of a free stream, in worker processes that share core 1 with the publisher
(bench/fanout_viewers.py: real ICE/DTLS peers that count frames from clear-text SRTP headers and
acknowledge them with RTCP receiver reports, as billing requires).

Per step it prints the server's CPU (from /proc, % of a core, and per viewer above the
0-viewer step), its RSS growth per viewer, frames received / frames sent, the added delay
(publisher's abs-send-time stamp -> viewer's kernel receive time, p50/p95/max), and the load
generator's own CPU, flagged when core 1 is saturated. Each mode (SFU_FANOUT=python|native, an
environment variable of the server process) runs the same steps in the same run; the last table
is native / python per figure. RTC_UDP_PORT (single-port UDP mux) is passed to the server too;
a server without those settings ignores them.

    .venv/bin/python bench/sfu_fanout.py                                   # both modes
    .venv/bin/python bench/sfu_fanout.py --modes python --steps 10,50 --window 3   # quick
    .venv/bin/python bench/sfu_fanout.py --steps 100 --profile /tmp/fanout  # cProfile, last step
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import os
import pstats
import secrets
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from fanout_media import Clip, describe, encode_clip, publisher_main  # noqa: E402
from fanout_report import (  # noqa: E402
    HEADER,
    MIN_FRAMES_PCT,
    Row,
    Window,
    format_row,
    mode_summary,
    ratio_table,
    row_of,
)
from fanout_server import (  # noqa: E402
    ServerProcess,
    core_busy,
    cpu_seconds,
    cpu_wait_seconds,
    load_average,
    logged_problems,
    rss_kb,
    set_niceness,
    sfu_metrics,
    start_server,
)
from fanout_viewers import VIEWS_PER_ACCOUNT, worker_main  # noqa: E402

SERVER_CORE, GENERATOR_CORE = 0, 1
# Inherited settings that would point the server elsewhere than the bench's own services.
NOT_INHERITED = ("CHAIN_URL", "CHAIN_PUBLIC_URL", "PUBLIC_URL", "ESCROW_SEED", "ESCROW_SEED_FILE")


@dataclass(frozen=True)
class Services:
    postgres_admin_url: str
    redis_url: str
    workdir: Path


def server_env(
    mode: str, database_url: str, services: Services, args: argparse.Namespace
) -> dict[str, str]:
    """`vilokanam run`'s environment for one mode: dev, loopback only, the bench's services."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(
        VILOKANAM_ENV="dev",
        DATABASE_URL=database_url,
        REDIS_URL=services.redis_url,
        REDIS_PREFIX=f"vkbench{secrets.token_hex(4)}:",
        VAR_DIR=str(services.workdir / mode / "var"),
        MEDIA_ROOT=str(services.workdir / mode / "media"),
        RTC_HOST_ADDRESSES="127.0.0.1",
        ICE_SERVERS="",
        LOG_LEVEL="WARNING",
        MAX_VIEWS_PER_VIEWER=str(VIEWS_PER_ACCOUNT),
        VOD_WORKER="false",  # production runs it apart; here it would transcode the recording
        SFU_FANOUT=mode,
        RTC_UDP_MUX=args.mux,
        RTC_UDP_PORT=str(args.udp_port),
    )
    if args.profile:
        env["BENCH_PROFILE"] = f"{args.profile}-{mode}.prof"
    env.update(item.split("=", 1) for item in args.server_env)
    return env


def forget_keys(redis_url: str, prefix: str) -> None:
    """Delete the mode's Redis keys (the bench may share the machine's Redis)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


async def prepare(url: str, accounts: int) -> tuple[str, str, list[str]]:
    """A creator's free stream (id, stream key) and ``accounts`` signed-in viewers' tokens."""
    import aiohttp

    from tests.signaling.support.accounts import new_stream, new_user

    async with aiohttp.ClientSession(base_url=url) as http:
        creator = await new_user(http, creator=True)  # type: ignore[arg-type]
        stream = await new_stream(http, creator, title="fan-out bench")  # type: ignore[arg-type]
        viewers = [await new_user(http) for _ in range(accounts)]  # type: ignore[arg-type]
    tokens = [headers["Authorization"].removeprefix("Bearer ") for headers in viewers]
    return stream["id"], stream["stream_key"], tokens


class Generator:
    """The publisher and the viewer worker processes, all on the generator's core."""

    def __init__(
        self, url: str, stream: tuple[str, str], tokens: list[list[str]], clips: tuple[Clip, Clip]
    ) -> None:
        ctx = mp.get_context("spawn")
        self.sent = ctx.Value("q", 0)
        stream_id, key = stream
        self.publisher = ctx.Process(
            target=publisher_main,
            args=(url, stream_id, key, clips, self.sent, GENERATOR_CORE),
            daemon=True,
        )
        pipes = [ctx.Pipe() for _ in tokens]
        self.conns: list[Connection] = [parent for parent, _ in pipes]
        self.workers = [
            ctx.Process(
                target=worker_main,
                args=(url, stream_id, own, child, GENERATOR_CORE),
                daemon=True,
            )
            for own, (_, child) in zip(tokens, pipes, strict=True)
        ]

    def start(self) -> None:
        self.publisher.start()
        deadline = time.monotonic() + 30
        while self.sent.value == 0:
            if time.monotonic() > deadline or not self.publisher.is_alive():
                raise RuntimeError("the publisher did not start sending")
            time.sleep(0.1)
        for worker in self.workers:
            worker.start()

    def add(self, viewers: int) -> None:
        n = len(self.conns)
        self._ask("add", [viewers // n + (i < viewers % n) for i in range(n)])

    def snapshot(self) -> tuple[list[tuple[int, float | None, bool]], list[Any]]:
        parts = self._ask("snapshot", [None] * len(self.conns))
        return [x for counts, _ in parts for x in counts], [d for _, ds in parts for d in ds]

    def cpu(self) -> float:
        return sum(sum(cpu_seconds(p.pid)) for p in [self.publisher, *self.workers] if p.pid)

    def stop(self) -> None:
        for process in [*self.workers, self.publisher]:
            if process.pid is not None:
                process.kill()
                process.join(5)

    def _ask(self, command: str, args: list[Any]) -> list[Any]:
        try:
            for conn, arg in zip(self.conns, args, strict=True):
                conn.send((command, arg))
            return [conn.recv() for conn in self.conns]
        except (EOFError, BrokenPipeError):
            raise RuntimeError("a viewer process ended (its traceback is above)") from None


def measure(
    mode: str,
    viewers: int,
    server: ServerProcess,
    gen: Generator,
    seconds: float,
    profile: bool = False,
) -> Window:
    """One window: /proc of the server and the generator, the viewers' counters."""
    before, _ = gen.snapshot()  # also forgets the delays recorded while settling
    if profile:
        os.kill(server.pid, signal.SIGUSR1)
    t0, sent0, cpu0, gen0 = time.monotonic(), gen.sent.value, cpu_seconds(server.pid), gen.cpu()
    wait0 = cpu_wait_seconds(server.pid)
    busy0 = core_busy(SERVER_CORE), core_busy(GENERATOR_CORE)
    time.sleep(seconds)
    if profile:
        os.kill(server.pid, signal.SIGUSR2)
    after, delays = gen.snapshot()
    t1, sent1, cpu1, gen1 = time.monotonic(), gen.sent.value, cpu_seconds(server.pid), gen.cpu()
    wait1 = cpu_wait_seconds(server.pid)
    busy1 = core_busy(SERVER_CORE), core_busy(GENERATOR_CORE)
    return Window(
        mode=mode,
        viewers=viewers,
        seconds=t1 - t0,
        server_cpu=sum(cpu1) - sum(cpu0),
        server_sys=cpu1[1] - cpu0[1],
        server_wait=wait1 - wait0,
        server_rss_kb=rss_kb(server.pid),
        generator_cpu=gen1 - gen0,
        core0_busy=busy1[0] - busy0[0],
        core1_busy=busy1[1] - busy0[1],
        frames_sent=sent1 - sent0,
        frames=[a[0] - b[0] for a, b in zip(after, before, strict=True)],
        joins=[a[1] for a in after if a[1] is not None],
        disconnected=sum(not a[2] for a in after),
        delays=delays,
    )


def others_busy(server: ServerProcess, gen: Generator) -> tuple[float, float]:
    """% of core 0 and of core 1 that other processes than the bench's used over one second."""
    own0, own1 = sum(cpu_seconds(server.pid)), gen.cpu()
    busy0, busy1 = core_busy(SERVER_CORE), core_busy(GENERATOR_CORE)
    time.sleep(1.0)
    core0 = (core_busy(SERVER_CORE) - busy0) - (sum(cpu_seconds(server.pid)) - own0)
    core1 = (core_busy(GENERATOR_CORE) - busy1) - (gen.cpu() - own1)
    return 100 * core0, 100 * core1


def wait_quiet(server: ServerProcess, gen: Generator, args: argparse.Namespace) -> None:
    """Wait (at most --quiet-wait s) until other processes use < --quiet % of either core."""
    deadline = time.monotonic() + args.quiet_wait
    while max(others_busy(server, gen)) >= args.quiet and time.monotonic() < deadline:
        pass


def run_steps(
    mode: str, server: ServerProcess, gen: Generator, args: argparse.Namespace
) -> list[Row]:
    """The 0-viewer step, then each step of N viewers until frames are lost (or --keep-going)."""
    time.sleep(args.settle)
    wait_quiet(server, gen, args)
    base = measure(mode, 0, server, gen, args.window)
    rows = [row_of(base, None)]
    print(format_row(rows[0]), flush=True)
    total = 0
    for n in args.steps:
        try:
            gen.add(n - total)
        except RuntimeError as exc:  # e.g. WHEP refused: the stream ended under overload
            print(f"{mode}: stopped while joining {n} viewers: {exc}", flush=True)
            break
        total = n
        time.sleep(args.settle)
        wait_quiet(server, gen, args)
        profile = bool(args.profile) and n == args.steps[-1]
        row = row_of(measure(mode, n, server, gen, args.window, profile), base)
        rows.append(row)
        print(format_row(row), flush=True)
        if row.frames_pct < MIN_FRAMES_PCT and not args.keep_going:
            break
    return rows


def run_mode(
    mode: str, services: Services, clips: tuple[Clip, Clip], args: argparse.Namespace
) -> list[Row]:
    from tests.support.services import fresh_database

    per_worker = math.ceil(max(args.steps) / args.workers / VIEWS_PER_ACCOUNT)
    with (
        fresh_database(services.postgres_admin_url, migrated=False) as database_url,
        ExitStack() as stack,
    ):
        (services.workdir / mode).mkdir(parents=True, exist_ok=True)
        env = server_env(mode, database_url, services, args)
        if "BENCH_PROFILE" in env:
            Path(env["BENCH_PROFILE"]).unlink(missing_ok=True)  # no stale stats from a past run
        log = services.workdir / mode / "server.log"
        stack.callback(forget_keys, services.redis_url, env["REDIS_PREFIX"])
        for folder in ("media", "var"):  # the recording: tens of MB per run (the log stays)
            stack.callback(shutil.rmtree, services.workdir / mode / folder, True)
        server = start_server(env, args.port, SERVER_CORE, log, args.nice)
        stack.callback(server.stop)
        stream_id, key, tokens = asyncio.run(prepare(server.url, per_worker * args.workers))
        shares = [tokens[i * per_worker : (i + 1) * per_worker] for i in range(args.workers)]
        gen = Generator(server.url, (stream_id, key), shares, clips)
        stack.callback(gen.stop)
        gen.start()
        rows = run_steps(mode, server, gen, args)
        print("server counters: " + ("; ".join(sfu_metrics(server)) or "none"))
        return rows


def print_profile(path: str, top: int = 25) -> None:
    if Path(path).exists():
        print(f"\nprofile {path} (cProfile, by own time):")
        pstats.Stats(path).sort_stats("tottime").print_stats(top)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--modes", default="python,native", help="SFU_FANOUT values, in order")
    parser.add_argument("--steps", default="50,100,200,300,500", help="viewer counts")
    parser.add_argument("--window", type=float, default=6.0, help="seconds measured per step")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after joins")
    parser.add_argument("--workers", type=int, default=2, help="viewer processes")
    parser.add_argument("--keep-going", action="store_true", help="past a step losing frames")
    parser.add_argument("--quiet", type=float, default=15.0, help="%% of core 0 others may use")
    parser.add_argument("--quiet-wait", type=float, default=30.0, help="s to wait for --quiet")
    parser.add_argument("--mux", default="true", help="RTC_UDP_MUX (single-port ICE)")
    parser.add_argument(
        "--nice", type=int, default=0, help="niceness of the server and the generator (< 0: root)"
    )
    parser.add_argument("--clip-frames", type=int, default=150)
    parser.add_argument("--bitrate", type=int, default=1_600_000)
    parser.add_argument("--port", type=int, default=18770, help="the server's HTTP port")
    parser.add_argument("--udp-port", type=int, default=18771, help="RTC_UDP_PORT (mux)")
    parser.add_argument(
        "--profile", default="", help="cProfile the last step's window: stats to PREFIX-MODE.prof"
    )
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="KEY=VALUE", help="more settings"
    )
    args = parser.parse_args()
    args.modes = args.modes.split(",")
    args.steps = sorted(int(n) for n in args.steps.split(","))
    return args


def main() -> None:
    from tests.support.services import postgres_server, redis_server

    args = parse_args()
    if args.nice:  # the generator's processes inherit it; the server sets its own
        set_niceness(args.nice)
    t0 = time.monotonic()
    clips = encode_clip(args.clip_frames, args.bitrate)
    print(f"{describe(*clips)} (encoded in {time.monotonic() - t0:.0f} s)")
    workdir = Path(tempfile.mkdtemp(prefix="vilokanam-fanout-"))
    results: dict[str, list[Row]] = {}
    with postgres_server(workdir / "pg") as admin_url, redis_server(workdir / "redis") as redis:
        services = Services(admin_url, redis, workdir)
        for mode in args.modes:
            print(f"\nmode {mode}: load average {load_average()} at start")
            print(HEADER, flush=True)
            results[mode] = run_mode(mode, services, clips, args)
            print(f"load average {load_average()} at the end; server log {workdir}/{mode}")
            print(f"server warnings/errors: {dict(logged_problems(workdir / mode / 'server.log'))}")
            if args.profile:
                print_profile(f"{args.profile}-{mode}.prof")
    print()
    for mode, rows in results.items():
        print(mode_summary(mode, rows))
    if "native" in results and "python" in results:
        print("\nnative / python:\n" + ratio_table(results["native"], results["python"]))


if __name__ == "__main__":
    main()
