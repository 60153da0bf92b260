"""Settings from the environment (and `.env` if present).

Every variable is read once at start. An invalid value stops the process with one line that
names the variable, so operators never chase a stack trace for a typo.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Env(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


BILLING_LOOPS = ("settlement", "deposits", "payouts")


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    vilokanam_env: Env = Env.DEV
    database_url: str | None = None
    redis_url: str | None = None
    chain_url: str | None = None
    # What browsers' wallets connect to (default: CHAIN_URL, or the dev chain's URL).
    chain_public_url: str | None = None
    # Smallest creator payout in planck (0: the chain's existential deposit).
    payout_threshold: int = Field(default=0, ge=0)
    # A VOD worker's lease on a job; a dead worker's job is taken over after this long.
    vod_lease_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    # Seconds of balance a paid view needs to start.
    min_view_seconds: int = Field(default=5, ge=1, le=3600)
    media_root: Path = ROOT / "var" / "media"
    var_dir: Path = ROOT / "var"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = None
    platform_fee_bps: int = Field(default=1000, ge=0, le=10_000)
    ss58_format: int = Field(default=2, ge=0, le=16383)
    session_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    nonce_ttl_s: int = Field(default=300, ge=10, le=3600)
    redis_prefix: str = "vk:"
    # Secret seed of the platform escrow account (production only; dev derives a dev key).
    escrow_seed: str | None = Field(default=None, repr=False)
    escrow_seed_file: Path | None = None
    rtc_host_addresses: Annotated[tuple[str, ...], NoDecode] = ()
    rtc_announced_address: str | None = None
    ice_servers: Annotated[tuple[str, ...], NoDecode] = ()
    log_level: str = "INFO"
    # Seconds within which a viewer must acknowledge a second of media (RTCP receiver reports)
    # for it to be charged; a viewer silent for longer is cut.
    viewer_ack_window_s: float = Field(default=3.0, ge=1.0, le=30.0)
    # WHEP sessions one account may hold open (connected or not).
    max_views_per_viewer: int = Field(default=4, ge=1, le=100)
    # Seconds a WHIP/WHEP peer has to bring ICE and DTLS up before its session is ended.
    rtc_connect_timeout_s: float = Field(default=15.0, ge=1.0, le=300.0)
    # Billing loops `vilokanam run` runs in-process: "all", "none", or a comma list of
    # settlement, deposits, payouts (run the others as `vilokanam worker ROLE`).
    billing_workers: Annotated[tuple[str, ...], NoDecode] = BILLING_LOOPS
    # Record every live stream in the server process.
    recording: bool = True
    # Run one VOD worker in the server process (default: in dev only).
    vod_worker: bool | None = None
    # Seconds a payout signer's lease on the escrow lasts without renewal (a dead signer's
    # successor starts signing after at most this long).
    payout_lease_s: float = Field(default=15.0, ge=1.0, le=600.0)
    # host:port of a listener serving only /metrics; the main listener then serves none.
    metrics_address: str | None = None
    # Bearer token /metrics on the main listener asks for (production without METRICS_ADDRESS).
    metrics_token: str | None = Field(default=None, repr=False)
    # Sign-in nonces one IP address may ask for per minute (anonymous, so limited per address).
    nonce_rate_per_minute: int = Field(default=60, ge=1, le=100_000)
    # Creator payouts (billing/payout_policy.py): at most one per creator per interval, and,
    # unless PAYOUT_THRESHOLD is set, each at least the amount whose fee is this many bps of it.
    payout_min_interval_s: float = Field(default=3600.0, ge=0.0, le=30 * 24 * 3600)
    payout_max_fee_bps: int = Field(default=50, ge=1, le=10_000)
    # Chat messages one user may post per CHAT_WINDOW_S seconds (all their sockets together).
    chat_burst: int = Field(default=5, ge=1, le=10_000)
    chat_window_s: int = Field(default=5, ge=1, le=3600)
    # Signed-in WebSockets (stream pages and dashboards) one user may hold open at once.
    websockets_per_user: int = Field(default=20, ge=1, le=10_000)
    # WHIP/WHEP session PATCHes (trickle) and DELETEs one IP address may make per minute.
    session_requests_per_minute: int = Field(default=300, ge=1, le=1_000_000)
    # Seconds in which repeat playbacks of a video by one viewer (user, else IP) count once.
    view_count_window_s: int = Field(default=1800, ge=1, le=30 * 24 * 3600)
    # Per creator: uploads in progress at once, and the bytes they declare together.
    upload_max_open_per_creator: int = Field(default=5, ge=1, le=10_000)
    upload_quota_bytes: int = Field(default=10 * 1024**3, ge=1)
    # Seconds without a chunk after which an unfinished upload is removed (row and files).
    upload_expiry_s: int = Field(default=24 * 3600, ge=60)

    _csv = field_validator("rtc_host_addresses", "ice_servers", mode="before")(_split_csv)

    @field_validator("billing_workers", mode="before")
    @classmethod
    def _billing_loops(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        words = {part.strip().lower() for part in value.split(",") if part.strip()}
        if words <= {"all"} and words:
            return BILLING_LOOPS
        if words <= {"none"}:
            return ()
        unknown = words - set(BILLING_LOOPS)
        if unknown:
            raise ValueError(f"unknown billing loop(s) {', '.join(sorted(unknown))}; use all, "
                             f"none or a comma list of {', '.join(BILLING_LOOPS)}")
        return tuple(loop for loop in BILLING_LOOPS if loop in words)

    @field_validator("public_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("database_url")
    @classmethod
    def _pg_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("must be a postgresql:// URL")
        return value or None

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value or None

    @field_validator("chain_url", "chain_public_url")
    @classmethod
    def _ws_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError("must be a ws:// or wss:// URL")
        return value or None

    @field_validator("metrics_address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:9100")
        return value

    @property
    def metrics_listener(self) -> tuple[str, int] | None:
        """(host, port) of the separate /metrics listener, if one is configured."""
        if self.metrics_address is None:
            return None
        host, _, port = self.metrics_address.rpartition(":")
        return host.strip("[]"), int(port)

    @model_validator(mode="after")
    def _production_needs_everything(self) -> Settings:
        if self.vilokanam_env is Env.PRODUCTION:
            required = {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "CHAIN_URL": self.chain_url,
                "PUBLIC_URL": self.public_url,
                "ESCROW_SEED or ESCROW_SEED_FILE": self.escrow_seed or self.escrow_seed_file,
            }
            missing = [name for name, value in required.items() if not value]
            if missing:
                raise ValueError(f"production requires {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _implicit_dev_stays_local(self) -> Settings:
        # Dev mode hands out a public escrow key and opens /api/dev/login: never fall into it
        # by default on a server others can reach.
        if "vilokanam_env" in self.model_fields_set:
            return self
        for name, url in (("PUBLIC_URL", self.public_url), ("CHAIN_URL", self.chain_url)):
            if url and not is_local_url(url):
                raise ValueError(
                    f"{name} {urlsplit(url).hostname} is not local but VILOKANAM_ENV is unset: "
                    "set VILOKANAM_ENV=production (or VILOKANAM_ENV=dev to run dev mode anyway)"
                )
        return self

    @property
    def is_dev(self) -> bool:
        return self.vilokanam_env is Env.DEV

    def escrow_secret(self) -> str:
        """The escrow account's secret URI or mnemonic; a derived dev key in dev mode."""
        if self.escrow_seed:
            return self.escrow_seed
        if self.escrow_seed_file:
            try:
                return self.escrow_seed_file.read_text().strip()
            except OSError as exc:
                raise SettingsError(f"invalid setting ESCROW_SEED_FILE: {exc.strerror}") from None
        if self.is_dev:
            from vilokanam.devchain import ESCROW_URI

            return ESCROW_URI
        raise SettingsError("invalid settings: production requires ESCROW_SEED or ESCROW_SEED_FILE")

    @property
    def runs_vod_worker(self) -> bool:
        return self.is_dev if self.vod_worker is None else self.vod_worker

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.http_host}:{self.http_port}"


def is_local_url(url: str) -> bool:
    """True when the URL's host is this machine (loopback name or address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise SettingsError with one line naming the first bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:
            raise SettingsError(f"invalid settings: {message}") from None
        name = str(error["loc"][0]).upper()
        raise SettingsError(f"invalid setting {name}: {message}") from None
