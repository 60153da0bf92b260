"""`vilokanam run` with WORKERS=2: two node processes on one HTTP port, each on its own internal
listener and media port, a separate VOD worker process, restarts after kill -9, no orphans after
SIGTERM; and `vilokanam node`, which starts no services of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.billing.support.processes import cli
from tests.support.cluster_run import (
    ROOT,
    cluster,
    run_env,
    shared_url,
    two_living_nodes,
    vilokanam_run,
)
from vilokanam.devchain import DevChain
from vilokanam.server import ServiceUrls
from vilokanam.settings import load_settings
from vilokanam.supervisor import plan

NODE_SECRET = "cluster-run-test-credential-" + "s" * 16


@pytest.fixture
def cluster_env(
    tmp_path: Path, database_url: str, redis_url: str, redis_prefix: str, dev_chain: DevChain
) -> dict[str, str]:
    return run_env(
        database_url=database_url,
        redis_url=redis_url,
        prefix=redis_prefix,
        chain_url=dev_chain.url,
        node_secret=NODE_SECRET,
        var=tmp_path,
    )


@pytest.fixture
def supervisor(cluster_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with vilokanam_run(cluster_env, tmp_path / "run.log") as proc:
        yield proc


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


def test_two_nodes_share_the_port_each_with_its_own_listener_and_media_port(
    cluster_env: dict[str, str], supervisor: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    nodes = _until(lambda: two_living_nodes(cluster_env, without_pid=0))
    assert nodes, cluster(cluster_env)
    assert _answering_nodes(shared_url(cluster_env)) == {node["node_id"] for node in nodes}
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
    nodes = _until(lambda: two_living_nodes(cluster_env, without_pid=0))
    assert nodes, cluster(cluster_env)
    victim = nodes[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    # The supervisor starts a new node; the dead one drops out once its heartbeat expires.
    again = _until(lambda: two_living_nodes(cluster_env, without_pid=victim))
    assert again, cluster(cluster_env)
    assert {node["pid"] for node in again} == {p.pid for p in _children(supervisor)["node"]}
    assert _answering_nodes(shared_url(cluster_env)) == {node["node_id"] for node in again}
    log = (tmp_path / "run.log").read_text()
    restarted = [json.loads(line) for line in log.splitlines() if "cluster_node_restarted" in line]
    assert [(r["role"], r["exit_code"]) for r in restarted] == [("node", -signal.SIGKILL)]

    everyone = psutil.Process(supervisor.pid).children(recursive=True)
    assert len(everyone) >= 3  # two nodes and the VOD worker
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(30) == 0
    _, alive = psutil.wait_procs(everyone, timeout=5)
    assert alive == []
    assert cluster(cluster_env)["nodes"] == []  # the nodes left the registry on their way out


def test_the_nodes_and_the_vod_worker_die_with_a_supervisor_killed_9(
    cluster_env: dict[str, str], supervisor: subprocess.Popen[bytes]
) -> None:
    assert _until(lambda: two_living_nodes(cluster_env, without_pid=0))
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
