"""Issue 2 acceptance: init, migrate, secrets, audit and one-line config errors (exit 2)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ml_connector.store import Store
from ml_connector.store.records import AuditEntry
from ml_connector.store.states import AuditAction

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def test_help_lists_the_commands(cli: CliRunner) -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("init", "migrate", "secrets", "audit"):
        assert command in result.stdout


def test_init_migrate_and_secret_set_store_no_plaintext(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("init").returncode == 0
    assert (tmp_path / "ml-connector.toml").exists()
    assert oct((tmp_path / "ml-connector.key").stat().st_mode & 0o777) == "0o600"
    assert cli("migrate").returncode == 0
    result = cli("secrets", "set", "fusion.client_secret", stdin="s3cret\n")
    assert result.returncode == 0, result.stderr
    listed = cli("secrets", "list")
    assert "fusion.client_secret" in listed.stdout
    assert "s3cret" not in listed.stdout
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("ml-connector.db*"))
    assert b"s3cret" not in raw
    assert b"sandbox-fusion-client-secret" not in raw


def test_init_is_idempotent_and_keeps_existing_values(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("init").returncode == 0
    config = (tmp_path / "ml-connector.toml").read_text()
    key = (tmp_path / "ml-connector.key").read_text()
    assert cli("secrets", "set", "fusion.client_secret", stdin="mine-1234\n").returncode == 0
    second = cli("init")
    assert second.returncode == 0
    assert "exists, kept" in second.stdout
    assert (tmp_path / "ml-connector.toml").read_text() == config
    assert (tmp_path / "ml-connector.key").read_text() == key


def test_secret_delete_and_missing(cli: CliRunner) -> None:
    assert cli("init").returncode == 0
    assert cli("secrets", "delete", "fusion.password").returncode == 0
    again = cli("secrets", "delete", "fusion.password")
    assert again.returncode == 2
    assert "does not exist" in again.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("[web]", "[web]\nbogus = 1"), "unknown key"),
        (
            lambda t: t.replace(
                'base_url = "http://127.0.0.1:8710"', 'base_url = "127.0.0.1:8710"'
            ),
            "needs a scheme",
        ),
        (lambda t: t.replace("tenant_id = 1234567", 'tenant_id = "abc"'), "tenant_id"),
        (lambda t: t.replace("[web]", "[web"), "not valid TOML"),
        (
            lambda t: t.replace('timezone = "America/Chicago"', 'timezone = "Mars/Base"'),
            "unknown time zone",
        ),
    ],
)
def test_broken_config_is_one_line_and_exit_2_and_writes_nothing(
    cli: CliRunner, tmp_path: Path, edit: object, expected: str
) -> None:
    assert cli("init").returncode == 0
    db = tmp_path / "ml-connector.db"
    db.unlink()
    config = tmp_path / "ml-connector.toml"
    config.write_text(edit(config.read_text()))  # type: ignore[operator]
    result = cli("migrate")
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not db.exists()


def test_missing_config_and_unreachable_database(cli: CliRunner) -> None:
    missing = cli("migrate")
    assert missing.returncode == 2
    assert "run `ml-connector init`" in missing.stderr
    assert cli("init").returncode == 0
    down = cli(
        "migrate", env={"ML_CONNECTOR_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"}
    )
    assert down.returncode == 2
    assert "cannot open the store" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1


def test_env_override_wins_over_the_file(cli: CliRunner) -> None:
    assert cli("init").returncode == 0
    result = cli("migrate", env={"ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL": "ftp://x"})
    assert result.returncode == 2
    assert "connections.default.fusion.base_url" in result.stderr


def test_wrong_master_key_and_unreadable_key_file(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("init").returncode == 0
    wrong = cli("secrets", "list", env={"ML_CONNECTOR_MASTER_KEY": "A" * 43 + "="})
    assert wrong.returncode == 2
    assert "master key" in wrong.stderr
    (tmp_path / "ml-connector.key").chmod(0o644)
    loose = cli("secrets", "list")
    assert loose.returncode == 2
    assert "chmod 600" in loose.stderr


def test_store_schema_newer_than_code_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("init").returncode == 0
    with sqlite3.connect(tmp_path / "ml-connector.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    for args in (("migrate",), ("secrets", "list")):
        result = cli(*args)
        assert result.returncode == 2
        assert "newer than this ml-connector" in result.stderr


def test_audit_search_and_show(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("init").returncode == 0
    start = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)

    async def seed() -> None:
        store = Store.open(f"sqlite:///{tmp_path / 'ml-connector.db'}")
        try:
            async with store.transaction() as tx:
                for attempt, action in ((1, AuditAction.FAIL), (2, AuditAction.CREATE)):
                    await tx.audit.append(
                        AuditEntry(
                            connection="default",
                            flow="invoices",
                            source_system="servicetitan",
                            source_id="ST-1001",
                            action=action,
                            attempt=attempt,
                            started_at=start,
                            ended_at=start,
                            target_system="fusion" if attempt == 2 else None,
                            target_id="300100000000123" if attempt == 2 else None,
                            decisions=[
                                {"rule": "customer.link", "detail": "customer 7 → account 1008"}
                            ],
                            error_class="RetriableError" if attempt == 1 else None,
                            error_message="Fusion answered 503" if attempt == 1 else None,
                        )
                    )
        finally:
            await store.close()

    asyncio.run(seed())
    found = cli("audit", "search", "--source-id", "ST-1001")
    assert found.returncode == 0
    assert found.stdout.count("ST-1001") == 2
    by_target = cli("audit", "search", "--target-id", "300100000000123", "--json")
    assert by_target.stdout.count("\n") == 1
    assert cli("audit", "search", "--status", "fail").stdout.count("ST-1001") == 1
    assert "no audit rows match" in cli("audit", "search", "--since", "2026-11-03").stdout
    shown = cli("audit", "show", "1")
    assert shown.returncode == 0
    assert "2 attempt(s)" in shown.stdout
    assert "customer 7 → account 1008" in shown.stdout
    assert "Fusion answered 503" in shown.stdout
    assert cli("audit", "show", "99").returncode == 2
