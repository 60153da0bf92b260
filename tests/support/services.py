"""Real PostgreSQL and Redis for tests: the machine's (DATABASE_URL/REDIS_URL) or embedded ones.

Each test session gets a database of its own, created fresh and migrated, so runs never see
each other's rows; Redis keys are namespaced by a random prefix per test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from vilokanam.embedded import start_postgres, start_redis
from vilokanam.migrate import migrate


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def postgres_server(tmp: Path) -> Iterator[str]:
    """URL of a PostgreSQL server we may create databases on."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    service = start_postgres(tmp)
    try:
        yield service.url
    finally:
        service.stop()


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    service = start_redis(tmp)
    try:
        yield service.url
    finally:
        service.stop()


async def _admin(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database(admin_url: str, migrated: bool = True) -> Iterator[str]:
    """Create an empty database (migrated unless told otherwise); drop it afterwards."""
    name = f"vk_test_{secrets.token_hex(6)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = with_database(admin_url, name)
    try:
        if migrated:
            asyncio.run(migrate(url))
        yield url
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
