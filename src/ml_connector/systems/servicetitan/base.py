"""What every part of :class:`~ml_connector.systems.servicetitan.client.STClient` shares.

The client is assembled from small mixins (:mod:`.inventory`, :mod:`.accounting`, :mod:`.check`),
each under 400 lines; they reach ServiceTitan only through :attr:`STBase._session` and the helpers
here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from ml_connector.clock import Clock
from ml_connector.systems.servicetitan.models import ExportPage, ModificationResult
from ml_connector.systems.servicetitan.pagination import (
    DEFAULT_PAGE_SIZE,
    ExportFeed,
    iter_list,
    parse_envelope,
    parse_rows,
)
from ml_connector.systems.servicetitan.session import STSession

M = TypeVar("M", bound=BaseModel)

#: ``ids=`` takes at most 50 values (servicetitan-api.md §4).
MAX_IDS = 50


def chunks(values: Iterable[int], size: int = MAX_IDS) -> list[list[int]]:
    """Unique ids in order, in batches of ``size``."""
    unique = list(dict.fromkeys(values))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


class STBase:
    """Shared state and read helpers (no public API of its own)."""

    _session: STSession
    _clock: Clock
    page_size: int = DEFAULT_PAGE_SIZE
    export_page_hint: int = 500

    def _list(
        self,
        namespace: str,
        path: str,
        model: type[M],
        *,
        resource: str,
        params: Mapping[str, Any] | None = None,
        sort_by_id: bool = True,
        page_size: int | None = None,
    ) -> AsyncIterator[M]:
        return iter_list(
            self._session,
            namespace,
            path,
            model,
            resource=resource,
            params=params,
            page_size=page_size or self.page_size,
            sort_by_id=sort_by_id,
        )

    async def _collect(
        self,
        namespace: str,
        path: str,
        model: type[M],
        *,
        resource: str,
        params: Mapping[str, Any] | None = None,
        sort_by_id: bool = True,
    ) -> list[M]:
        return [
            row
            async for row in self._list(
                namespace, path, model, resource=resource, params=params, sort_by_id=sort_by_id
            )
        ]

    async def _by_ids(
        self,
        namespace: str,
        path: str,
        model: type[M],
        ids: Iterable[int],
        *,
        resource: str,
        params: Mapping[str, Any] | None = None,
        sort_by_id: bool = True,
    ) -> list[M]:
        """Records by id, 50 ids per call; missing ids are simply absent from the result."""
        out: list[M] = []
        for batch in chunks(ids):
            query = {**(params or {}), "ids": ",".join(str(i) for i in batch)}
            out += await self._collect(
                namespace, path, model, resource=resource, params=query, sort_by_id=sort_by_id
            )
        return out

    async def _get(
        self, namespace: str, path: str, model: type[M], *, resource: str, ident: object
    ) -> M:
        raw = await self._session.get_json(namespace, path, resource=resource, ident=ident)
        return parse_rows(model, [raw], resource)[0]

    async def _write(
        self,
        method: str,
        namespace: str,
        path: str,
        body: Any,
        *,
        resource: str,
        ident: object = None,
    ) -> int:
        """A create or update; returns the record id from ``{"id": n}``."""
        raw = await self._session.send_json(
            method, namespace, path, body, resource=resource, ident=ident
        )
        if raw is None and isinstance(ident, int):
            return ident
        return ModificationResult.model_validate(raw).id

    def _feed(
        self,
        namespace: str,
        path: str,
        model: type[M],
        *,
        resource: str,
        start: str | datetime | None,
    ) -> ExportFeed[M]:
        session = self._session

        async def fetch(token: str) -> ExportPage:
            params = {"from": token} if token else None
            raw = await session.get_json(namespace, path, resource=resource, params=params)
            return parse_envelope(ExportPage, raw, resource)

        return ExportFeed(fetch, model, start=start, resource=resource)
