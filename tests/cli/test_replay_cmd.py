"""`replay --audit-id | --source-id | --failed-since` (issue 7): records that went to attention are
processed once their cause is fixed — each exactly once — chosen three ways from the audit trail;
and the selection's errors are one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from cli_kit import _cli
from ml_connector.cli.app import main
from ml_connector.sandbox.data import manifest as m
from ml_connector.sandbox.server import build_sandbox
from ml_connector.store import Store
from ml_connector.store.records import AuditEntry
from ml_connector.store.schema import attention, audit
from ml_connector.store.states import AuditAction


async def _rows(db: Path, source_id: str) -> list[tuple[int, str, str]]:
    """(audit id, flow, action) of a record's rows, oldest first."""
    store = Store.open(f"sqlite:///{db}")
    try:
        async with store.transaction() as tx:
            rows = (
                await tx.connection.execute(
                    select(audit.c.id, audit.c.flow, audit.c.action)
                    .where(audit.c.source_id == source_id, audit.c.dry_run.is_(False))
                    .order_by(audit.c.id)
                )
            ).all()
    finally:
        await store.close()
    return [(int(r.id), str(r.flow), str(r.action)) for r in rows]


async def _attention_state(db: Path, source_id: str) -> str:
    store = Store.open(f"sqlite:///{db}")
    try:
        async with store.transaction() as tx:
            return str(
                (
                    await tx.connection.execute(
                        select(attention.c.state).where(attention.c.source_id == source_id)
                    )
                ).scalar_one()
            )
    finally:
        await store.close()


def _unmapped() -> tuple[int, int, str]:
    """The invoice in attention for its unmapped customer: (invoice, customer, an account with a
    bill-to site in the invoice's business unit, which fixes it)."""
    sandbox = build_sandbox()  # the same seeded data the served sandbox holds
    dataset = sandbox.dataset
    assert dataset is not None
    invoice = next(
        i for i, r in dataset.expected.invoices.attention.items() if r.kind == m.UNMAPPED_CUSTOMER
    )
    invoices = {r["id"]: r for r in sandbox.servicetitan.snapshot("invoices")}
    bu = invoices[invoice]["businessUnit"]["id"]
    account = next(
        e.account_number
        for i, e in dataset.expected.invoices.eligible.items()
        if invoices[i]["businessUnit"]["id"] == bu
    )
    return invoice, invoices[invoice]["customer"]["id"], account


def _map_customer(tmp_path: Path, customer: int, account: str) -> None:
    config = tmp_path / "ml-connector.toml"
    text = config.read_text()
    assert text.rstrip().endswith("[connections.default.mapping.receivables.customers]")
    config.write_text(text.rstrip() + f'\n"{customer}" = "{account}"\n')


@pytest.mark.parametrize("selector", ["--audit-id", "--source-id", "--failed-since"])
async def test_a_fixed_record_is_processed_exactly_once(
    tmp_path: Path, sandbox_env: dict[str, str], selector: str
) -> None:
    invoice, customer, account = _unmapped()
    db = tmp_path / "ml-connector.db"
    assert (await _cli(tmp_path, sandbox_env, "init"))[0] == 0
    code, out, err = await _cli(tmp_path, sandbox_env, "sync", "invoices")
    assert code == 0, out + err
    [(row_id, _, action)] = await _rows(db, str(invoice))
    assert action == "attention"
    args = {
        "--audit-id": ("--audit-id", str(row_id)),
        "--source-id": ("--source-id", str(invoice), "--flow", "invoices"),
        "--failed-since": ("--failed-since", "2020-01-01T00:00:00Z", "--flow", "invoices"),
    }[selector]

    if selector == "--audit-id":  # not fixed yet: replayed, and still in attention (exit 1)
        code, out, _ = await _cli(tmp_path, sandbox_env, "replay", *args)
        assert code == 1, out
        assert f"default/invoices {invoice}: still needs attention" in out
        assert "unmapped_customer" in out
        assert await _attention_state(db, str(invoice)) == "open"

    _map_customer(tmp_path, customer, account)
    code, out, err = await _cli(tmp_path, sandbox_env, "replay", *args)
    assert f"default/invoices {invoice}: processed — create" in out, out + err
    if selector == "--failed-since":
        # the invoices whose GL combinations are still broken were replayed too, and still fail
        assert code == 1, out + err
        assert "still needs attention" in out
        assert out.count(f"invoices {invoice}:") == 1, "replayed once"
    else:
        assert code == 0, out + err
        assert out.count("default/invoices") == 1, "only that record"
    assert await _attention_state(db, str(invoice)) == "resolved"
    actions = [a for _, _, a in await _rows(db, str(invoice))]
    assert actions.count("create") == 1, actions

    if selector == "--failed-since":  # processed since: reported, not replayed again
        code, out, err = await _cli(tmp_path, sandbox_env, "replay", *args, "--dry-run")
        assert code == 0, out + err
        assert f"default/invoices {invoice}: already processed (audit #" in out
        assert f"would replay default/invoices {invoice} " not in out
        assert "would replay default/invoices" in out


