from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """Run ``ml-connector`` as a real process in ``tmp_path`` with no ML_CONNECTOR_* inherited."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    base_env["COLUMNS"] = "200"

    def run(
        *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ml_connector", *args],
            cwd=tmp_path,
            input=stdin,
            capture_output=True,
            text=True,
            env={**base_env, **(env or {})},
            timeout=120,
            check=False,
        )

    return run
