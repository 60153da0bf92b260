"""Settings: defaults, one clear line for a bad variable, production strictness."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vilokanam.settings import Env, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "CHAIN_URL", "PUBLIC_URL", "VILOKANAM_ENV",
                 "HTTP_PORT", "RTC_HOST_ADDRESSES", "ICE_SERVERS", "PLATFORM_FEE_BPS",
                 "METRICS_ADDRESS", "METRICS_TOKEN", "ESCROW_SEED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_serve_locally_in_dev() -> None:
    settings = load_settings()
    assert settings.vilokanam_env is Env.DEV
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.rtc.rtc_host_addresses == () and settings.rtc.ice_servers == ()


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTC_HOST_ADDRESSES", "127.0.0.1, 10.1.2.3")
    monkeypatch.setenv("ICE_SERVERS", "")
    settings = load_settings()
    assert settings.rtc.rtc_host_addresses == ("127.0.0.1", "10.1.2.3")
    assert settings.rtc.ice_servers == ()


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("HTTP_PORT=9123\n")
    assert load_settings().server.http_port == 9123


@pytest.mark.parametrize(
    ("name", "value"),
    [("HTTP_PORT", "eighty"), ("HTTP_PORT", "70000"), ("PLATFORM_FEE_BPS", "10001"),
     ("DATABASE_URL", "mysql://x"), ("PUBLIC_URL", "ftp://x"), ("VILOKANAM_ENV", "staging"),
     ("METRICS_ADDRESS", "9100"), ("METRICS_ADDRESS", "127.0.0.1:http")],
)
def test_bad_value_names_the_variable(monkeypatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"invalid setting {name}:"):
        load_settings()


def test_production_refuses_to_start_without_externals(monkeypatch) -> None:
    monkeypatch.setenv("VILOKANAM_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/x")
    with pytest.raises(SettingsError, match="REDIS_URL, CHAIN_URL, PUBLIC_URL"):
        load_settings()


def test_cli_prints_one_line_and_fails(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vilokanam", "migrate"],
        env={"HTTP_PORT": "x", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "vilokanam: invalid setting HTTP_PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_dev_login_is_refused_in_production(tmp_path) -> None:
    env = {"VILOKANAM_ENV": "production", "DATABASE_URL": "postgresql://d/x",
           "REDIS_URL": "redis://r", "CHAIN_URL": "ws://c", "PUBLIC_URL": "https://v.example",
           "ESCROW_SEED": "//unused", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "vilokanam", "dev-login", "//Alice"], env=env,
                            capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "disabled outside dev mode" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("name", "url"),
    [("PUBLIC_URL", "https://vilokanam.example"), ("PUBLIC_URL", "http://10.0.0.5:8080"),
     ("CHAIN_URL", "wss://rpc.example.org"), ("CHAIN_URL", "ws://192.168.1.20:9944")],
)
def test_unset_env_with_a_public_url_refuses_dev_mode(monkeypatch, name: str, url: str) -> None:
    monkeypatch.setenv(name, url)
    with pytest.raises(SettingsError, match=f"{name} .* is not local but VILOKANAM_ENV is unset"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "url"),
    [("PUBLIC_URL", "http://localhost:8080"), ("PUBLIC_URL", "http://127.0.0.1:8080"),
     ("CHAIN_URL", "ws://127.0.0.1:9944"), ("CHAIN_URL", "ws://[::1]:9944")],
)
def test_unset_env_with_local_urls_is_dev(monkeypatch, name: str, url: str) -> None:
    monkeypatch.setenv(name, url)
    assert load_settings().is_dev


def test_dev_mode_asked_for_explicitly_may_use_public_urls(monkeypatch) -> None:
    monkeypatch.setenv("VILOKANAM_ENV", "dev")
    monkeypatch.setenv("PUBLIC_URL", "https://vilokanam.example")
    monkeypatch.setenv("CHAIN_URL", "wss://rpc.example.org")
    assert load_settings().is_dev


def test_run_refuses_implicit_dev_mode_in_one_line(tmp_path) -> None:
    env = {"PUBLIC_URL": "https://vilokanam.example", "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run([sys.executable, "-m", "vilokanam", "run"], env=env,
                            capture_output=True, text=True, cwd=tmp_path, check=False,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "vilokanam: invalid settings: PUBLIC_URL vilokanam.example is not local but "
        "VILOKANAM_ENV is unset: set VILOKANAM_ENV=production (or VILOKANAM_ENV=dev to run dev "
        "mode anyway)"
    ]


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, (True, None)),
     ({"METRICS_ADDRESS": "127.0.0.1:9100"}, (False, None)),
     ({"VILOKANAM_ENV": "production", "DATABASE_URL": "postgresql://d/x", "REDIS_URL": "redis://r",
       "CHAIN_URL": "ws://c", "PUBLIC_URL": "https://v.example", "ESCROW_SEED": "//x"},
      (False, None)),
     ({"METRICS_TOKEN": "t0ken"}, (True, "t0ken"))],
)
def test_metrics_are_open_on_the_main_listener_only_in_plain_dev(monkeypatch, env, expected):
    from vilokanam.server import ServiceUrls, app_config

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = app_config(load_settings(), ServiceUrls("postgresql://d/x", "redis://r", None))
    assert (config.metrics_on_main, config.server.metrics_token) == expected
    assert "t0ken" not in repr(config)
