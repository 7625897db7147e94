"""``ml-connector match`` as a person runs it, against the existing-tenant sandbox served on
127.0.0.1: propose with --auto-accept exact, export, a file with a bad row (exit 1, nothing
applied), the corrected file (exit 0, links made)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_kit import _cli, serving
from ml_connector.sandbox.data.existing import ExistingTenant
from ml_connector.sandbox.server import Sandbox, build_sandbox


@dataclass
class Served:
    sandbox: Sandbox
    env: dict[str, str]

    @property
    def existing(self) -> ExistingTenant:
        assert self.sandbox.dataset is not None
        assert self.sandbox.dataset.existing is not None
        return self.sandbox.dataset.existing


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    box = build_sandbox(existing_tenant=True)
    async with serving(box) as env:
        yield Served(sandbox=box, env=env)


async def test_match_export_and_apply_from_the_command_line(served: Served, tmp_path: Path) -> None:
    env = served.env
    code, _, err = await _cli(tmp_path, env, "init")
    assert code == 0, err

    code, out, err = await _cli(tmp_path, env, "match", "all", "--auto-accept", "exact")
    assert code == 0, err
    assert "vendors" in out
    assert "customers" in out
    assert "match export" in out

    code, out, err = await _cli(tmp_path, env, "match", "export", "--entity", "vendors")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    truth = served.existing.pairs_of("supplier")
    assert {r["source_id"] for r in rows} <= set(truth)
    assert len(rows) >= len(truth) - 3  # the exact, unambiguous ones were accepted already

    for row in rows:
        row["decision"] = "accept" if truth.get(row["source_id"]) == row["target_id"] else "reject"
    bad = [dict(r) for r in rows]
    bad[0]["decision"] = "yes please"
    edited = tmp_path / "review.csv"

    def write(these: list[dict[str, str]]) -> None:
        with edited.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(these)

    write(bad)
    code, out, err = await _cli(tmp_path, env, "match", "apply", str(edited))
    assert code == 1
    assert "line 2: decision 'yes please'" in err
    assert "nothing was applied" in err
    assert "Traceback" not in err

    write(rows)
    code, out, err = await _cli(tmp_path, env, "match", "apply", str(edited))
    assert code == 0, err
    assert f"accepted {len(rows)}, rejected 0" in out
    assert f"linked {len(rows)}" in out

    code, out, err = await _cli(tmp_path, env, "match", "export", "--state", "all", "-o", "all.csv")
    assert code == 0, err
    exported = (tmp_path / "all.csv").read_text(encoding="utf-8")
    states = {r["source_id"]: r["state"] for r in csv.DictReader(io.StringIO(exported))}
    assert all(states[s] == "accepted" for s in truth)

    code, _, err = await _cli(tmp_path, env, "match", "apply", "missing.csv")
    assert code == 2
    assert "missing.csv: cannot read" in err
