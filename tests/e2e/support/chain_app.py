"""The app on the real dev chain with a funded escrow of its own, on a real port for a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp.test_utils import TestClient

from billing.chain import ChainClient
from signaling.config import AppConfig
from tests.support.chain_app import chain_test_client
from tests.support.ports import free_port


@asynccontextmanager
async def chain_app_server(
    app_config: AppConfig,
    database_url: str,
    chain_url: str,
    chain_client: ChainClient,
    **overrides: object,
) -> AsyncIterator[TestClient]:
    """A TestClient of the app (dev mode) at http://127.0.0.1:<free port>."""
    port = free_port()
    async with chain_test_client(
        app_config,
        database_url,
        chain_url,
        chain_client,
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        dev_mode=True,
        **overrides,
    ) as client:
        yield client


async def dev_headers(client: TestClient, uri: str) -> dict[str, str]:
    """Authorization headers of a dev account (//Bob, //Ferdie, …) signed in on the app."""
    login = await client.post("/api/dev/login", json={"uri": uri})
    assert login.status == 200, await login.text()
    return {"Authorization": f"Bearer {(await login.json())['token']}"}
