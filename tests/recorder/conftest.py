"""Recorder tests lease jobs from the whole vod_jobs table: each gets a database of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest


@pytest.fixture
async def db(own_db: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    yield own_db
