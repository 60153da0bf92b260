"""The sfu under test, gathering on 127.0.0.1 (publish and view helpers: tests/sfu/support)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sfu import IceSettings, Sfu


@pytest.fixture
async def sfu(loopback: None) -> AsyncIterator[Sfu]:
    """An Sfu gathering on 127.0.0.1 only, every peer connection on one UDP port (a free one)."""
    server = Sfu(IceSettings(host_addresses=("127.0.0.1",), udp_port=0), keyframe_interval=0.3)
    yield server
    await server.close()
