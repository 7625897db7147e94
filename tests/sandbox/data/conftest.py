"""One generated scale-1 data set per module (generation is deterministic, tests only read it)."""

from __future__ import annotations

import pytest
from datagen_kit import World, make_world


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()
