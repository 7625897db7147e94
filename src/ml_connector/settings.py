"""Configuration: one TOML file validated by pydantic, overridden by ``ML_CONNECTOR_*`` variables.

Where the file is (DESIGN §5): ``--config PATH``, else ``ML_CONNECTOR_CONFIG``, else
``./ml-connector.toml``. Environment variables override keys with the prefix ``ML_CONNECTOR_`` and
``__`` between levels, e.g. ``ML_CONNECTOR_DATABASE_URL`` or
``ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL``.

Secrets are never written in the file: the file names them (``fusion.client_secret`` …) and the
encrypted secret store holds the values. Every error is turned into :class:`ConfigError` with one
line that names the key, so the CLI can print it and exit 2.

The mapping tables (``[connections.NAME.mapping]``) live in :mod:`ml_connector.mapping.config` so
this module stays about the connection itself.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ml_connector.errors import ConfigError
from ml_connector.mapping.config import MappingConfig

ENV_PREFIX = "ML_CONNECTOR_"
DEFAULT_CONFIG_NAME = "ml-connector.toml"
DEFAULT_DB_NAME = "ml-connector.db"
DEFAULT_KEY_NAME = "ml-connector.key"

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            f"{value!r} needs a scheme: start it with https:// (or http:// for the sandbox)"
        )
    if not parts.netloc:
        raise ValueError(f"{value!r} has no host")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as America/Chicago)"
        ) from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FusionAuthMode(StrEnum):
    OAUTH = "oauth"
    BASIC = "basic"


class FusionSettings(_Model):
    """One Oracle Fusion pod."""

    base_url: HttpUrl = Field(
        description="Pod URL, e.g. https://acme.fa.us2.oraclecloud.com (any host shape is allowed)."
    )
    rest_version: str = Field(
        default="11.13.18.05", description="Version segment of /fscmRestApi/resources/{version}."
    )
    framework_version: str = Field(
        default="4", description="Sent as the REST-Framework-Version header."
    )
    auth: FusionAuthMode = Field(default=FusionAuthMode.OAUTH, description="oauth or basic.")
    token_url: HttpUrl | None = Field(
        default=None,
        description="Identity-domain token URL, https://idcs-<guid>.identity.oraclecloud.com/oauth2/v1/token.",
    )
    client_id: str | None = Field(default=None, description="Confidential application client id.")
    scope: str | None = Field(
        default=None,
        description="OAuth scope, e.g. urn:opc:resource:fa:instanceid=<id>urn:opc:resource:consumer::all.",
    )
    username: str | None = Field(default=None, description="Integration user for Basic auth.")
    segment_labels: list[str] = Field(
        default_factory=lambda: ["company", "costCenter", "account", "subAccount", "product"],
        description="accountCombinationsLOV segment attribute names, in order (tenant-specific; "
        "read them from GET accountCombinationsLOV/describe on your pod).",
    )
    segment_separator: str = Field(default="-", description="Separator of combination strings.")
    max_concurrency: int = Field(default=4, ge=1, le=64, description="Requests in flight per pod.")
    page_size: int = Field(default=500, ge=1, le=500, description="limit per page (≤ 500).")
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @model_validator(mode="after")
    def _auth_fields(self) -> FusionSettings:
        if self.auth is FusionAuthMode.OAUTH:
            if not self.token_url:
                raise ValueError("token_url is required when auth = 'oauth'")
            if not self.client_id:
                raise ValueError("client_id is required when auth = 'oauth'")
        elif not self.username:
            raise ValueError("username is required when auth = 'basic'")
        return self


class STEnvironment(StrEnum):
    PRODUCTION = "production"
    INTEGRATION = "integration"
    CUSTOM = "custom"


ST_HOSTS: dict[STEnvironment, tuple[str, str]] = {
    STEnvironment.PRODUCTION: (
        "https://api.servicetitan.io",
        "https://auth.servicetitan.io/connect/token",
    ),
    STEnvironment.INTEGRATION: (
        "https://api-integration.servicetitan.io",
        "https://auth-integration.servicetitan.io/connect/token",
    ),
}


class WebhookSettings(_Model):
    """ServiceTitan V2 webhooks. The header and encoding are not public: both are settings."""

    enabled: bool = Field(default=True, description="Receive webhooks; polling still runs daily.")
    signature_header: str = Field(default="X-ServiceTitan-Signature")
    encoding: Literal["base64", "hex"] = Field(default="base64")
    timestamp_header: str | None = Field(
        default=None, description="When set, the signature covers '<timestamp>.<body>'."
    )
    timestamp_tolerance_seconds: int = Field(default=0, ge=0, description="0 turns the check off.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    rate_limit_per_second: float = Field(
        default=50.0,
        gt=0,
        le=100_000,
        description="Requests per second per client address (token bucket); more is answered 429.",
    )
    rate_limit_burst: int = Field(
        default=200, ge=1, le=1_000_000, description="Requests a client may send at once."
    )


#: ServiceTitan's documented default: 60 calls per second per application (and tenant)
ST_RATE_LIMIT = 60.0


class ServiceTitanSettings(_Model):
    """One ServiceTitan tenant."""

    environment: STEnvironment = Field(default=STEnvironment.PRODUCTION)
    api_base_url: HttpUrl | None = Field(
        default=None, description="Only with environment = 'custom' (e.g. the sandbox)."
    )
    token_url: HttpUrl | None = Field(default=None, description="Only with environment = 'custom'.")
    tenant_id: int = Field(gt=0, description="Tenant id (a number).")
    client_id: str = Field(min_length=1, description="Client id issued for this tenant (cid.…).")
    rate_limit_per_second: float = Field(
        default=50.0,
        gt=0,
        le=ST_RATE_LIMIT,
        description="Requests per second to this tenant (token bucket). ServiceTitan allows 60 "
        "per application and tenant; the bucket's burst is what is left of 60, so no one-second "
        "window ever holds more than 60. Up to 55 keeps room for timing jitter.",
    )
    export_page_hint: int = Field(default=500, ge=1, le=5000)
    timeout_seconds: float = Field(default=100.0, gt=0, le=600)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)

    @property
    def rate_limit_burst(self) -> float:
        """Requests the bucket lets through at once: 60 − the rate (at least 1)."""
        return max(1.0, ST_RATE_LIMIT - self.rate_limit_per_second)

    @model_validator(mode="after")
    def _urls(self) -> ServiceTitanSettings:
        if self.environment is STEnvironment.CUSTOM:
            if not self.api_base_url or not self.token_url:
                raise ValueError(
                    "api_base_url and token_url are required when environment = 'custom'"
                )
        elif self.api_base_url or self.token_url:
            raise ValueError(
                "api_base_url and token_url are set by the environment; use environment = 'custom' to set them"
            )
        return self

    @property
    def resolved_api_base_url(self) -> str:
        if self.environment is STEnvironment.CUSTOM:
            assert self.api_base_url is not None
            return self.api_base_url
        return ST_HOSTS[self.environment][0]

    @property
    def resolved_token_url(self) -> str:
        if self.environment is STEnvironment.CUSTOM:
            assert self.token_url is not None
            return self.token_url
        return ST_HOSTS[self.environment][1]


class ScheduleSettings(_Model):
    """When each flow runs. F1–F3 poll on intervals; F4–F5 post in windows."""

    suppliers_minutes: int = Field(default=10, ge=5, le=15)
    purchase_orders_minutes: int = Field(default=10, ge=5, le=15)
    receipts_minutes: int = Field(default=10, ge=5, le=60)
    jitter_seconds: int = Field(default=30, ge=0, le=300)
    posting: Literal["windows", "as_they_arrive"] = Field(default="windows")
    posting_windows: list[time] = Field(
        default_factory=lambda: [time(6, 0), time(18, 0)],
        description="Local times in the connection's time zone.",
    )
    safety_poll_time: time = Field(
        default=time(2, 30), description="Daily export-feed pass that catches missed webhooks."
    )


class RetrySettings(_Model):
    """When a record that keeps failing transiently (5xx, 429, timeouts, lost answers) goes to
    attention ``retries_exhausted``: after ``record_attempts`` failures in a row *and*
    ``record_hours`` since the first of them. Until then it is retried: the next run rereads it
    (suppliers, POs, receipts) or the inbox retries it with backoff up to an hour (invoices,
    payments, webhook events)."""

    record_attempts: int = Field(
        default=5, ge=1, le=1000, description="Transient failures in a row of one record."
    )
    record_hours: float = Field(
        default=6.0,
        ge=0,
        le=168,
        description="Hours since the record's first failure in the row (0: count tries only).",
    )


class ConnectionSettings(_Model):
    """A Fusion pod paired with a ServiceTitan tenant."""

    timezone: TimeZoneName = Field(
        default="UTC", description="For posting windows and invoice dates."
    )
    fusion: FusionSettings
    servicetitan: ServiceTitanSettings
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)
    retries: RetrySettings = Field(default_factory=RetrySettings)
    mapping: MappingConfig = Field(default_factory=MappingConfig)


class LogSettings(_Model):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class WebSettings(_Model):
    host: str = Field(default="127.0.0.1")
    port: int = Field(default=8700, ge=1, le=65535)
    dashboard: bool = Field(
        default=True,
        description="Serve the operations dashboard (login with the secret dashboard.password).",
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=720, description="How long a dashboard login lasts."
    )
    secure_cookies: Literal["auto", "always", "never"] = Field(
        default="auto",
        description=(
            "The session cookie's Secure flag: auto sets it when the request came over HTTPS "
            "(as seen by the server; behind a TLS proxy use always)."
        ),
    )
    login_attempts: int = Field(
        default=5, ge=1, le=100, description="Failed logins per client address per 15 minutes."
    )


_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("ml_connector_environ", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """Reads overrides from a mapping handed to :func:`build_settings`, not from ``os.environ``."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key.lower(): value for key, value in (_ENVIRON.get() or {}).items()}


