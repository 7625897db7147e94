"""Shared helpers for the Fusion simulator tests (imported by conftest and tests; not a test module)."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from ml_connector.sandbox import credentials

ROOT = "http://fusion.test/fscmRestApi/resources/11.13.18.05/"
BASIC = (credentials.FUSION_USERNAME, credentials.FUSION_PASSWORD)


def client_for(app: Starlette, *, framework: int | None = 4, **headers: str) -> httpx.AsyncClient:
    """A client on the version root with Basic auth; ``framework=None`` sends no framework header."""
    all_headers = dict(headers)
    if framework is not None:
        all_headers["REST-Framework-Version"] = str(framework)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=ROOT, auth=BASIC, headers=all_headers
    )
