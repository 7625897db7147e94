"""The commented starter configuration that ``ml-connector init`` writes.

It points at the sandbox (``ml-connector sandbox``) with its fixed credentials, so a new user can
run ``init`` → ``sandbox`` → ``check`` with no edits, and it shows where real values go.
"""

from __future__ import annotations

from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.data import sandbox_mapping_toml

STARTER_TEMPLATE = """\
# ml-connector configuration — written by `ml-connector init`.
#
# This file points at the local sandbox (start it with `ml-connector sandbox`). To go live, replace
# the URLs and ids below with your Fusion pod and ServiceTitan tenant, and store the credentials with
# `ml-connector secrets set NAME` (they are never written here).
#
# Every key can be overridden by an environment variable: ML_CONNECTOR_ + the key path joined by
# "__", e.g. ML_CONNECTOR_DATABASE_URL or ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL.

# The state store. Default: SQLite ml-connector.db beside this file. For production and scale-out:
# database_url = "postgresql+psycopg://ml_connector@db.internal/ml_connector"

# This installation's ServiceTitan externalData applicationGuid (generated; keep it stable: it is how
# ml-connector recognises the vendors it created).
application_guid = "{application_guid}"

[log]
level = "INFO"      # DEBUG, INFO, WARNING, ERROR
format = "text"     # text or json

[web]
host = "127.0.0.1"  # dashboard, webhooks, /healthz, /metrics
port = 8700
# dashboard login: the secret dashboard.password (`ml-connector secrets set dashboard.password`)
session_hours = 12

# One [connections.NAME] table per Fusion pod + ServiceTitan tenant pair.
[connections.default]
timezone = "America/Chicago"   # posting windows and invoice dates use this time zone

[connections.default.fusion]
base_url = "http://{fusion_host}:{fusion_port}"   # e.g. https://acme.fa.us2.oraclecloud.com
rest_version = "{rest_version}"
framework_version = "4"                            # REST-Framework-Version header
auth = "oauth"                                     # oauth (identity domain) or basic
token_url = "http://{fusion_host}:{fusion_port}/oauth2/v1/token"  # https://idcs-<guid>.identity.oraclecloud.com/oauth2/v1/token
client_id = "{fusion_client_id}"
scope = "{fusion_scope}"
# username = "INTEGRATION.USER"                    # for auth = "basic" (secret: fusion.password)
max_concurrency = 4
# secrets: fusion.client_secret (or fusion.password for basic)

[connections.default.servicetitan]
environment = "custom"                             # production, integration, or custom (explicit URLs)
api_base_url = "http://{st_host}:{st_port}"        # only for custom
token_url = "http://{st_host}:{st_port}/connect/token"  # only for custom
tenant_id = {st_tenant}
client_id = "{st_client_id}"
rate_limit_per_second = 50
# secrets: servicetitan.client_secret, servicetitan.app_key, servicetitan.webhook_key

[connections.default.servicetitan.webhooks]
enabled = true
signature_header = "X-ServiceTitan-Signature"
encoding = "base64"                                # base64 or hex

[connections.default.schedules]
suppliers_minutes = 10
purchase_orders_minutes = 10
receipts_minutes = 10
posting = "windows"                                # windows or as_they_arrive
posting_windows = ["06:00:00", "18:00:00"]

# Mapping tables: ServiceTitan has no GL mapping, so these say where things land in Fusion.
# `ml-connector check` validates them against live Fusion data. The tables below match the sandbox's
# generated HVAC company (15 business units); replace them with your own when going live.
{mapping}"""


def render_starter(application_guid: str) -> str:
    return STARTER_TEMPLATE.format(
        application_guid=application_guid,
        fusion_host=sb.FUSION_HOST,
        fusion_port=sb.FUSION_PORT,
        rest_version=sb.FUSION_REST_VERSION,
        fusion_client_id=sb.FUSION_CLIENT_ID,
        fusion_scope=sb.FUSION_SCOPE,
        st_host=sb.SERVICETITAN_HOST,
        st_port=sb.SERVICETITAN_PORT,
        st_tenant=sb.SERVICETITAN_TENANT_ID,
        st_client_id=sb.SERVICETITAN_CLIENT_ID,
        mapping=sandbox_mapping_toml(),
    )


SANDBOX_SECRETS: dict[str, str] = {
    "fusion.client_secret": sb.FUSION_CLIENT_SECRET,
    "fusion.password": sb.FUSION_PASSWORD,
    "servicetitan.client_secret": sb.SERVICETITAN_CLIENT_SECRET,
    "servicetitan.app_key": sb.SERVICETITAN_APP_KEY,
    "servicetitan.webhook_key": sb.SERVICETITAN_WEBHOOK_KEY,
    "dashboard.password": sb.DASHBOARD_PASSWORD,
}
