"""kill -9 of a node of a `vilokanam run` cluster (WORKERS=2, subprocesses) while it charges.

A paid stream, one viewer account watching on both nodes (real aiortc viewers in the test
process, WHEP to each node's own internal URL). The edge node is killed mid-charging and the
supervisor restarts it; in the second case the edge is node 0, which also runs the settlement
loop. Afterwards the books must balance in Redis and PostgreSQL, `vilokanam reconcile` exit 0,
and no view be charged a second twice or a second it was not served.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from billing.meter import Meter
from tests.billing.support.cluster_money import (
    CountingViewer,
    assert_books_balance,
    assert_seconds_match_media,
)
from tests.billing.support.cluster_run import LedgerTail, living_nodes, run_env, until
from tests.billing.support.processes import cli
from tests.signaling.support.accounts import new_stream, new_user, whoami
from tests.signaling.support.webrtc_clients import PRICE_HEADER, stream_price, whep_request, whip
from tests.support.cluster_run import vilokanam_run
from tests.support.rtc_peers import accept_answer, viewer_peer
from vilokanam.devchain import DevChain

pytestmark = pytest.mark.usefixtures("loopback")

PRICE = 1_000
FEE_BPS = 1_000  # the default platform fee
DEPOSIT = 10**9


@pytest.fixture
def env(
    tmp_path: Path, own_database_url: str, redis_url: str, redis_prefix: str, dev_chain: DevChain
) -> dict[str, str]:
    return run_env(tmp_path, own_database_url, redis_url, redis_prefix, dev_chain.url)


@pytest.fixture
def supervisor(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with vilokanam_run(env, tmp_path / "run.log", terminate_s=20) as proc:
        yield proc


@pytest.fixture
async def sessions(
    env: dict[str, str], supervisor: subprocess.Popen[bytes]
) -> AsyncIterator[list[tuple[dict, aiohttp.ClientSession]]]:
    """Each node (node 0 first) with an HTTP client on its own internal URL."""
    nodes = await until(lambda: living_nodes(env))
    assert nodes, cli(env, "cluster").stdout
    clients = [aiohttp.ClientSession(base_url=node["internal_url"]) for node in nodes]
    yield list(zip(nodes, clients, strict=True))
    for client in clients:
        await client.close()


async def watch(node: aiohttp.ClientSession, stream_id: str, headers: dict) -> CountingViewer:
    viewer = await viewer_peer(audio=True, kind=CountingViewer)
    assert isinstance(viewer, CountingViewer)
    viewer.count()
    price = {PRICE_HEADER: await stream_price(node, stream_id)}  # type: ignore[arg-type]
    response = await whep_request(node, stream_id, {**price, **headers}, viewer)  # type: ignore[arg-type]
    assert response.status == 201, await response.text()
    await accept_answer(viewer.pc, await response.text())
    return viewer


async def views_by_node(db: asyncpg.Pool, viewer_id: str) -> dict[str, str]:
    rows = await db.fetch(
        "SELECT id, node_id FROM stream_viewers WHERE viewer_id = $1::uuid", viewer_id
    )
    return {str(row["node_id"]): str(row["id"]) for row in rows}


async def settled(db: asyncpg.Pool, meter: Meter) -> bool:
    pg = await db.fetchval("SELECT COALESCE(sum(amount), 0) FROM settled_batches")
    return int(pg) == (await meter.totals()).debits > 0


async def eventually(check, within: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("victim", ["edge", "node 0"])
async def test_kill_9_of_a_node_mid_charging_charges_nothing_twice_and_reconciles(
    victim: str,
    env: dict[str, str],
    sessions: list[tuple[dict, aiohttp.ClientSession]],
    own_db: asyncpg.Pool,
    redis,
    redis_prefix: str,
) -> None:
    """victim "edge": the stream's origin is node 0, node 1 is killed; "node 0": the origin is
    node 1 and node 0, the edge and the settlement loop's node, is killed."""
    (origin, at_origin), (edge, at_edge) = sessions if victim == "edge" else sessions[::-1]
    meter = Meter(redis, FEE_BPS, redis_prefix)
    stream = await new_stream(at_origin, await new_user(at_origin, creator=True), str(PRICE))  # type: ignore[arg-type]
    broadcast = await whip(at_origin, stream["id"], stream["stream_key"])  # type: ignore[arg-type]
    headers = await new_user(at_origin)  # type: ignore[arg-type]
    viewer_id = (await whoami(at_origin, headers))["id"]  # type: ignore[arg-type]
    assert await meter.credit(viewer_id, DEPOSIT, f"deposit-{viewer_id}")
    tail = LedgerTail(redis, redis_prefix)
    tail.start()
    on_origin = await watch(at_origin, stream["id"], headers)
    on_edge = await watch(at_edge, stream["id"], headers)
    views = await views_by_node(own_db, viewer_id)
    assert set(views) == {origin["node_id"], edge["node_id"]}

    async def charging_on_both() -> bool:
        return all([await meter.view_ticks(view) >= 3 for view in views.values()])

    await eventually(charging_on_both)
    os.kill(edge["pid"], signal.SIGKILL)
    killed_at, killed_wall = time.monotonic(), time.time()
    back = await until(lambda: living_nodes(env, without_pid=edge["pid"]))
    assert back, "the supervisor did not restart the killed node"
    await asyncio.sleep(1.0)  # the origin's view goes on being charged meanwhile
    await on_origin.close()  # its view ends on the origin (DTLS close)
    await on_edge.close()
    await eventually(lambda: settled(own_db, meter), within=30)
    await asyncio.sleep(2.5)  # the origin's last acknowledged seconds, then settled too
    await eventually(lambda: settled(own_db, meter), within=30)
    ledger = await tail.stop()
    await broadcast.pc.close()

    # Every charge the ledger held, each (view, second) once, only seconds the view was served.
    assert set(ledger.seconds) == set(views.values())
    charged_on_edge = ledger.seconds[views[edge["node_id"]]]
    assert charged_on_edge and max(charged_on_edge) <= int(killed_wall)  # a dead node serves none
    assert on_edge.last_packet_at - killed_at <= 0.5  # its viewer's media stopped with it
    assert_seconds_match_media(charged_on_edge, on_edge.seconds, slack=3)
    assert_seconds_match_media(ledger.seconds[views[origin["node_id"]]], on_origin.seconds, slack=3)
    assert len(ledger.seconds[views[origin["node_id"]]]) > len(charged_on_edge)
    await assert_books_balance(own_db, meter, ledger, viewer_id, DEPOSIT)
    report = await asyncio.to_thread(cli, env, "reconcile")
    assert report.returncode == 0, report.stdout + report.stderr
    assert "FAIL" not in report.stdout
