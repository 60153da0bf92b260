"""Logging set-up: aioice's per-candidate-pair chatter stays out of INFO logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from vilokanam.logs import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root, aioice = logging.getLogger(), logging.getLogger("aioice")
    handlers, level, aioice_level = root.handlers[:], root.level, aioice.level
    yield
    root.handlers[:], root.level = handlers, level
    aioice.setLevel(aioice_level)


@pytest.mark.usefixtures("restored_logging")
def test_aioice_pair_checks_are_quiet_at_info_and_kept_for_debug() -> None:
    pair_checks = logging.getLogger("aioice.ice")
    configure_logging("INFO", json=True)
    assert not pair_checks.isEnabledFor(logging.INFO)
    assert pair_checks.isEnabledFor(logging.WARNING)  # failures still show
    assert logging.getLogger("signaling.app").isEnabledFor(logging.INFO)
    configure_logging("DEBUG", json=True)
    assert pair_checks.isEnabledFor(logging.INFO)
