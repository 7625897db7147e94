"""`attention resolve ID --comment` closes an item a person fixed by hand (the suggestions of
apply_in_fusion, changed_after_posting and others say "then resolve this item")."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

from ml_connector.store import Store

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


async def _open_item(db: Path) -> int:
    store = Store.open(f"sqlite:///{db}")
    try:
        async with store.transaction() as tx:
            item = await tx.attention.open(
                connection="default",
                flow="payments",
                source_system="servicetitan",
                source_id="4711",
                reason="apply_in_fusion",
                message="receipt ST-PAY-4711 was created unapplied",
            )
        return item.id
    finally:
        await store.close()


def test_resolve_needs_a_comment_and_closes_the_item(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("init").returncode == 0
    item_id = asyncio.run(_open_item(tmp_path / "ml-connector.db"))
    blank = cli("attention", "resolve", str(item_id), "--comment", "  ")
    assert blank.returncode == 2
    assert "needs a comment" in blank.stderr
    done = cli("attention", "resolve", str(item_id), "--comment", "applied in Fusion")
    assert done.returncode == 0, done.stderr
    assert f"#{item_id} resolved" in done.stdout
    shown = cli("attention", "show", str(item_id))
    assert "resolved" in shown.stdout
    assert "applied in Fusion" in shown.stdout
    again = cli("attention", "resolve", str(item_id), "--comment", "twice")
    assert again.returncode == 2
    assert "cannot become resolved" in again.stderr
