"""Settings: defaults, one clear line for a bad variable, production strictness."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import annotated_types
import pytest
from pydantic.fields import FieldInfo

from vilokanam.settings import (
    Env,
    Settings,
    SettingsError,
    load_settings,
    section_types,
    variables,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "CHAIN_URL",
        "PUBLIC_URL",
        "VILOKANAM_ENV",
        "HTTP_PORT",
        "RTC_HOST_ADDRESSES",
        "RTC_UDP_MUX",
        "RTC_UDP_PORT",
        "ICE_SERVERS",
        "PLATFORM_FEE_BPS",
        "METRICS_ADDRESS",
        "METRICS_TOKEN",
        "ESCROW_SEED",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_serve_locally_in_dev() -> None:
    settings = load_settings()
    assert settings.vilokanam_env is Env.DEV
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.rtc.rtc_host_addresses == () and settings.rtc.ice_servers == ()
    assert settings.rtc.rtc_udp_mux and settings.rtc.rtc_udp_port == 7882  # single-port ICE


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
    [
        ("HTTP_PORT", "eighty"),
        ("HTTP_PORT", "70000"),
        ("PLATFORM_FEE_BPS", "10001"),
        ("DATABASE_URL", "mysql://x"),
        ("PUBLIC_URL", "ftp://x"),
        ("VILOKANAM_ENV", "staging"),
        ("METRICS_ADDRESS", "9100"),
        ("METRICS_ADDRESS", "127.0.0.1:http"),
        ("UPLOAD_MAX_BYTES", "0"),
        ("MAX_JSON_BYTES", "10"),
        ("RECORDING", "maybe"),
        ("PAYOUT_INTERVAL_S", "0"),
    ],
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
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "vilokanam: invalid setting HTTP_PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_dev_login_is_refused_in_production(tmp_path) -> None:
    env = {
        "VILOKANAM_ENV": "production",
        "DATABASE_URL": "postgresql://d/x",
        "REDIS_URL": "redis://r",
        "CHAIN_URL": "ws://c",
        "PUBLIC_URL": "https://v.example",
        "ESCROW_SEED": "//unused",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "vilokanam", "dev-login", "//Alice"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert "disabled outside dev mode" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("PUBLIC_URL", "https://vilokanam.example"),
        ("PUBLIC_URL", "http://10.0.0.5:8080"),
        ("CHAIN_URL", "wss://rpc.example.org"),
        ("CHAIN_URL", "ws://192.168.1.20:9944"),
    ],
)
def test_unset_env_with_a_public_url_refuses_dev_mode(monkeypatch, name: str, url: str) -> None:
    monkeypatch.setenv(name, url)
    with pytest.raises(SettingsError, match=f"{name} .* is not local but VILOKANAM_ENV is unset"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("PUBLIC_URL", "http://localhost:8080"),
        ("PUBLIC_URL", "http://127.0.0.1:8080"),
        ("CHAIN_URL", "ws://127.0.0.1:9944"),
        ("CHAIN_URL", "ws://[::1]:9944"),
    ],
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
    env = {
        "PUBLIC_URL": "https://vilokanam.example",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "vilokanam", "run"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "vilokanam: invalid settings: PUBLIC_URL vilokanam.example is not local but "
        "VILOKANAM_ENV is unset: set VILOKANAM_ENV=production (or VILOKANAM_ENV=dev to run dev "
        "mode anyway)"
    ]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (True, None)),
        ({"METRICS_ADDRESS": "127.0.0.1:9100"}, (False, None)),
        (
            {
                "VILOKANAM_ENV": "production",
                "DATABASE_URL": "postgresql://d/x",
                "REDIS_URL": "redis://r",
                "CHAIN_URL": "ws://c",
                "PUBLIC_URL": "https://v.example",
                "ESCROW_SEED": "//x",
            },
            (False, None),
        ),
        ({"METRICS_TOKEN": "t0ken"}, (True, "t0ken")),
    ],
)
def test_metrics_are_open_on_the_main_listener_only_in_plain_dev(monkeypatch, env, expected):
    from vilokanam.server import ServiceUrls, app_config

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = app_config(load_settings(), ServiceUrls("postgresql://d/x", "redis://r", None))
    assert (config.metrics_on_main, config.server.metrics_token) == expected
    assert "t0ken" not in repr(config)


# A valid value other than the default, for the settings whose format a validator checks.
EXAMPLES = {
    "VILOKANAM_ENV": ("production", Env.PRODUCTION),
    "DATABASE_URL": ("postgresql://db.example/x", "postgresql://db.example/x"),
    "REDIS_URL": ("rediss://cache.example", "rediss://cache.example"),
    "CHAIN_URL": ("wss://rpc.example", "wss://rpc.example"),
    "CHAIN_PUBLIC_URL": ("wss://public-rpc.example", "wss://public-rpc.example"),
    "PUBLIC_URL": ("https://v.example/", "https://v.example"),
    "METRICS_ADDRESS": ("127.0.0.1:9100", "127.0.0.1:9100"),
    "BILLING_WORKERS": ("payouts, settlement", ("settlement", "payouts")),
    "SFU_FANOUT": ("python", "python"),
    "WORKERS": ("3", 3),
    "NODE_INTERNAL_URL": ("http://10.0.0.2:7890/", "http://10.0.0.2:7890"),
}


def _example(name: str, field: FieldInfo, tmp_path: Path) -> tuple[str, object]:
    """What to set a variable to, and the value the setting must then hold."""
    if name in EXAMPLES:
        return EXAMPLES[name]
    kind, default = field.annotation, field.default
    if kind in (bool, bool | None):
        return ("false", False) if default is True else ("true", True)
    if kind in (int, float):
        upper = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
        value = kind(default + 1)
        if upper is not None and value > upper:
            value = kind(default - 1)
        return str(value), value
    if kind == Path or kind == Path | None:
        return str(tmp_path / name.lower()), tmp_path / name.lower()
    if kind == tuple[str, ...]:
        return "a.example, b.example", ("a.example", "b.example")
    return f"x-{name.lower()}", f"x-{name.lower()}"


def test_every_setting_is_reachable_from_its_variable(monkeypatch, tmp_path: Path) -> None:
    """Each field of Settings and of its sections is read from its variable, and AppConfig gets
    the sections as read."""
    from vilokanam.server import ServiceUrls, app_config

    expected: dict[str, object] = {}
    for name, section in variables().items():
        model = section_types(Settings)[section] if section else Settings
        field = model.model_fields[name.lower()]
        raw, expected[name] = _example(name, field, tmp_path)
        assert expected[name] != field.default, name
        monkeypatch.setenv(name, raw)
    settings = load_settings()
    for name, section in variables().items():
        holder = getattr(settings, section) if section else settings
        assert getattr(holder, name.lower()) == expected[name], name
    config = app_config(settings, ServiceUrls("postgresql://d/x", "redis://r", None))
    for section in section_types(Settings):
        assert getattr(config, section) is getattr(settings, section)


def test_configuration_doc_lists_every_setting_with_its_section() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| ([a-z—]+) \|", doc, re.MULTILINE)
    assert len(rows) == len(set(rows))
    assert {name: "" if section == "—" else section for name, section in rows} == variables()


def test_setting_names_are_unique_across_sections() -> None:
    names = [*Settings.model_fields] + [
        name for model in section_types(Settings).values() for name in model.model_fields
    ]
    assert len(names) == len(set(names))


def test_chunk_sizes_out_of_order_are_refused_in_one_line(monkeypatch) -> None:
    monkeypatch.setenv("UPLOAD_CHUNK_BYTES", "1024")
    with pytest.raises(SettingsError, match=r"^invalid settings: UPLOAD_MIN_CHUNK_BYTES <= "):
        load_settings()


def test_a_variable_named_like_a_section_is_ignored(monkeypatch) -> None:
    monkeypatch.setenv("SERVER", "web-1")
    monkeypatch.setenv("MEDIA", "{}")
    assert load_settings().server.http_port == 8080
