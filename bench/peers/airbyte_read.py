"""B1 peer: read Fusion suppliers or ServiceTitan export invoices with the airbyte-cdk declarative
runner on a manifest written here.

Run by ``bench/read_bench.py`` with the python of ``bench/.venvs/airbyte-cdk`` (installed from
PyPI): ``python bench/peers/airbyte_read.py fusion|servicetitan``; URLs and the sandbox credentials
come in ``BENCH_*`` environment variables. The manifest (YAML) is written to a temporary file and
read by ``YamlDeclarativeSource``; RECORD messages are counted, and the last line printed is
``{"records": N, "seconds": S}``.

Fusion: ``OAuthAuthenticator`` (client credentials, the scope in the body, the client also in a
Basic header as Fusion wants it), ``OffsetIncrement`` pages of 500 ordered by ``SupplierId``, the
same expand as ml-connector. ServiceTitan: ``OAuthAuthenticator`` plus the ``ST-App-Key`` header;
``CursorPagination`` with ``from`` = ``continueFrom`` until ``hasMore`` is false.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from airbyte_cdk.models import (
    AirbyteStream,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteStream,
    DestinationSyncMode,
    SyncMode,
    Type,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

ENV = os.environ
SCHEMA = '{"type": "object", "additionalProperties": true, "properties": {}}'

MANIFEST = """
version: 6.44.0
type: DeclarativeSource
check:
  type: CheckStream
  stream_names: [{name}]
streams:
  - type: DeclarativeStream
    name: {name}
    primary_key: [{key}]
    schema_loader:
      type: InlineSchemaLoader
      schema: {schema}
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{url_base}"
        path: "{path}"
        http_method: GET
        request_parameters: {params}
        request_headers: {headers}
        authenticator:
          type: OAuthAuthenticator
          token_refresh_endpoint: "{token_url}"
          grant_type: client_credentials
          client_id: "{{{{ config['client_id'] }}}}"
          client_secret: "{{{{ config['client_secret'] }}}}"
          refresh_request_body: {token_body}
          refresh_request_headers: {token_headers}
      record_selector:
        type: RecordSelector
        extractor:
          type: DpathExtractor
          field_path: [{items}]
      paginator:
{paginator}
"""

FUSION_PAGINATOR = """        type: DefaultPaginator
        page_token_option:
          type: RequestOption
          inject_into: request_parameter
          field_name: offset
        page_size_option:
          type: RequestOption
          inject_into: request_parameter
          field_name: limit
        pagination_strategy:
          type: OffsetIncrement
          page_size: 500"""

ST_PAGINATOR = """        type: DefaultPaginator
        page_token_option:
          type: RequestOption
          inject_into: request_parameter
          field_name: from
        pagination_strategy:
          type: CursorPagination
          cursor_value: "{{ response.continueFrom }}"
          stop_condition: "{{ not response.hasMore }}\""""


def manifest(system: str) -> tuple[str, str, dict[str, Any]]:
    """(manifest YAML, stream name, config)."""
    if system == "fusion":
        url = ENV["BENCH_FUSION_URL"]
        client_id, secret = ENV["BENCH_FUSION_CLIENT_ID"], ENV["BENCH_FUSION_CLIENT_SECRET"]
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        text = MANIFEST.format(
            name="suppliers",
            key="SupplierId",
            schema=SCHEMA,
            url_base=f"{url}/fscmRestApi/resources/11.13.18.05/",
            path="suppliers",
            params=json.dumps(
                {
                    "onlyData": "true",
                    "expand": "addresses,sites,contacts",
                    "orderBy": "SupplierId:asc",
                }
            ),
            headers=json.dumps({"REST-Framework-Version": "4"}),
            token_url=f"{url}/oauth2/v1/token",
            token_body=json.dumps({"scope": ENV["BENCH_FUSION_SCOPE"]}),
            token_headers=json.dumps({"Authorization": f"Basic {basic}"}),
            items="items",
            paginator=FUSION_PAGINATOR,
        )
        return text, "suppliers", {"client_id": client_id, "client_secret": secret}
    url = ENV["BENCH_ST_URL"]
    text = MANIFEST.format(
        name="invoices",
        key="id",
        schema=SCHEMA,
        url_base=f"{url}/accounting/v2/tenant/{ENV['BENCH_ST_TENANT']}/",
        path="export/invoices",
        params="{}",
        headers=json.dumps({"ST-App-Key": ENV["BENCH_ST_APP_KEY"]}),
        token_url=f"{url}/connect/token",
        token_body="{}",  # noqa: S106 - an empty JSON object, not a password
        token_headers="{}",  # noqa: S106 - an empty JSON object, not a password
        items="data",
        paginator=ST_PAGINATOR,
    )
    config = {
        "client_id": ENV["BENCH_ST_CLIENT_ID"],
        "client_secret": ENV["BENCH_ST_CLIENT_SECRET"],
    }
    return text, "invoices", config


def main() -> int:
    system = sys.argv[1]
    text, stream, config = manifest(system)
    path = Path(tempfile.mkdtemp(prefix="airbyte-bench-")) / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    catalog = ConfiguredAirbyteCatalog(
        streams=[
            ConfiguredAirbyteStream(
                stream=AirbyteStream(
                    name=stream,
                    json_schema=json.loads(SCHEMA),
                    supported_sync_modes=[SyncMode.full_refresh],
                ),
                sync_mode=SyncMode.full_refresh,
                destination_sync_mode=DestinationSyncMode.overwrite,
            )
        ]
    )
    logger = logging.getLogger("airbyte-bench")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    source = YamlDeclarativeSource(str(path), catalog=catalog, config=config)
    records = 0
    started = time.perf_counter()
    for message in source.read(logger, config, catalog):
        if message.type == Type.RECORD:
            records += 1
        elif message.type == Type.TRACE and message.trace and message.trace.error:
            print(f"airbyte error: {message.trace.error.message}", file=sys.stderr)
            return 1
    print(json.dumps({"records": records, "seconds": time.perf_counter() - started}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
