"""What every part of :class:`~ml_connector.systems.fusion.client.FusionClient` shares.

The client is assembled from small mixins (procurement, receivables, lookups, check), each under
400 lines; they all reach Fusion only through :attr:`FusionBase._session` and the helpers here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ml_connector.clock import Clock
from ml_connector.http import ConcurrencyCap, PageGuard
from ml_connector.settings import FusionSettings
from ml_connector.systems.fusion.models import CollectionPage
from ml_connector.systems.fusion.session import FusionSession

log = logging.getLogger(__name__)

#: Lookup tables are small; a page this size reads most in one request.
SMALL_PAGE = 500


class FusionBase:
    """Shared state and collection helpers (no public API of its own)."""

    _session: FusionSession
    _clock: Clock
    _settings: FusionSettings
    _cap: ConcurrencyCap

    @property
    def page_size(self) -> int:
        return min(self._settings.page_size, SMALL_PAGE)

    async def _page(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        return await self._session.get_json(path, params)

    async def _offset_pages(
        self, path: str, params: Mapping[str, str], *, what: str
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Offset paging, for small, slow-changing collections only (lookups, one invoice's
        children). Changing data is read by key (:mod:`.pagination`)."""
        guard = PageGuard(what=what, max_pages=1000)
        offset = 0
        while True:
            guard.offset(offset)
            query = {**params, "limit": str(self.page_size), "offset": str(offset)}
            page = CollectionPage.model_validate(await self._page(path, query))
            guard.page(rows=len(page.items), has_more=page.hasMore)
            yield page.items
            if not page.hasMore:
                return
            offset += len(page.items)

    async def _all(
        self, path: str, params: Mapping[str, str], *, what: str
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        async for page in self._offset_pages(path, params, what=what):
            rows.extend(page)
        return rows

    async def _first(self, path: str, params: Mapping[str, str]) -> dict[str, Any] | None:
        """The first row matching ``params`` (a business-key lookup), or None."""
        page = CollectionPage.model_validate(
            await self._page(path, {**params, "limit": "2", "offset": "0"})
        )
        if len(page.items) > 1:
            log.warning(
                "fusion %s: more than one row matches a business key; using the first", path
            )
        return page.items[0] if page.items else None
