"""The real app on a real port (a browser needs one) and headless Chromium, for the e2e tests."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from signaling.config import AppConfig
from tests.e2e.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.ports import free_port
from vilokanam.wiring import create_app


@pytest.fixture
async def app_server(app_config: AppConfig, redis: object) -> AsyncIterator[TestServer]:
    """The real app on 127.0.0.1, on a real port as a browser needs."""
    port = free_port()
    config = dataclasses.replace(app_config, public_url=f"http://127.0.0.1:{port}", dev_mode=True)
    test_server = TestServer(create_app(config), host="127.0.0.1", port=port)
    await test_server.start_server()
    yield test_server
    await test_server.close()


@pytest.fixture
def server(app_server: TestServer) -> str:
    """The app's base URL."""
    return str(app_server.make_url("")).rstrip("/")


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()
