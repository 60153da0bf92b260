"""Rate limits hold in Redis: over the limit, 429 with Retry-After and a JSON message."""

from __future__ import annotations

import dataclasses

from aiohttp.test_utils import TestClient, TestServer
from substrateinterface import Keypair

from signaling.app import create_app


async def test_anonymous_nonces_are_limited_per_ip(app_config, redis) -> None:
    config = dataclasses.replace(app_config, nonce_rate_per_minute=3)
    address = Keypair.create_from_mnemonic(Keypair.generate_mnemonic()).ss58_address
    # Two processes of one server share the limit: it lives in Redis, not in a process.
    async with TestClient(TestServer(create_app(config))) as one, \
            TestClient(TestServer(create_app(config))) as two:
        statuses = [(await c.post("/api/auth/nonce", json={"address": address})).status
                    for c in (one, two, one)]
        assert statuses == [201, 201, 201]
        refused = await two.post("/api/auth/nonce", json={"address": address})
        assert refused.status == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert (await refused.json())["error"]["code"] == "too_many_requests"
        stored = [key async for key in redis.scan_iter(f"{config.redis_prefix}nonce:*")]
        assert len(stored) == 3  # the refused request stored nothing
