"""Fixtures shared by every test package: real PostgreSQL, Redis, and the HTTP app."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from signaling.config import AppConfig, MediaSettings, RtcSettings, ServerSettings
from tests.signaling.support.uploads import make_clip, upload_config
from tests.support.services import fresh_database, postgres_server, redis_server
from vilokanam.wiring import create_app

pytest_plugins = ["tests.support.chain_fixtures"]


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres_server(tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture(scope="session")
def database_url(pg_admin_url: str) -> Iterator[str]:
    """A migrated database for this test session."""
    with fresh_database(pg_admin_url) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_prefix() -> str:
    return f"vktest{secrets.token_hex(4)}:"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    keys = [key async for key in client.scan_iter(f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def app_config(
    request: pytest.FixtureRequest,
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> AppConfig:
    config = AppConfig(
        database_url=database_url,
        redis_url=redis_url,
        public_url="http://127.0.0.1:8080",
        server=ServerSettings(redis_prefix=redis_prefix),
        # The shared UDP port: any free one, so that test servers in parallel do not collide.
        rtc=RtcSettings(rtc_host_addresses=("127.0.0.1",), ice_servers=(), rtc_udp_port=0),
        # The recorder's own tests turn recording on; VOD jobs run where a test asks.
        media=MediaSettings(media_root=tmp_path / "media", recording=False, vod_worker=False),
    )
    if request.node.get_closest_marker("own_database"):  # what it sees is its own alone
        return upload_config(config, request.getfixturevalue("own_database_url"), tmp_path)
    return config


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 2 s 320x240 H.264/AAC MP4, for the tests that upload a video."""
    return make_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture
async def client(app_config: AppConfig, redis: aioredis.Redis) -> AsyncIterator[TestClient]:
    # Tests say who they are with explicit headers: a session cookie kept from one sign-in would
    # sign in every later request (the cookie's own tests send it themselves).
    cookies = DummyCookieJar()
    async with TestClient(TestServer(create_app(app_config)), cookie_jar=cookies) as test_client:
        yield test_client


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test WebRTC clients gather host candidates on 127.0.0.1 (aioice leaves it out)."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture
def own_database_url(pg_admin_url: str) -> Iterator[str]:
    """A migrated database of this test alone (for checks over whole tables, like reconcile)."""
    with fresh_database(pg_admin_url) as url:
        yield url


@pytest.fixture
async def own_db(own_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(own_database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()
