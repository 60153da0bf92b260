"""Cluster benchmark (issue 12): the fan-out bench's WHEP load on `vilokanam run`, WORKERS=1 vs 2.

`vilokanam run` (bench/fanout_server.py `run`: the supervisor, no dev chain) starts WORKERS node
processes on one SO_REUSEPORT HTTP port, each with its own media port (RTC_UDP_PORT + k), on a
fresh PostgreSQL database and Redis prefix. Nothing is pinned: nodes, publisher and viewers share
the machine's cores as the scheduler likes (the nodes are "pinned to no particular core").

One publisher sends the fan-out bench's 1280x720 30 fps VP8 clip over WHIP to the shared port: the
node it lands on is the stream's origin, the other the edge. Steps:
- **idle**: the publisher only (origin: its ingest; edge: nothing);
- **relay** (WORKERS=2): one viewer joins on the edge's own listener and leaves (WHEP DELETE); the
  edge keeps its relay from the origin open (RELAY_IDLE_S is long) with 0 viewers. The relay's
  cost: edge CPU − idle (its relay peer: receive, SRTP, a local publisher) and origin CPU − idle
  (the relay is one subscriber of the origin's fan-out);
- **N viewers** (e.g. 200, 400) join through the shared port in viewer processes
  (bench/fanout_viewers.py); the kernel spreads their WHEP connections over the nodes. A viewer's
  node is the port of the ICE candidate in its answer (each node has its own media port).

Per step and node: CPU from /proc/<pid>/stat of the node process (pids from `vilokanam cluster`),
% of a core, and the time it waited for a core (/proc/<pid>/task/*/schedstat); CPU per viewer =
(CPU − the relay step's, or idle's with one node) / the node's viewers; viewers per node (from
the registry, and from the viewers' own media ports); frames each viewer counted / frames sent
(mean, worst) and the viewers that got any packet out of order; the relays each node holds; the
added delay's p95 (fanout_viewers.py). Last, WORKERS=2 against WORKERS=1 at the same N.

    .venv/bin/python bench/cluster.py                                   # 1 and 2 nodes, 200/400
    .venv/bin/python bench/cluster.py --nodes 2 --steps 50 --window 3    # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from fanout_media import Clip, describe, encode_clip, publisher_main  # noqa: E402
from fanout_report import MIN_FRAMES_PCT, percentile  # noqa: E402
from fanout_server import (  # noqa: E402
    ServerProcess,
    cpu_seconds,
    cpu_wait_seconds,
    load_average,
    logged_problems,
    set_niceness,
    wait_healthy,
)
from fanout_viewers import VIEWS_PER_ACCOUNT, worker_main  # noqa: E402
from sfu_fanout import NOT_INHERITED, forget_keys, prepare  # noqa: E402

NO_CORE = 1 << 16  # fanout_media.pin leaves a process unpinned for a core the machine lacks


# --- the run's processes ------------------------------------------------------------------------


def run_env(workers: int, database_url: str, redis_url: str, workdir: Path, args: Any) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in (*NOT_INHERITED, "NODE_SECRET")}
    env.update(
        VILOKANAM_ENV="dev",
        WORKERS=str(workers),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=f"vkcluster{secrets.token_hex(4)}:",
        VAR_DIR=str(workdir / "var"),
        MEDIA_ROOT=str(workdir / "media"),
        HTTP_PORT=str(args.port),
        NODE_PORT=str(args.port + 10),
        RTC_HOST_ADDRESSES="127.0.0.1",
        RTC_UDP_PORT=str(args.udp_port),
        ICE_SERVERS="",
        LOG_LEVEL="WARNING",
        MAX_VIEWS_PER_VIEWER=str(VIEWS_PER_ACCOUNT),
        NODE_MAX_VIEWERS="100000",  # measure capacity: no redirects
        RELAY_IDLE_S="3600",  # the edge's relay stays open with 0 viewers (the relay step)
        VOD_WORKER="false",
        PYTHONPATH=str(ROOT),
    )
    return env


def start_run(env: dict, log: Path) -> ServerProcess:
    with log.open("wb") as output:
        proc = subprocess.Popen(
            [sys.executable, str(BENCH / "fanout_server.py"), "run"],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # supervisor and nodes in one group, stopped as one
            preexec_fn=lambda: set_niceness(0),  # not the generator's (--generator-nice)
        )
    server = ServerProcess(proc, f"http://127.0.0.1:{env['HTTP_PORT']}", log)
    try:
        wait_healthy(server, timeout=90)
    except BaseException:
        server.stop()
        raise
    return server


def cluster_json(env: dict) -> dict[str, Any]:
    """`vilokanam cluster`: the registry's nodes and streams."""
    out = subprocess.run(
        [sys.executable, "-m", "vilokanam", "cluster"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def wait_nodes(env: dict, workers: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        nodes = cluster_json(env)["nodes"]
        if len(nodes) == workers:
            return nodes
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(nodes)} of {workers} nodes registered")
        time.sleep(0.5)


class Load:
    """The publisher and viewer worker processes (unpinned); each worker joins at its own URL."""

    def __init__(self, stream: tuple[str, str], clips: tuple[Clip, Clip]) -> None:
        self.ctx = mp.get_context("spawn")
        self.sent = self.ctx.Value("q", 0)
        self.stream = stream
        self.clips = clips
        self.procs: list[Any] = []
        self.conns: list[Connection] = []
        self.parked: list[Connection] = []

    def publish(self, url: str) -> None:
        args = (url, *self.stream, self.clips, self.sent, NO_CORE)
        publisher = self.ctx.Process(target=publisher_main, args=args, daemon=True)
        publisher.start()
        self.procs.append(publisher)
        deadline = time.monotonic() + 30
        while self.sent.value == 0:
            if time.monotonic() > deadline or not publisher.is_alive():
                raise RuntimeError("the publisher did not start sending")
            time.sleep(0.1)

    def workers(self, url: str, shares: list[list[str]]) -> list[Connection]:
        conns = []
        for tokens in shares:
            parent, child = self.ctx.Pipe()
            args = (url, self.stream[0], tokens, child, NO_CORE)
            worker = self.ctx.Process(target=worker_main, args=args, daemon=True)
            worker.start()
            self.procs.append(worker)
            conns.append(parent)
        self.conns += conns
        return conns

    def cpu(self) -> float:
        return sum(sum(cpu_seconds(p.pid)) for p in self.procs if p.is_alive())

    def stop(self) -> None:
        for process in self.procs:
            process.kill()
            process.join(5)


def ask(conns: list[Connection], command: str, args: list[Any]) -> list[Any]:
    try:
        for conn, arg in zip(conns, args, strict=True):
            conn.send((command, arg))
        return [conn.recv() for conn in conns]
    except (EOFError, BrokenPipeError):
        raise RuntimeError("a viewer process ended (its traceback is above)") from None


def snapshot(conns: list[Connection]) -> tuple[list[tuple], list[Any]]:
    parts = ask(conns, "snapshot", [None] * len(conns))
    return [x for counts, _ in parts for x in counts], [d for _, ds in parts for d in ds]


# --- one window ---------------------------------------------------------------------------------


@dataclass
class NodeFigures:
    node_id: str
    role: str  # origin | edge
    cpu_pct: float
    waited_pct: float  # runnable but not running: other processes held the cores
    viewers: int  # the registry's count of this stream's viewers on the node
    landed: int  # viewers whose answer named this node's media port
    relays: int
    frames: list[float] = field(default_factory=list)  # % per viewer
    out_of_order: int = 0  # viewers with any packet out of order
    per_viewer: float | None = None


@dataclass
class Step:
    label: str
    viewers: int
    nodes: list[NodeFigures]
    generator_cpu_pct: float
    p95_ms: float
    not_connected: int


def measure(label: str, n: int, env: dict, load: Load, stream_id: str, seconds: float) -> Step:
    nodes = cluster_json(env)["nodes"]
    pids = {node["node_id"]: node["pid"] for node in nodes}
    before, _ = snapshot(load.conns) if load.conns else ([], [])
    t0, sent0, gen0 = time.monotonic(), load.sent.value, load.cpu()
    cpu0 = {nid: sum(cpu_seconds(pid)) for nid, pid in pids.items()}
    wait0 = {nid: cpu_wait_seconds(pid) for nid, pid in pids.items()}
    time.sleep(seconds)
    cpu1 = {nid: sum(cpu_seconds(pid)) for nid, pid in pids.items()}
    wait1 = {nid: cpu_wait_seconds(pid) for nid, pid in pids.items()}
    t1, sent1, gen1 = time.monotonic(), load.sent.value, load.cpu()
    after, delays = snapshot(load.conns) if load.conns else ([], [])
    wall, sent = t1 - t0, max(1, sent1 - sent0)
    overview = cluster_json(env)
    stream = next((s for s in overview["streams"] if s["stream_id"] == stream_id), {})
    counts = stream.get("viewers", {})
    port_of = {node["media_port"]: node["node_id"] for node in overview["nodes"]}
    figures = {
        node["node_id"]: NodeFigures(
            node["node_id"],
            "origin" if node["node_id"] == stream.get("origin") else "edge",
            100 * (cpu1[node["node_id"]] - cpu0[node["node_id"]]) / wall,
            100 * (wait1[node["node_id"]] - wait0[node["node_id"]]) / wall,
            int(counts.get(node["node_id"], 0)),
            0,
            int(node.get("relays", 0)),
        )
        for node in overview["nodes"]
        if node["node_id"] in cpu0
    }
    for b, a in zip(before, after, strict=True):
        node = figures.get(port_of.get(a[3], ""))
        if node is not None:
            node.landed += 1
            node.frames.append(100 * (a[0] - b[0]) / sent)
            node.out_of_order += a[4] > b[4]
    kernel_delays = [d[0] * 1000 for d in delays]
    return Step(
        label,
        n,
        sorted(figures.values(), key=lambda f: f.role != "origin"),
        100 * (gen1 - gen0) / wall,
        percentile(kernel_delays, 95) if kernel_delays else math.nan,
        sum(not a[2] for a in after),
    )


def per_viewer(step: Step, base: Step) -> None:
    """CPU per viewer of each node above the base step (relay open, or idle with one node)."""
    base_cpu = {node.node_id: node.cpu_pct for node in base.nodes}
    for node in step.nodes:
        if node.viewers:
            node.per_viewer = (node.cpu_pct - base_cpu.get(node.node_id, 0.0)) / node.viewers


HEADER = (
    "| step | node | role | viewers (registry / by media port) | relays | CPU % | waited % "
    "| CPU/viewer % "
    "| frames % mean (worst) | out-of-order viewers | p95 delay ms | generator CPU % |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def format_step(step: Step) -> str:
    lines = []
    for node in step.nodes:
        frames = (
            f"{sum(node.frames) / len(node.frames):.1f} ({min(node.frames):.0f})"
            if node.frames
            else "–"
        )
        pv = f"{node.per_viewer:.3f}" if node.per_viewer is not None else "–"
        lines.append(
            f"| {step.label} | {node.node_id[:8]} | {node.role} | {node.viewers} / {node.landed} "
            f"| {node.relays} | {node.cpu_pct:.1f} | {node.waited_pct:.1f} | {pv} | {frames} "
            f"| {node.out_of_order} | {step.p95_ms:.1f} | {step.generator_cpu_pct:.0f} |"
        )
    return "\n".join(lines)


# --- one run (WORKERS = k) ----------------------------------------------------------------------


def run_workers(
    workers: int, admin_url: str, redis_url: str, workdir: Path, clips: tuple[Clip, Clip], args: Any
) -> list[Step]:
    from tests.support.services import fresh_database

    per_proc = math.ceil(max(args.steps) / args.viewer_procs / VIEWS_PER_ACCOUNT)
    folder = workdir / f"workers{workers}"
    folder.mkdir(parents=True, exist_ok=True)
    with fresh_database(admin_url, migrated=False) as database_url, ExitStack() as stack:
        env = run_env(workers, database_url, redis_url, folder, args)
        stack.callback(forget_keys, redis_url, env["REDIS_PREFIX"])
        for sub in ("media", "var"):
            stack.callback(shutil.rmtree, folder / sub, True)
        server = start_run(env, folder / "run.log")
        stack.callback(server.stop)
        nodes = wait_nodes(env, workers)
        stream_id, key, tokens = asyncio.run(prepare(server.url, per_proc * args.viewer_procs + 1))
        load = Load((stream_id, key), clips)
        stack.callback(load.stop)
        load.publish(server.url)
        time.sleep(args.settle)
        steps = [measure("idle", 0, env, load, stream_id, args.window)]
        print(format_step(steps[0]), flush=True)
        base = steps[0]
        if workers > 1:
            base = open_relay(env, load, stream_id, nodes, tokens[-1], args)
            steps.append(base)
            print(format_step(base), flush=True)
        shares = [tokens[i * per_proc : (i + 1) * per_proc] for i in range(args.viewer_procs)]
        conns = load.workers(server.url, shares)
        total = 0
        for n in args.steps:
            k = len(conns)
            ask(conns, "add", [(n - total) // k + (i < (n - total) % k) for i in range(k)])
            total = n
            time.sleep(args.settle)
            step = measure(str(n), n, env, load, stream_id, args.window)
            per_viewer(step, base)
            steps.append(step)
            print(format_step(step), flush=True)
        print(f"run warnings/errors: {dict(logged_problems(folder / 'run.log'))}")
        return steps


def open_relay(
    env: dict, load: Load, stream_id: str, nodes: list[dict], token: str, args: Any
) -> Step:
    """One viewer on the edge's own listener opens its relay, then leaves: the relay stays."""
    origin = cluster_json(env)["streams"]
    origin_id = next(s["origin"] for s in origin if s["stream_id"] == stream_id)
    edge = next(node for node in nodes if node["node_id"] != origin_id)
    probe = load.workers(edge["internal_url"], [[token]])
    ask(probe, "add", [1])
    time.sleep(2)
    ask(probe, "leave", [None])
    load.conns.remove(probe[0])
    load.parked += probe  # kept open: the probe process waits for commands, idle
    time.sleep(args.settle)
    return measure("relay", 0, env, load, stream_id, args.window)


# --- summary ------------------------------------------------------------------------------------


def cluster_cpu(step: Step) -> float:
    return sum(node.cpu_pct for node in step.nodes)


def frames_of(step: Step) -> tuple[float, float]:
    frames = [f for node in step.nodes for f in node.frames]
    return (sum(frames) / len(frames), min(frames)) if frames else (math.nan, math.nan)


def summary(results: dict[int, list[Step]]) -> str:
    lines = []
    for workers, steps in results.items():
        idle = steps[0]
        for step in steps:
            if step.viewers:
                added = (cluster_cpu(step) - cluster_cpu(idle)) / step.viewers
                mean, worst = frames_of(step)
                ok = "ok" if worst >= MIN_FRAMES_PCT else "frames lost"
                split = " / ".join(f"{n.role} {n.viewers}" for n in step.nodes)
                quality = f"frames {mean:.1f} % (worst {worst:.0f}), p95 {step.p95_ms:.0f} ms"
                lines.append(
                    f"WORKERS={workers} {step.viewers} viewers: nodes' CPU {cluster_cpu(step):.1f} "
                    f"% ({added:.3f} % per viewer above idle, relay included), {quality}, "
                    f"split {split}: {ok}"
                )
        if len(idle.nodes) > 1 and len(steps) > 1:
            relay = steps[1]
            for node, before in zip(relay.nodes, idle.nodes, strict=True):
                lines.append(
                    f"WORKERS={workers} relay cost on the {node.role}: "
                    f"{node.cpu_pct - before.cpu_pct:.2f} % of a core"
                )
    if 1 in results and 2 in results:
        one = {s.viewers: s for s in results[1] if s.viewers}
        for step in results[2]:
            if step.viewers in one:
                single = one[step.viewers]
                busiest = max(n.cpu_pct for n in step.nodes) / max(n.cpu_pct for n in single.nodes)
                lines.append(
                    f"WORKERS=2 / WORKERS=1 at {step.viewers} viewers: nodes' CPU "
                    f"{cluster_cpu(step) / cluster_cpu(single):.2f}x, busiest node "
                    f"{busiest:.2f}x, "
                    f"frames {frames_of(step)[0]:.1f} vs {frames_of(single)[0]:.1f} %, p95 "
                    f"{step.p95_ms:.0f} vs {single.p95_ms:.0f} ms"
                )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--nodes", default="1,2", help="WORKERS values, in order")
    parser.add_argument("--steps", default="200,400", help="viewer counts")
    parser.add_argument("--window", type=float, default=6.0, help="seconds measured per step")
    parser.add_argument("--settle", type=float, default=6.0, help="seconds after joins")
    parser.add_argument("--viewer-procs", type=int, default=4, help="viewer processes")
    parser.add_argument(
        "--generator-nice",
        type=int,
        default=0,
        help="niceness of the publisher and viewers (and their autogroup): > 0 lets the nodes "
        "run first where they share cores",
    )
    parser.add_argument("--clip-frames", type=int, default=150)
    parser.add_argument("--bitrate", type=int, default=1_600_000)
    parser.add_argument("--port", type=int, default=18870, help="the shared HTTP port")
    parser.add_argument("--udp-port", type=int, default=18871, help="RTC_UDP_PORT of node 0")
    args = parser.parse_args()
    args.nodes = [int(n) for n in args.nodes.split(",")]
    args.steps = sorted(int(n) for n in args.steps.split(","))
    return args


def main() -> None:
    from tests.support.services import postgres_server, redis_server

    args = parse_args()
    if args.generator_nice:  # the viewer and publisher processes inherit it
        set_niceness(args.generator_nice)
    clips = encode_clip(args.clip_frames, args.bitrate)
    print(describe(*clips))
    workdir = Path(tempfile.mkdtemp(prefix="vilokanam-cluster-"))
    results: dict[int, list[Step]] = {}
    with postgres_server(workdir / "pg") as admin_url, redis_server(workdir / "redis") as redis:
        for workers in args.nodes:
            print(f"\nWORKERS={workers}: load average {load_average()} at start\n{HEADER}")
            results[workers] = run_workers(workers, admin_url, redis, workdir, clips, args)
            print(f"load average {load_average()} at the end; logs in {workdir}")
    print("\n" + summary(results))


if __name__ == "__main__":
    main()
