"""The app on the real dev chain, with an escrow account of its own (chain_config), as a test
client: for the tests of money that moves on chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from billing.chain import ChainClient
from signaling.config import AppConfig
from tests.billing.support.chain_money import chain_config
from vilokanam.wiring import create_app


@asynccontextmanager
async def chain_test_client(
    app_config: AppConfig,
    database_url: str,
    chain_url: str,
    chain: ChainClient,
    *,
    port: int | None = None,
    **overrides: object,
) -> AsyncIterator[TestClient]:
    """A TestClient of the app; `port`: a real one on 127.0.0.1, for a browser.

    It keeps no cookies: tests say who they are with headers (a session cookie kept from one
    sign-in would sign in every later call, "signed out" ones included).
    """
    config = await chain_config(app_config, database_url, chain_url, chain, **overrides)
    server = (
        TestServer(create_app(config), host="127.0.0.1", port=port)
        if port
        else TestServer(create_app(config))
    )
    async with TestClient(server, cookie_jar=DummyCookieJar()) as client:
        yield client
