"""Config validation: one line naming the key; env overrides; defaults from DESIGN §5."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from ml_connector.clock import FakeClock
from ml_connector.errors import ConfigError
from ml_connector.runtime.clients import ConnectionClients
from ml_connector.settings import STEnvironment, load_config, resolve_config_path
from ml_connector.starter import render_starter


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ml-connector.toml"
    path.write_text(text)
    return path


def test_starter_config_is_valid_and_points_at_the_sandbox(tmp_path: Path) -> None:
    loaded = load_config(
        _write(tmp_path, render_starter("0f8fad5b-d9cb-469f-a165-70867728950e")), environ={}
    )
    name, conn = loaded.settings.connection(None)
    assert name == "default"
    assert conn.fusion.base_url == "http://127.0.0.1:8710"
    assert conn.servicetitan.environment is STEnvironment.CUSTOM
    assert conn.servicetitan.resolved_api_base_url == "http://127.0.0.1:8720"
    assert conn.servicetitan.resolved_token_url == "http://127.0.0.1:8720/connect/token"
    assert loaded.database_url == f"sqlite:///{tmp_path / 'ml-connector.db'}"
    assert loaded.key_path == tmp_path / "ml-connector.key"


def test_environment_overrides_nested_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, render_starter("g"))
    loaded = load_config(
        path,
        environ={
            "ML_CONNECTOR_DATABASE_URL": "postgresql+psycopg://db/x",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__MAX_CONCURRENCY": "8",
            "ML_CONNECTOR_MASTER_KEY": "not-a-setting",
            "ML_CONNECTOR_TEST_POSTGRES_URL": "not-a-setting-either",
        },
    )
    assert loaded.database_url == "postgresql+psycopg://db/x"
    assert loaded.settings.connections["default"].fusion.max_concurrency == 8
    assert loaded.settings.connections["default"].fusion.client_id == "ml-connector-sandbox"


def test_production_servicetitan_urls_are_derived(tmp_path: Path) -> None:
    data = render_starter("g").replace('environment = "custom"', 'environment = "production"')
    data = "\n".join(
        line
        for line in data.splitlines()
        if not line.startswith(("api_base_url", 'token_url = "http://127.0.0.1:8720'))
    )
    conn = load_config(_write(tmp_path, data), environ={}).settings.connections["default"]
    assert conn.servicetitan.resolved_api_base_url == "https://api.servicetitan.io"
    assert conn.servicetitan.resolved_token_url == "https://auth.servicetitan.io/connect/token"


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ('auth = "oauth"', 'auth = "basic"', "username is required when auth = 'basic'"),
        ('environment = "custom"', 'environment = "integration"', "use environment = 'custom'"),
        ("rate_limit_per_second = 50", "rate_limit_per_second = 500", "rate_limit_per_second"),
        ("[connections.default", "[connections.Default", "connection name 'Default'"),
        ('encoding = "base64"', 'encoding = "rot13"', "encoding"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, replace: str, by: str, message: str) -> None:
    text = render_starter("g")
    assert replace in text
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text.replace(replace, by)), environ={})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_connection_lookup(tmp_path: Path) -> None:
    text = render_starter("g")
    settings = load_config(_write(tmp_path, text), environ={}).settings
    with pytest.raises(ConfigError, match="no connection named 'east'"):
        settings.connection("east")
    data = tomllib.loads(text)
    assert "default" in data["connections"]


def test_config_path_resolution(tmp_path: Path) -> None:
    assert resolve_config_path(tmp_path / "a.toml", {}) == (tmp_path / "a.toml").resolve()
    assert (
        resolve_config_path(None, {"ML_CONNECTOR_CONFIG": str(tmp_path / "b.toml")})
        == (tmp_path / "b.toml").resolve()
    )
    assert resolve_config_path(None, {}).name == "ml-connector.toml"


def test_retry_limits_reach_every_flow_context(tmp_path: Path) -> None:
    """Decision 0013: ``retries`` per connection → the records' attempt limit and window."""
    loaded = load_config(
        _write(tmp_path, render_starter("g")),
        environ={
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__RETRIES__RECORD_ATTEMPTS": "7",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__RETRIES__RECORD_HOURS": "1.5",
        },
    )
    name, conn = loaded.settings.connection(None)
    clients = ConnectionClients(name, conn, fusion=cast(Any, None), servicetitan=cast(Any, None))
    ctx = clients.flow_context(store=cast(Any, None), clock=FakeClock(), application_guid="g")
    assert (ctx.max_attempts, ctx.retry_window) == (7, timedelta(hours=1, minutes=30))
    default = load_config(_write(tmp_path, render_starter("g")), environ={}).settings
    assert default.connections["default"].retries.record_hours == 6.0
    with pytest.raises(ConfigError, match="record_hours"):
        load_config(
            _write(tmp_path, render_starter("g")),
            environ={"ML_CONNECTOR_CONNECTIONS__DEFAULT__RETRIES__RECORD_HOURS": "-1"},
        )