async def _append(db: Path, *entries: AuditEntry) -> None:
    store = Store.open(f"sqlite:///{db}")
    try:
        async with store.transaction() as tx:
            for entry in entries:
                await tx.audit.append(entry)
    finally:
        await store.close()


def _entry(flow: str, source_id: str, action: AuditAction) -> AuditEntry:
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    return AuditEntry(
        connection="default",
        flow=flow,
        source_system="servicetitan",
        source_id=source_id,
        action=action,
        started_at=at,
        ended_at=at,
        error_message="boom" if action is AuditAction.FAIL else None,
    )


def _init(where: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    done = subprocess.run(
        [sys.executable, "-m", "ml_connector", "init"],
        cwd=where, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return where


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ML_CONNECTOR_* variable inherited by the command run in this process."""
    for name in [n for n in os.environ if n.startswith("ML_CONNECTOR_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def installed(tmp_path: Path, clean_env: None) -> Path:
    """A connector initialised in ``tmp_path``."""
    return _init(tmp_path)


@pytest.fixture(scope="module")
def installed_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One connector for the tests that only read its (empty) store."""
    return _init(tmp_path_factory.mktemp("replay-errors"))


async def test_source_id_in_several_flows_nothing_to_replay_and_dry_run(installed: Path) -> None:
    tmp_path = installed
    env = {**os.environ, "COLUMNS": "200"}
    db = tmp_path / "ml-connector.db"

    code, out, _ = await _cli(tmp_path, env, "replay", "--failed-since", "2026-11-30")
    assert code == 0
    assert "nothing to replay" in out

    await _append(
        db,
        _entry("invoices", "777", AuditAction.FAIL),
        _entry("payments", "777", AuditAction.ATTENTION),
        _entry("purchase_orders", "900", AuditAction.FAIL),
    )
    code, _, err = await _cli(tmp_path, env, "replay", "--source-id", "777")
    assert code == 2
    assert "several flows" in err
    assert "--flow invoices" in err
    assert "--flow payments" in err
    assert "Traceback" not in err

    code, out, err = await _cli(
        tmp_path, env, "replay", "--source-id", "777", "--flow", "payments", "--dry-run"
    )
    assert code == 0, out + err
    assert "would replay default/payments 777" in out
    assert "invoices" not in out

    code, out, err = await _cli(
        tmp_path, env, "replay", "--failed-since", "2026-11-30T08:00:00+01:00", "--dry-run"
    )
    assert code == 0, out + err
    assert "would replay default/purchase-orders 900" in out
    assert "boom" in out


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--audit-id", "1", "--source-id", "777"), "exactly one of"),
        ((), "exactly one of"),
        (("--audit-id", "1", "--flow", "invoices"), "--audit-id names its record"),
        (("--failed-since", "2026-11-30T08:00:00"), "has no time zone"),
        (("--failed-since", "last tuesday"), "is not a date"),
        (("--source-id", "777", "--flow", "nope"), "unknown flow"),
        (("--source-id", "777", "--connection", "west"), "no connection named 'west'"),
        (("--audit-id", "999999"), "audit row 999999 does not exist"),
        (("--source-id", "123"), "no audit row names source id 123"),
    ],
)
def test_bad_selection_is_one_line_and_exit_2(
    installed_once: Path,
    clean_env: None,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    said: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(installed_once / "ml-connector.toml"), "replay", *args])
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert said in err
    assert "Traceback" not in err


async def test_a_busy_lease_names_its_holder(installed: Path) -> None:
    tmp_path = installed
    env = dict(os.environ)
    db = tmp_path / "ml-connector.db"
    await _append(db, _entry("purchase_orders", "900", AuditAction.FAIL))
    store = Store.open(f"sqlite:///{db}")
    try:
        async with store.transaction() as tx:
            assert await tx.leases.acquire("default/procurement", holder="daemon:4242", seconds=600)
    finally:
        await store.close()
    code, _, err = await _cli(tmp_path, env, "replay", "--source-id", "900")
    assert code == 2, err
    assert "default/procurement" in err
    assert "daemon:4242" in err
    assert [a for _, _, a in await _rows(db, "900")] == ["fail"], "nothing was attempted"
