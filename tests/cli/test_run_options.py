"""`run --flow` names a flow that exists (either spelling), or the command says which exist."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from ml_connector.flows.registry import flow_names

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def test_flow_names_accept_both_spellings_and_refuse_unknown_ones() -> None:
    assert flow_names([]) is None
    assert flow_names(["purchase_orders", "Suppliers"]) == {"purchase-orders", "suppliers"}
    with pytest.raises(ValueError, match="unknown flow 'orders'; one of suppliers"):
        flow_names(["orders"])


def test_run_with_an_unknown_flow_exits_2_before_starting(cli: CliRunner) -> None:
    assert cli("init").returncode == 0
    result = cli("run", "--no-web", "--flow", "purchase_order")
    assert result.returncode == 2
    assert "unknown flow 'purchase_order'" in result.stderr
    assert "running as" not in result.stdout
