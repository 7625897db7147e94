"""Fixtures of the distributed-runner tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ENV = "ML_CONNECTOR_TEST_POSTGRES_URL"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database (``mlc_dist_<random>``), dropped with FORCE after the test."""
    if not os.environ.get(POSTGRES_ENV):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_ENV} must be set under CI: the distributed test cannot skip")
        pytest.skip(f"{POSTGRES_ENV} not set; the distributed-runner test needs PostgreSQL")
    admin_url = make_url(os.environ[POSTGRES_ENV]).set(drivername="postgresql+psycopg")
    name = f"mlc_dist_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
