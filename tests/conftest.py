from __future__ import annotations

from pathlib import Path

import pytest

from ml_connector.clock import FakeClock

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the checkout; skipped with a reason when absent (failed under CI)."""
    import os

    if not SHARED.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"../shared is required under CI and is missing at {SHARED}")
        pytest.skip(f"../shared not found at {SHARED}")
    return SHARED
