"""Fixed, documented, sandbox-only credentials.

These values let ``ml-connector init`` → ``sandbox`` → ``check`` work with no edits. They open
nothing but the simulators on 127.0.0.1 and must never be used against a real system.
"""

from __future__ import annotations

FUSION_HOST = "127.0.0.1"
FUSION_PORT = 8710
SERVICETITAN_HOST = "127.0.0.1"
SERVICETITAN_PORT = 8720

# Oracle Fusion (OCI IAM identity-domain style OAuth client credentials, or Basic)
FUSION_CLIENT_ID = "ml-connector-sandbox"
FUSION_CLIENT_SECRET = "sandbox-fusion-client-secret"
FUSION_INSTANCE_ID = "sandbox0001"
FUSION_SCOPE = f"urn:opc:resource:fa:instanceid={FUSION_INSTANCE_ID}urn:opc:resource:consumer::all"
FUSION_USERNAME = "INTEGRATION.USER"
FUSION_PASSWORD = "sandbox-fusion-password"
FUSION_REST_VERSION = "11.13.18.05"

# ServiceTitan (client credentials per tenant + app key per application)
SERVICETITAN_TENANT_ID = 1234567
SERVICETITAN_CLIENT_ID = "cid.sandbox0000000000000000"
SERVICETITAN_CLIENT_SECRET = "cs1.sandbox-servicetitan-client-secret"
SERVICETITAN_APP_KEY = "ak1.sandbox-app-key-000000000000"
SERVICETITAN_WEBHOOK_KEY = (
    "sandbox-webhook-hmac-key-0123456789abcdef"  # 32-64 chars, like the portal's
)

# The connector's dashboard in the sandbox set-up (init on the sandbox, demo): any user name
DASHBOARD_PASSWORD = "sandbox-dashboard-password"
