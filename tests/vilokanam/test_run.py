"""`vilokanam run` with no DATABASE_URL/REDIS_URL: embedded services, health, dev-login, stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.billing.support.processes import wait_healthy


def _children_alive(var_dir: Path) -> list[str]:
    ps = ["ps", "-eww", "-o", "args"]
    out = subprocess.run(ps, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if str(var_dir) in line]


def test_run_serves_health_and_stops_embedded_services(run_env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{run_env['HTTP_PORT']}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vilokanam", "run"],
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        health = wait_healthy(url, proc)
        assert health["status"] == 200
        assert '"postgres": "ok"' in health["body"] and '"redis": "ok"' in health["body"]
        login = subprocess.run(
            [sys.executable, "-m", "vilokanam", "dev-login", "//Bob", "--url", url],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert login.returncode == 0, login.stderr
        token = login.stdout.strip()
        assert token.startswith("vkt_") and "\n" not in token
        request = urllib.request.Request(  # noqa: S310
            f"{url}/api/me",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            assert response.status == 200
        assert _children_alive(Path(run_env["VAR_DIR"]))  # embedded postgres + redis running
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert _children_alive(Path(run_env["VAR_DIR"])) == []
    # Data persists in the var folder between runs.
    assert (Path(run_env["VAR_DIR"]) / "pg" / "data" / "PG_VERSION").exists()
