"""`vilokanam run` with WORKERS=2: two node processes on one HTTP port, each on its own internal
listener and media port, a separate VOD worker process, restarts after kill -9, no orphans after
SIGTERM; and `vilokanam node`, which starts no services of its own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.billing.support.processes import cli, wait_healthy
from tests.support.ports import free_port
from vilokanam.devchain import DevChain
from vilokanam.server import ServiceUrls
from vilokanam.settings import load_settings
from vilokanam.supervisor import plan

ROOT = Path(__file__).resolve().parents[2]
NODE_SECRET = "cluster-run-test-credential-" + "s" * 16


def _free_udp_pair() -> int:
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


@pytest.fixture
def cluster_env(
    tmp_path: Path, database_url: str, redis_url: str, redis_prefix: str, dev_chain: DevChain
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_URL", "ESCROW_SEED")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=redis_prefix,
        CHAIN_URL=dev_chain.url,  # a chain given: `vilokanam run` starts none of its own
        VILOKANAM_ENV="dev",
        WORKERS="2",
        HTTP_PORT=str(free_port()),
        NODE_PORT="0",
        NODE_SECRET=NODE_SECRET,
        RTC_HOST_ADDRESSES="127.0.0.1",
        RTC_UDP_PORT=str(_free_udp_pair()),
        VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(tmp_path / "media"),
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def supervisor(cluster_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vilokanam", "run"],
            env=cluster_env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_healthy(_url(cluster_env), proc, log=log)
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['HTTP_PORT']}"


def _cluster(env: dict[str, str]) -> dict[str, Any]:
    result = cli(env, "cluster")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def _children(proc: subprocess.Popen[bytes]) -> dict[str, list[psutil.Process]]:
    """The supervisor's children by role: "node" and "worker"."""
    roles: dict[str, list[psutil.Process]] = {"node": [], "worker": []}
    for child in psutil.Process(proc.pid).children():
        args = child.cmdline()
        if args[1:3] == ["-m", "vilokanam"] and len(args) > 3 and args[3] in roles:
            roles[args[3]].append(child)
    return roles


def _answering_nodes(url: str, requests: int = 60) -> set[str]:
    """Node ids of /api/health answers, each on a new connection (the kernel spreads them)."""
    seen = set()
    for _ in range(requests):
        with urllib.request.urlopen(f"{url}/api/health", timeout=5) as response:  # noqa: S310
            seen.add(json.loads(response.read())["node_id"])
    return seen


def _two_living_nodes(env: dict[str, str], without_pid: int) -> list[dict[str, Any]]:
    nodes = _cluster(env)["nodes"]
    pids = {node["pid"] for node in nodes}
    return nodes if len(nodes) == 2 and without_pid not in pids else []


