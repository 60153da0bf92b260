"""Fixtures of the `vilokanam` command's tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.ports import free_port


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        VAR_DIR=str(tmp_path / "var"),
        HTTP_PORT=str(free_port()),
        VILOKANAM_ENV="dev",
        PUBLIC_URL="",
        RTC_UDP_PORT="0",
    )
    env.pop("PUBLIC_URL")
    return env
