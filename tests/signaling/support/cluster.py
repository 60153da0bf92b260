"""Several nodes of one cluster in the test process: each its own app, sfu and node id on its own
port, sharing PostgreSQL and Redis (and the Redis prefix) the way `vilokanam run`'s nodes do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from aiohttp.test_utils import TestClient, TestServer

from signaling.config import AppConfig
from tests.support.configs import configured
from tests.support.ports import free_port
from vilokanam.wiring import create_app

NODE_SECRET = "test-node-credential-" + "x" * 20


def node_config(app_config: AppConfig, **changes: object) -> AppConfig:
    """One node's config: its own port as public and internal URL, the shared credential."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return configured(
        app_config,
        public_url=url,
        node_internal_url=url,
        node_port=port,
        node_secret=NODE_SECRET,
        **changes,
    )


@asynccontextmanager
async def cluster(
    app_config: AppConfig, nodes: int = 2, **changes: object
) -> AsyncIterator[list[TestClient]]:
    """`nodes` running nodes, each a TestClient on its own port (its internal URL)."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(nodes):
            config = node_config(app_config, **changes)
            server = TestServer(create_app(config), host="127.0.0.1", port=config.cluster.node_port)
            clients.append(await stack.enter_async_context(TestClient(server)))
        yield clients
