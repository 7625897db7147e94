"""Redaction over a full demo run (issue 8): no credential or token in any line it prints or logs.

One ``ml-connector demo`` (both simulators, the connector's web app, webhooks, every flow, the
dashboard password) runs as an OS process with DEBUG logs in JSON; every line of stdout, stderr
and any log file under its directory is then searched for each sandbox secret (client secrets,
passwords, app key, webhook HMAC key, dashboard password) and for bearer tokens in the
simulators' formats (ServiceTitan issues JWTs; Fusion 43-character URL-safe tokens, which are only
looked for after ``Bearer`` or ``access_token``, where a leak would show).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_kit import _cli
from ml_connector.sandbox import credentials as sb

SECRETS = {
    "fusion client secret": sb.FUSION_CLIENT_SECRET,
    "fusion password": sb.FUSION_PASSWORD,
    "servicetitan client secret": sb.SERVICETITAN_CLIENT_SECRET,
    "servicetitan app key": sb.SERVICETITAN_APP_KEY,
    "webhook HMAC key": sb.SERVICETITAN_WEBHOOK_KEY,
    "dashboard password": sb.DASHBOARD_PASSWORD,
}
JWT = re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{20,}")
BEARER = re.compile(r"(?i)(bearer\s+|access_token[\"']?\s*[:=]\s*[\"']?)([\w.~+/-]{20,})")


async def test_no_secret_or_token_in_any_line_of_a_demo_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    env["COLUMNS"] = "200"
    demo_dir = tmp_path / "demo"
    code, out, err = await _cli(
        tmp_path, env, "demo", "--dir", str(demo_dir), "--scale", "0.2",
        "--log-level", "DEBUG", "--log-format", "json",
    )  # fmt: skip
    assert code == 0, out[-2000:] + err[-2000:]
    logs = [p.read_text(errors="replace") for p in demo_dir.rglob("*.log")]
    lines = [*out.splitlines(), *err.splitlines(), *(x for t in logs for x in t.splitlines())]
    json_lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    # the run was logged at DEBUG, so the search covers the request-level lines
    assert len(json_lines) > 50, "expected DEBUG JSON logs on stderr"
    assert any(x.get("level") == "DEBUG" for x in json_lines)
    assert "webhooks:" in out  # the console summary is there as usual
    for line in lines:
        for what, value in SECRETS.items():
            assert value not in line, f"{what} in: {line[:200]}"
        assert not JWT.search(line), f"a ServiceTitan token in: {line[:200]}"
        leaked = [m.group(2) for m in BEARER.finditer(line) if "redacted" not in m.group(2).lower()]
        assert not leaked, f"a bearer token in: {line[:200]}"
