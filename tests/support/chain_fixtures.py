"""pytest plugin: a real chopsticks dev chain per test session, and clients of it.

Register from tests/conftest.py with ``pytest_plugins = ["tests.support.chain_fixtures"]``.
The chain is shared by the whole session: tests should send to fresh accounts (see
``fresh_account``) rather than assume exact balances of the dev accounts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from substrateinterface import Keypair

from billing.chain import ChainClient
from vilokanam.devchain import DevChain, ensure_npm_installed, start_dev_chain

ROOT = Path(__file__).resolve().parents[2]

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    # A private loop, not asyncio.run: that would reset the current loop pytest-asyncio set up.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


@pytest.fixture(scope="session")
def dev_chain() -> Iterator[DevChain]:
    """A chopsticks node on 127.0.0.1 (free port), offline, dev accounts funded; stopped at end."""
    ensure_npm_installed(ROOT)
    chain = _run(start_dev_chain(ROOT))
    try:
        yield chain
    finally:
        _run(chain.stop())


@pytest.fixture
async def chain_client(dev_chain: DevChain) -> AsyncIterator[ChainClient]:
    """A connected ChainClient (own nonce allocator) for one test."""
    client = await ChainClient.connect(dev_chain.url)
    yield client
    await client.close()


def fresh_account(ss58_format: int = 42) -> Keypair:
    """A new random sr25519 account, empty on chain."""
    return Keypair.create_from_mnemonic(Keypair.generate_mnemonic(), ss58_format=ss58_format)


async def dev_rpc(chain: DevChain, method: str, params: list | None = None) -> Any:
    """Call a JSON-RPC method (e.g. chopsticks' ``dev_newBlock``) over HTTP; return its result."""
    url = "http" + chain.url.removeprefix("ws")
    payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    async with aiohttp.ClientSession() as http, http.post(url, json=payload) as resp:
        body = await resp.json(content_type=None)
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body["result"]
