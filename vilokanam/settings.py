"""Settings from the environment (and `.env` if present).

Every variable is read once at start. An invalid value stops the process with one line that
names the variable, so operators never chase a stack trace for a typo.

Settings holds the process's own settings (services, secrets, dev mode) and the sections the
HTTP layer receives as they are (signaling.config). Every field, top-level or in a section, is
read from the variable named like it, upper-cased; docs/configuration.md lists them all.
"""

from __future__ import annotations

import ipaddress
from collections import ChainMap
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from signaling.config import (
    AuthSettings,
    BillingSettings,
    ClusterSettings,
    Limits,
    MediaSettings,
    RtcSettings,
    Section,
    ServerSettings,
    UploadSettings,
)

ROOT = Path(__file__).resolve().parent.parent


class Env(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable."""


class _FlatEnvironment(PydanticBaseSettingsSource):
    """Every field, top-level or in a section, from the variable named like it (upper-cased).

    The environment wins over `.env`. Section fields are flat on purpose: the variables'
    names predate the sections and stay as they are.
    """

    def __init__(
        self, settings_cls: type[BaseSettings], env: EnvSettingsSource, dotenv: EnvSettingsSource
    ) -> None:
        super().__init__(settings_cls)
        self.variables = ChainMap(dict(env.env_vars), dict(dotenv.env_vars))

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.variables.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        sections = section_types(self.settings_cls)
        values: dict[str, Any] = {
            name: self.variables[name]
            for name in self.settings_cls.model_fields
            if name not in sections and name in self.variables
        }
        for name, section in sections.items():  # a variable named like a section is no setting
            found = {
                key: self.variables[key] for key in section.model_fields if key in self.variables
            }
            if found:
                values[name] = found
        return values


def section_types(settings_cls: type[BaseModel]) -> dict[str, type[Section]]:
    """The sections of a settings class, by field name."""
    return {
        name: info.annotation
        for name, info in settings_cls.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, Section)
    }


class Settings(BaseSettings):
    """Process-wide settings (services, secrets, dev mode) and the sections of signaling.config."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    vilokanam_env: Env = Env.DEV
    database_url: str | None = None
    redis_url: str | None = None
    chain_url: str | None = None
    # What browsers' wallets connect to (default: CHAIN_URL, or the dev chain's URL).
    chain_public_url: str | None = None
    # Secret seed of the platform escrow account (production only; dev derives a dev key).
    escrow_seed: str | None = Field(default=None, repr=False)
    escrow_seed_file: Path | None = None
    # Data of the embedded PostgreSQL, Redis and dev chain.
    var_dir: Path = ROOT / "var"
    log_level: str = "INFO"

    server: ServerSettings = ServerSettings()
    auth: AuthSettings = AuthSettings()
    limits: Limits = Limits()
    rtc: RtcSettings = RtcSettings()
    media: MediaSettings = MediaSettings()
    uploads: UploadSettings = UploadSettings()
    billing: BillingSettings = BillingSettings()
    cluster: ClusterSettings = ClusterSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, EnvSettingsSource)
        return init_settings, _FlatEnvironment(settings_cls, env_settings, dotenv_settings)

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

    @model_validator(mode="after")
    def _production_needs_everything(self) -> Settings:
        if self.vilokanam_env is Env.PRODUCTION:
            required = {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "CHAIN_URL": self.chain_url,
                "PUBLIC_URL": self.server.public_url,
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
        for name, url in (("PUBLIC_URL", self.server.public_url), ("CHAIN_URL", self.chain_url)):
            if url and not is_local_url(url):
                raise ValueError(
                    f"{name} {urlsplit(url).hostname} is not local but VILOKANAM_ENV is unset: "
                    "set VILOKANAM_ENV=production (or VILOKANAM_ENV=dev to run dev mode anyway)"
                )
        return self

    @property
    def is_dev(self) -> bool:
        return self.vilokanam_env is Env.DEV

    def sections(self) -> dict[str, Section]:
        """Every section by name, as AppConfig takes them."""
        return {name: getattr(self, name) for name in section_types(type(self))}

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
    def base_url(self) -> str:
        return self.server.public_url or f"http://{self.server.http_host}:{self.server.http_port}"


def variables() -> dict[str, str]:
    """Every setting's variable name, mapped to its section ("" for a top-level one)."""
    names = {name.upper(): "" for name in Settings.model_fields}
    for section, model in section_types(Settings).items():
        del names[section.upper()]
        names.update({name.upper(): section for name in model.model_fields})
    return names


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
        # Field values of any type, validated by pydantic here, not by mypy.
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:
            raise SettingsError(f"invalid settings: {message}") from None
        loc = error["loc"]
        in_section = str(loc[0]) in section_types(Settings)
        if in_section and len(loc) == 1:  # a check across the fields of one section
            raise SettingsError(f"invalid settings: {message}") from None
        name = str(loc[1] if in_section else loc[0]).upper()
        raise SettingsError(f"invalid setting {name}: {message}") from None
