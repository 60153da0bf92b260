"""A server killed with SIGKILL leaves a live session and views open; the next server closes
them once the dead one's heartbeat has expired, and the views keep what they were charged."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.billing.support.processes import wait_healthy
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.webrtc_clients import whep, whip
from tests.support.ports import free_port
from vilokanam.devchain import DevChain

pytestmark = pytest.mark.usefixtures("loopback")

ROOT = Path(__file__).resolve().parents[2]


def _server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vilokanam", "run"],
        env={**env, "HTTP_PORT": str(port)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc)
    return proc, url


async def _open_rows(db: asyncpg.Pool, stream_id: str) -> tuple[bool, bool, str]:
    row = await db.fetchrow(
        """SELECT EXISTS (SELECT 1 FROM stream_sessions WHERE stream_id = $1::uuid
                                                         AND end_time IS NULL) AS session_open,
                  EXISTS (SELECT 1 FROM stream_viewers WHERE stream_id = $1::uuid
                                                         AND is_active) AS view_active,
                  (SELECT status FROM streams WHERE id = $1::uuid) AS status""",
        stream_id,
    )
    return row["session_open"], row["view_active"], row["status"]


async def test_sessions_of_a_killed_server_are_closed_by_the_next(
    tmp_path: Path,
    own_database_url: str,
    own_db: asyncpg.Pool,
    redis_url: str,
    redis_prefix: str,
    dev_chain: DevChain,
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_URL", "ESCROW_SEED")}
    env.update(
        DATABASE_URL=own_database_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=redis_prefix,
        CHAIN_URL=dev_chain.url,
        VILOKANAM_ENV="dev",
        VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(tmp_path / "media"),
        RTC_HOST_ADDRESSES="127.0.0.1",
        RTC_UDP_PORT="0",
        WORKERS="1",  # one node: the killed server's sessions are all on it
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    first, url = _server(env)
    try:
        async with aiohttp.ClientSession(base_url=url) as http:
            creator = await new_user(http, creator=True)  # type: ignore[arg-type]
            stream = await new_stream(http, creator)  # type: ignore[arg-type]
            broadcast = await whip(http, stream["id"], stream["stream_key"])  # type: ignore[arg-type]
            viewer, _ = await whep(http, stream["id"], await new_user(http))  # type: ignore[arg-type]
        assert await _open_rows(own_db, stream["id"]) == (True, True, "live")
        # What settlement had recorded for the view before the crash must survive the sweep.
        await own_db.execute(
            "UPDATE stream_viewers SET total_ticks = 7, paid_amount = 700 "
            "WHERE stream_id = $1::uuid",
            uuid.UUID(stream["id"]),
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        await viewer.pc.close()
        await broadcast.pc.close()
        assert await _open_rows(own_db, stream["id"]) == (True, True, "live")  # left open

        second, url = _server(env)
        try:
            for _ in range(120):  # the dead node's heartbeat expires, then a sweep runs
                if await _open_rows(own_db, stream["id"]) == (False, False, "ended"):
                    break
                await asyncio.sleep(0.5)
            assert await _open_rows(own_db, stream["id"]) == (False, False, "ended")
            view = await own_db.fetchrow(
                "SELECT total_ticks, paid_amount FROM stream_viewers WHERE stream_id = $1::uuid",
                uuid.UUID(stream["id"]),
            )
            assert (view["total_ticks"], view["paid_amount"]) == (7, 700)
            # The creator can go live again, on the new server.
            async with aiohttp.ClientSession(base_url=url) as http:
                again = await whip(http, stream["id"], stream["stream_key"])  # type: ignore[arg-type]
                await http.delete(again.location)
                await again.pc.close()
        finally:
            second.send_signal(signal.SIGINT)
            second.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
