"""B1 peer: read Fusion suppliers or ServiceTitan export invoices with dlt's ``rest_api`` source.

Run by ``bench/read_bench.py`` with the python of ``bench/.venvs/dlt`` (dlt installed from PyPI):
``python bench/peers/dlt_read.py fusion|servicetitan``; URLs and the sandbox credentials come in
``BENCH_*`` environment variables. The resource is iterated directly (extraction only, no
destination), and the last line printed is ``{"records": N, "seconds": S}``.

Fusion: OAuth client credentials with Basic client authentication and a scope (dlt's
``OAuth2ClientCredentials`` sends the client in the form, so its token request is overridden),
offset paging (``limit``/``offset``, ``hasMore``) ordered by ``SupplierId`` with the same expand as
ml-connector. ServiceTitan: OAuth client credentials in the form plus the ``ST-App-Key`` header;
the export feed is paged by ``from`` = the last ``continueFrom`` until ``hasMore`` is false (a
small paginator: dlt's cursor paginator would not stop, the feed always returns a token).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from typing import Any

from dlt.common.configuration import configspec
from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials
from dlt.sources.helpers.rest_client.paginators import BasePaginator, OffsetPaginator
from dlt.sources.rest_api import rest_api_source

ENV = os.environ


@configspec
class BasicClientCredentials(OAuth2ClientCredentials):
    """Client credentials with the client id and secret in a Basic header (RFC 6749 §2.3.1)."""

    def build_access_token_request(self) -> dict[str, Any]:
        pair = f"{self.client_id}:{self.client_secret}".encode()
        return {
            "headers": {
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "Basic " + base64.b64encode(pair).decode(),
            },
            "data": {"grant_type": "client_credentials", **self.access_token_request_data},
        }


class ExportPaginator(BasePaginator):
    """ServiceTitan export feeds: ``from`` = ``continueFrom`` while ``hasMore``."""

    def __init__(self) -> None:
        super().__init__()
        self.token: str | None = None

    def update_state(self, response: Any, data: Any = None) -> None:
        body = response.json()
        self.token = body.get("continueFrom")
        self._has_next_page = bool(body.get("hasMore")) and bool(self.token)

    def update_request(self, request: Any) -> None:
        if request.params is None:
            request.params = {}
        request.params["from"] = self.token


def fusion_source() -> Any:
    url = ENV["BENCH_FUSION_URL"]
    return rest_api_source(
        {
            "client": {
                "base_url": f"{url}/fscmRestApi/resources/11.13.18.05/",
                "headers": {"REST-Framework-Version": "4"},
                "auth": BasicClientCredentials(
                    access_token_url=f"{url}/oauth2/v1/token",
                    client_id=ENV["BENCH_FUSION_CLIENT_ID"],
                    client_secret=ENV["BENCH_FUSION_CLIENT_SECRET"],
                    access_token_request_data={"scope": ENV["BENCH_FUSION_SCOPE"]},
                ),
            },
            "resources": [
                {
                    "name": "suppliers",
                    "endpoint": {
                        "path": "suppliers",
                        "params": {
                            "onlyData": "true",
                            "expand": "addresses,sites,contacts",
                            "orderBy": "SupplierId:asc",
                        },
                        "data_selector": "items",
                        "paginator": OffsetPaginator(
                            limit=500, has_more_path="hasMore", total_path=None
                        ),
                    },
                }
            ],
        }
    )


def st_source() -> Any:
    url = ENV["BENCH_ST_URL"]
    tenant = ENV["BENCH_ST_TENANT"]
    return rest_api_source(
        {
            "client": {
                "base_url": f"{url}/accounting/v2/tenant/{tenant}/",
                "headers": {"ST-App-Key": ENV["BENCH_ST_APP_KEY"]},
                "auth": OAuth2ClientCredentials(
                    access_token_url=f"{url}/connect/token",
                    client_id=ENV["BENCH_ST_CLIENT_ID"],
                    client_secret=ENV["BENCH_ST_CLIENT_SECRET"],
                ),
            },
            "resources": [
                {
                    "name": "invoices",
                    "endpoint": {
                        "path": "export/invoices",
                        "data_selector": "data",
                        "paginator": ExportPaginator(),
                    },
                }
            ],
        }
    )


def main() -> int:
    system = sys.argv[1]
    source = fusion_source() if system == "fusion" else st_source()
    resource = source.resources["suppliers" if system == "fusion" else "invoices"]
    records = 0
    started = time.perf_counter()
    for _item in resource:
        records += 1
    print(json.dumps({"records": records, "seconds": time.perf_counter() - started}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
