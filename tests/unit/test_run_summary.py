"""RunSummary: whole counts, and a bounded list of which records went where."""

from __future__ import annotations

from datetime import UTC, datetime

from ml_connector.flows.summary import IDS_KEPT, Outcome, RunSummary


def test_counts_are_whole_and_the_ids_kept_are_bounded() -> None:
    """Issue 9 (B5): a run over a million records must not keep a million ids in memory."""
    summary = RunSummary(flow="suppliers", connection="default", started_at=datetime.now(UTC))
    for n in range(IDS_KEPT + 5):
        summary.count(Outcome.CREATED, str(n))
    summary.count(Outcome.FAILED, "x")
    assert summary.created == IDS_KEPT + 5
    assert summary.ids[Outcome.CREATED] == [str(n) for n in range(IDS_KEPT)]
    assert (summary.failed, summary.ids[Outcome.FAILED]) == (1, ["x"])
