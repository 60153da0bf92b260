"""The app's meter, for tests that fund viewers or read what they were charged."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from billing.meter import Meter
from signaling.keys import BILLING


def meter(client: TestClient) -> Meter:
    return client.app[BILLING].meter
