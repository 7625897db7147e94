"""`attention replay` (issues 6 and 7): an unmapped customer's invoice goes to attention; once the
mapping is fixed, replay posts it — exactly once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from cli_kit import _cli
from ml_connector.sandbox.data import manifest as m
from ml_connector.sandbox.server import build_sandbox
from ml_connector.store import Store
from ml_connector.store.schema import attention


async def _attention_id(db: Path, source_id: str) -> tuple[int, str]:
    store = Store.open(f"sqlite:///{db}")
    try:
        async with store.transaction() as tx:
            row = (
                await tx.connection.execute(
                    select(attention.c.id, attention.c.state).where(
                        attention.c.source_id == source_id
                    )
                )
            ).one()
    finally:
        await store.close()
    return int(row.id), str(row.state)


async def test_replay_posts_once_the_mapping_is_fixed(
    tmp_path: Path, sandbox_env: dict[str, str]
) -> None:
    dataset = build_sandbox().dataset  # the same seeded data the served sandbox holds
    assert dataset is not None
    unmapped = next(
        i for i, r in dataset.expected.invoices.attention.items() if r.kind == m.UNMAPPED_CUSTOMER
    )
    invoices = {r["id"]: r for r in build_sandbox().servicetitan.snapshot("invoices")}
    bu = invoices[unmapped]["businessUnit"]["id"]
    account = next(
        e.account_number
        for i, e in dataset.expected.invoices.eligible.items()
        if invoices[i]["businessUnit"]["id"] == bu
    )
    customer = invoices[unmapped]["customer"]["id"]

    assert (await _cli(tmp_path, sandbox_env, "init"))[0] == 0
    code, out, err = await _cli(tmp_path, sandbox_env, "sync", "invoices")
    assert code == 0, out + err
    item_id, state = await _attention_id(tmp_path / "ml-connector.db", str(unmapped))
    assert state == "open"

    still, out, _ = await _cli(tmp_path, sandbox_env, "attention", "replay", str(item_id))
    assert still == 1
    assert "still needs attention" in out

    config = tmp_path / "ml-connector.toml"
    assert (
        config.read_text().rstrip().endswith("[connections.default.mapping.receivables.customers]")
    )
    config.write_text(config.read_text() + f'"{customer}" = "{account}"\n')
    code, out, err = await _cli(tmp_path, sandbox_env, "attention", "replay", str(item_id))
    assert code == 0, out + err
    assert "processed" in out
    assert (await _attention_id(tmp_path / "ml-connector.db", str(unmapped)))[1] == "resolved"
    again, out, _ = await _cli(tmp_path, sandbox_env, "sync", "invoices")
    assert again == 0
    code, found, _ = await _cli(
        tmp_path, sandbox_env, "audit", "search", "--source-id", str(unmapped), "--status", "create"
    )
    assert found.count(str(unmapped)) == 1, "posted exactly once"
