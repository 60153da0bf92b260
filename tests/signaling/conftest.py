"""Fixtures of the signaling tests: a signed-in creator and a stream of theirs."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.signaling.support.accounts import new_stream, new_user


@pytest.fixture
async def creator(client: TestClient) -> dict[str, str]:
    """Authorization headers of a fresh creator."""
    return await new_user(client, creator=True)


@pytest.fixture
async def stream(client: TestClient, creator: dict) -> dict:
    """A pending stream of `creator`, with its stream key."""
    return await new_stream(client, creator)