class Settings(BaseSettings):
    """The whole configuration file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite ml-connector.db beside the config file.",
    )
    application_guid: str | None = Field(
        default=None,
        description="This installation's ServiceTitan externalData applicationGuid (written by init).",
    )
    log: LogSettings = Field(default_factory=LogSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    connections: dict[str, ConnectionSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> Settings:
        for name in self.connections:
            if not _NAME_RE.match(name):
                raise ValueError(
                    f"connection name {name!r} must be lower-case letters, digits, '-' or '_'"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first (wins), then the file's values passed in as init kwargs.
        return (_MappingEnvSource(settings_cls), init_settings)

    def connection(self, name: str | None) -> tuple[str, ConnectionSettings]:
        """The named connection, or the only one when ``name`` is None."""
        if name is None:
            if len(self.connections) == 1:
                return next(iter(self.connections.items()))
            if not self.connections:
                raise ConfigError("config: no [connections.NAME] table is defined")
            raise ConfigError(
                f"config: several connections ({', '.join(sorted(self.connections))}); pick one with --connection"
            )
        try:
            return name, self.connections[name]
        except KeyError:
            raise ConfigError(
                f"config: no connection named {name!r} (defined: {', '.join(sorted(self.connections)) or 'none'})"
            ) from None


class LoadedConfig:
    """Settings plus where they came from, which fixes the default store and key locations."""

    def __init__(self, settings: Settings, path: Path) -> None:
        self.settings = settings
        self.path = path

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def database_url(self) -> str:
        return self.settings.database_url or f"sqlite:///{self.directory / DEFAULT_DB_NAME}"

    @property
    def key_path(self) -> Path:
        return self.directory / DEFAULT_KEY_NAME


def resolve_config_path(explicit: str | Path | None, environ: Mapping[str, str]) -> Path:
    """``--config``, else ``ML_CONNECTOR_CONFIG``, else ``./ml-connector.toml`` (DESIGN §5)."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    from_env = environ.get(f"{ENV_PREFIX}CONFIG")
    if from_env:
        return Path(from_env).expanduser().resolve()
    return (Path.cwd() / DEFAULT_CONFIG_NAME).resolve()


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith("function-after[")]
    return ".".join(parts) or "(top level)"


