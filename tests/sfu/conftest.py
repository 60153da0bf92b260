"""The sfu under test, gathering on 127.0.0.1 (publish and view helpers: tests/sfu/support).

``sfu`` uses the default fan-out (native when built); a test marked with
``tests.sfu.support.peers.both_fanouts`` runs on both implementations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sfu import IceSettings, Sfu
from sfu.fanout import NATIVE_AVAILABLE


@pytest.fixture
async def sfu(request: pytest.FixtureRequest, loopback: None) -> AsyncIterator[Sfu]:
    """An Sfu gathering on 127.0.0.1 only, every peer connection on one UDP port (a free one),
    with the fan-out asked for (if parametrized)."""
    fanout: str | None = getattr(request, "param", None)
    if fanout == "native" and not NATIVE_AVAILABLE:
        pytest.skip("sfu._fanout is not built")
    server = Sfu(
        IceSettings(host_addresses=("127.0.0.1",), udp_port=0),
        keyframe_interval=0.3,
        fanout=fanout,
    )
    assert fanout is None or server.native == (fanout == "native")
    yield server
    await server.close()
