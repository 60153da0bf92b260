"""A node's Redis client waits for a connection in a burst instead of failing (issue 12's cluster
bench: hundreds of session ends at once ran redis-py's default pool of 100 dry, and WHEP
requests, counts and view slots failed with MaxConnectionsError)."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp.test_utils import TestClient

from signaling.app import REDIS_MAX_CONNECTIONS
from signaling.keys import REDIS
from tests.signaling.support.accounts import new_user

BURST = 150  # more than redis-py's default pool (100), fewer than the node's


async def test_a_burst_of_slow_redis_commands_waits_and_requests_meanwhile_answer(
    client: TestClient,
) -> None:
    headers = await new_user(client)
    redis = client.app[REDIS]
    key = f"test:burst:{uuid.uuid4()}"
    # Each BLPOP holds a connection until its timeout: BURST connections in use at once.
    burst = asyncio.gather(*(redis.blpop([key], timeout=1) for _ in range(BURST)))
    await asyncio.sleep(0.2)
    me = await client.get("/api/me", headers=headers)  # its session lookup needs Redis too
    assert me.status == 200
    assert await burst == [None] * BURST
    assert BURST < REDIS_MAX_CONNECTIONS


async def test_past_the_pool_a_command_waits_for_a_connection(client: TestClient) -> None:
    redis = client.app[REDIS]
    key = f"test:burst:{uuid.uuid4()}"
    held = asyncio.gather(*(redis.blpop([key], timeout=1) for _ in range(REDIS_MAX_CONNECTIONS)))
    await asyncio.sleep(0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await redis.set(f"{key}:late", "1", ex=10)  # waited for a BLPOP to give one back
    assert loop.time() - started > 0.5
    await held