def test_two_nodes_share_the_port_each_with_its_own_listener_and_media_port(
    cluster_env: dict[str, str], supervisor: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    nodes = _until(lambda: _two_living_nodes(cluster_env, without_pid=0))
    assert nodes, _cluster(cluster_env)
    assert _answering_nodes(_url(cluster_env)) == {node["node_id"] for node in nodes}
    internal = {node["internal_url"] for node in nodes}
    assert len(internal) == 2 and all(u.startswith("http://127.0.0.1:") for u in internal)
    for node in nodes:  # each node also answers alone on its own listener
        with urllib.request.urlopen(f"{node['internal_url']}/api/health") as response:  # noqa: S310
            assert json.loads(response.read())["node_id"] == node["node_id"]
    media = int(cluster_env["RTC_UDP_PORT"])
    assert sorted(node["media_port"] for node in nodes) == [media, media + 1]
    assert all(
        node["max_viewers"] == 500 and node["media_addresses"] == ["127.0.0.1"] for node in nodes
    )
    children = _children(supervisor)
    assert {p.pid for p in children["node"]} == {node["pid"] for node in nodes}
    (vod,) = children["worker"]  # transcoding runs beside the nodes, in its own process
    assert vod.cmdline()[3:5] == ["worker", "vod"]
    assert vod.pid not in {node["pid"] for node in nodes}
    assert NODE_SECRET not in (tmp_path / "run.log").read_text()


def test_a_killed_node_is_restarted_and_sigterm_leaves_no_process_behind(
    cluster_env: dict[str, str], supervisor: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    nodes = _until(lambda: _two_living_nodes(cluster_env, without_pid=0))
    assert nodes, _cluster(cluster_env)
    victim = nodes[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    # The supervisor starts a new node; the dead one drops out once its heartbeat expires.
    again = _until(lambda: _two_living_nodes(cluster_env, without_pid=victim))
    assert again, _cluster(cluster_env)
    assert {node["pid"] for node in again} == {p.pid for p in _children(supervisor)["node"]}
    assert _answering_nodes(_url(cluster_env)) == {node["node_id"] for node in again}
    log = (tmp_path / "run.log").read_text()
    restarted = [json.loads(line) for line in log.splitlines() if "cluster_node_restarted" in line]
    assert [(r["role"], r["exit_code"]) for r in restarted] == [("node", -signal.SIGKILL)]

    everyone = psutil.Process(supervisor.pid).children(recursive=True)
    assert len(everyone) >= 3  # two nodes and the VOD worker
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(30) == 0
    _, alive = psutil.wait_procs(everyone, timeout=5)
    assert alive == []
    assert _cluster(cluster_env)["nodes"] == []  # the nodes left the registry on their way out


def test_the_nodes_and_the_vod_worker_die_with_a_supervisor_killed_9(
    cluster_env: dict[str, str], supervisor: subprocess.Popen[bytes]
) -> None:
    assert _until(lambda: _two_living_nodes(cluster_env, without_pid=0))
    children = psutil.Process(supervisor.pid).children()
    assert len(children) == 3
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait(10)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []  # nothing left holding the port, the media ports or a heartbeat


def test_node_and_cluster_refuse_to_start_without_what_they_need(
    redis_url: str,
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NODE_SECRET")}
    env.update(REDIS_URL=redis_url, VILOKANAM_ENV="dev", PYTHONPATH=str(ROOT))
    result = cli(env, "node")
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "REDIS_URL" not in result.stderr
    production = {
        **env,
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",  # never reached: refused first
        "CHAIN_URL": "ws://127.0.0.1:1",
        "VILOKANAM_ENV": "production",
        "PUBLIC_URL": "https://vilokanam.example",
        "ESCROW_SEED": "//Escrow",
    }
    result = cli(production, "node")
    assert result.returncode == 2
    assert result.stderr.startswith("vilokanam: invalid setting NODE_SECRET")
    no_redis = {k: v for k, v in env.items() if k != "REDIS_URL"}
    result = cli(no_redis, "cluster")
    assert (result.returncode, result.stdout) == (2, "")
    assert "REDIS_URL" in result.stderr


def test_node_k_gets_its_own_ports_and_only_node_0_the_billing_loops() -> None:
    settings = load_settings(
        vilokanam_env="production",
        database_url="postgresql://db.internal/vk",
        redis_url="redis://redis.internal",
        chain_url="wss://chain.internal",
        escrow_seed="//Escrow",
        server={"public_url": "https://vk.example", "metrics_address": "10.0.0.5:9100"},
        cluster={"workers": 3, "node_port": 7890},
        rtc={"rtc_udp_port": 7882},
        billing={"billing_workers": "settlement,payouts"},
    )
    urls = ServiceUrls("postgresql://db.internal/vk", "redis://redis.internal", None)
    children = plan(settings, urls, node_secret="per-run")
    assert [c.role for c in children] == ["node", "node", "node"]  # production: no VOD worker
    ports = [
        (c.env["NODE_PORT"], c.env["RTC_UDP_PORT"], c.env["METRICS_ADDRESS"]) for c in children
    ]
    assert ports == [
        ("7890", "7882", "10.0.0.5:9100"),
        ("7891", "7883", "10.0.0.5:9101"),
        ("7892", "7884", "10.0.0.5:9102"),
    ]
    assert [c.env["BILLING_WORKERS"] for c in children] == ["settlement,payouts", "none", "none"]
    assert {c.env["NODE_SECRET"] for c in children} == {"per-run"}
    assert all("CHAIN_URL" not in c.env for c in children)  # as resolved, not as inherited
    dev = load_settings(vilokanam_env="dev", cluster={"workers": 1, "node_port": 0})
    (node, vod) = plan(dev, urls, node_secret="s")
    assert (node.env["NODE_PORT"], vod.args) == ("0", ("worker", "vod", "--name", "vod-1"))