def _one_line(exc: ValidationError, path: Path) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    kind = first["type"]
    key = _location(first["loc"])
    if kind == "extra_forbidden":
        message = "unknown key (check the spelling; see the configuration reference)"
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = str(first["msg"]).removeprefix("Value error, ")
        if kind.endswith("_type") or kind.endswith("_parsing"):
            message = f"{message} (got {first.get('input')!r})"
    more = (
        f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        if len(errors) > 1
        else ""
    )
    return f"config error in {path}: {key}: {message}{more}"


_ENV_CONFIG_KEYS = {f"{ENV_PREFIX}CONFIG", f"{ENV_PREFIX}MASTER_KEY"}


def _env_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """Only ML_CONNECTOR_* variables that name settings; test and key variables are not settings."""
    top = {name.upper() for name in Settings.model_fields}
    out: dict[str, str] = {}
    for key, value in environ.items():
        upper = key.upper()
        if not upper.startswith(ENV_PREFIX) or upper in _ENV_CONFIG_KEYS:
            continue
        first = upper[len(ENV_PREFIX) :].split("__", 1)[0]
        if first in top:
            out[key] = value
    return out


def load_config(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Read and validate the configuration; raise :class:`ConfigError` with one line on any problem."""
    env = dict(os.environ if environ is None else environ)
    config_path = resolve_config_path(path, env)
    if not config_path.exists():
        raise ConfigError(
            f"config file {config_path} not found: run `ml-connector init` to write a starter file, "
            "or pass --config PATH"
        )
    try:
        raw_text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {config_path} cannot be read: {exc}") from None
    try:
        data: dict[str, Any] = tomllib.loads(raw_text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None
    return LoadedConfig(build_settings(data, env, config_path), config_path)


def build_settings(data: Mapping[str, Any], environ: Mapping[str, str], source: Path) -> Settings:
    """Validate ``data`` with ``environ`` overrides (only the ``ML_CONNECTOR_*`` setting names)."""
    token = _ENVIRON.set(_env_overrides(environ))
    try:
        return Settings(**dict(data))
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source)) from None
    finally:
        _ENVIRON.reset(token)
