"""The dev chain starts whatever spelling of LOG_LEVEL the server was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.chain_fixtures import dev_rpc
from vilokanam.devchain import chopsticks_log_level, ensure_npm_installed, start_dev_chain

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("level", ["INFO", "WARNING"])
async def test_dev_chain_starts_with_python_log_level(monkeypatch, tmp_path, level: str) -> None:
    # The documented default spelling used to reach chopsticks unchanged and stop it at boot.
    monkeypatch.setenv("LOG_LEVEL", level)
    ensure_npm_installed(ROOT)
    chain = await start_dev_chain(ROOT, var_dir=tmp_path / "chain")
    try:
        header = await dev_rpc(chain, "chain_getHeader")
        assert int(header["number"], 16) >= 0
    finally:
        await chain.stop()


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (None, "info"),
        ("INFO", "info"),
        ("DEBUG", "debug"),
        ("WARNING", "info"),
        ("CRITICAL", "info"),
        ("trace", "trace"),
        ("loud", "info"),
    ],
)
def test_log_levels_map_to_what_chopsticks_accepts(ours: str | None, theirs: str) -> None:
    assert chopsticks_log_level(ours) == theirs
