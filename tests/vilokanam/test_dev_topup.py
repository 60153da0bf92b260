"""`vilokanam dev-topup //Bob AMOUNT`: a dev account deposits on the dev chain and the server
credits it through its deposit watcher, as it would a wallet's transfer."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from tests.billing.support.processes import cli, wait_healthy
from vilokanam.devtopup import DevTopUpError, format_units, parse_units

ROC = 10**12


def test_amounts_in_the_chain_unit_become_exact_planck() -> None:
    assert parse_units("25", 12) == 25 * ROC
    assert parse_units("0.5", 12) == ROC // 2
    assert parse_units("0.000000000001", 12) == 1
    assert parse_units("123456789012345678.9", 12) == 123456789012345678 * ROC + ROC * 9 // 10
    assert format_units(25 * ROC + ROC // 4, 12) == "25.25"
    assert format_units(7 * ROC, 12) == "7"


@pytest.mark.parametrize("text", ["", "abc", "-1", "1e3", "0", "0.0", "1.2.3", "0.0000000000001"])
def test_what_is_not_a_positive_amount_is_refused(text: str) -> None:
    with pytest.raises(DevTopUpError):
        parse_units(text, 12)


@pytest.fixture
def server(run_env: dict[str, str]) -> Iterator[str]:
    url = f"http://127.0.0.1:{run_env['HTTP_PORT']}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vilokanam", "run"],
        env=run_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def _cli(run_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return cli(run_env, *args, timeout=120)  # a top-up waits for blocks and the watcher


def _balance(url: str, token: str) -> int:
    request = urllib.request.Request(  # noqa: S310
        f"{url}/api/me/balance", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return int(json.load(response)["available"])


def test_dev_topup_credits_the_balance_through_the_chain(
    server: str, run_env: dict[str, str]
) -> None:
    bad = _cli(run_env, "dev-topup", "//Bob", "-3", "--url", server)
    assert bad.returncode == 1 and "not an amount" in bad.stderr

    first = _cli(run_env, "dev-topup", "//Bob", "25", "--url", server)
    assert first.returncode == 0, first.stderr
    assert "transfer final on chain" in first.stderr
    assert "credited 25 ROC" in first.stdout and "balance 25 ROC" in first.stdout

    second = _cli(run_env, "dev-topup", "//Bob", "0.5", "--url", server)
    assert second.returncode == 0, second.stderr
    assert "balance 25.5 ROC" in second.stdout

    token = _cli(run_env, "dev-login", "//Bob", "--url", server).stdout.strip()
    assert _balance(server, token) == 25 * ROC + ROC // 2  # the refused "-3" moved nothing


def test_dev_topup_refuses_what_is_not_a_dev_account(run_env: dict[str, str]) -> None:
    done = _cli(run_env, "dev-topup", "Bob", "1", "--url", "http://127.0.0.1:9")
    assert done.returncode == 1 and "not a dev key URI" in done.stderr
