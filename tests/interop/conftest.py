"""The server on a veth address, and a namespace on the other end for clients that shun loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aioice.ice
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from signaling.config import AppConfig
from tests.interop.support.netns import (
    NamespaceUnavailable,
    VethNamespace,
    unavailable_reason,
    veth_namespace,
)
from tests.interop.support.whip_client import (
    EXECUTABLE,
    WhipClient,
    build_gupnp_igd_stub,
    installed,
    libsoup_clash,
)
from tests.support.configs import configured
from vilokanam.wiring import create_app


@pytest.fixture
def veth() -> Iterator[VethNamespace]:
    """A namespace for the client and a veth pair to it; torn down even when the test fails."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    try:
        with veth_namespace() as space:
            yield space
    except NamespaceUnavailable as exc:
        pytest.skip(f"cannot create a network namespace here: {exc}")


@pytest.fixture
async def veth_server(
    app_config: AppConfig,
    redis: aioredis.Redis,
    veth: VethNamespace,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[TestClient]:
    """The app listening (HTTP) and gathering (ICE) on the root end of the veth pair only.

    Test peers in this process (WHEP viewers) gather on that address too.
    """
    monkeypatch.setattr(
        aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [veth.host_address]
    )
    # Recording on: a GStreamer publisher's stream must archive like any other.
    config = configured(
        app_config, rtc_host_addresses=(veth.host_address,), recording=True, reconnect_grace_s=0.5
    )
    async with TestClient(TestServer(create_app(config), host=veth.host_address)) as client:
        yield client


@pytest.fixture
async def whip_clients() -> AsyncIterator[list[WhipClient]]:
    """Append started clients here: any still running at the end are killed (before the veth
    goes away), and a failing test shows their logs."""
    if not installed():
        pytest.skip(f"`{EXECUTABLE}` is not installed (Debian package simple-whip-client)")
    started: list[WhipClient] = []
    yield started
    for client in started:
        await client.kill()


@pytest.fixture(scope="session")
def whip_client_libraries(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A directory to put first in the client's LD_LIBRARY_PATH, or None if it needs none.

    Debian 12's whip-client aborts at start (libsoup 2 and 3 in one process, see
    gupnp_igd_stub.c) unless libnice gets the do-nothing gupnp-igd built here.
    """
    if not installed() or not libsoup_clash():
        return None
    try:
        return build_gupnp_igd_stub(tmp_path_factory.mktemp("gupnp-igd-stub"))
    except FileNotFoundError as exc:
        pytest.skip(f"whip-client needs the gupnp-igd stub, but: {exc}")
