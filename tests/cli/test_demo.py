"""``ml-connector demo`` end to end, as a user runs it (issue 7).

One real process on a fresh directory with no ML_CONNECTOR_* settings: both simulators, the
connector on SQLite and its web app. Invoices and payments must arrive by the simulator's webhooks
(verified, stored, processed by the inbox worker), the polling pass after them must create nothing,
the whole tour must stay well under the issue's 2 minutes, and no sandbox secret may be printed.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from pathlib import Path

from cli_kit import _cli
from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.server import build_sandbox
from ml_connector.settings import WebSettings

SECRETS = (
    sb.FUSION_CLIENT_SECRET,
    sb.FUSION_PASSWORD,
    sb.SERVICETITAN_CLIENT_SECRET,
    sb.SERVICETITAN_APP_KEY,
    sb.SERVICETITAN_WEBHOOK_KEY,
    sb.DASHBOARD_PASSWORD,
)


def _number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the demo's output"
    return int(found.group(1))


async def test_demo_delivers_receivables_by_webhook_and_the_polling_pass_finds_nothing_new(
    tmp_path: Path,
) -> None:
    expected = build_sandbox(seed=7, scale=1.0).dataset
    assert expected is not None
    invoices, payments = expected.expected.invoices, expected.expected.payments
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    env["COLUMNS"] = "200"
    preferred = WebSettings().port
    with socket.socket() as taken:  # the web app's usual port is busy: the demo must move aside
        with contextlib.suppress(OSError):  # already taken by something else: just as good
            taken.bind(("127.0.0.1", preferred))
        started = time.monotonic()
        code, out, err = await _cli(tmp_path, env, "demo", "--dir", str(tmp_path / "demo"))
        elapsed = time.monotonic() - started

    assert code == 0, out[-3000:] + err[-3000:]
    print(f"demo took {elapsed:.1f} s")  # the figure for the issue (pytest -s shows it)
    assert elapsed < 90, f"the demo took {elapsed:.1f} s; the issue allows 2 minutes in all"

    web = _number(r"connector web app: http://127\.0\.0\.1:(\d+)", out)
    assert web != preferred

    assert _number(r"invoices by webhook: (\d+) created", out) == len(invoices.eligible)
    assert _number(r"invoices by webhook: \d+ created, (\d+) to attention", out) == len(
        invoices.attention
    )
    assert _number(r"payments by webhook: (\d+) created", out) == len(payments.eligible)
    assert _number(r"payments by webhook: \d+ created, (\d+) to attention", out) == len(
        payments.attention
    )

    existing = _number(r"\((\d+) for the invoices and payments", out)
    assert existing == len(invoices) + len(payments)
    sent = _number(r"webhooks: (\d+) sent", out)
    assert sent >= existing
    assert _number(r"(\d+) delivered", out) == sent
    assert _number(r"(\d+) verified", out) == sent
    stored = _number(r"(\d+) stored", out)
    assert stored + _number(r"(\d+) duplicates dropped", out) == sent
    assert _number(r"(\d+) processed", out) == stored

    assert _number(r"invoices polling pass: \d+ read, (\d+) created", out) == 0
    assert _number(r"payments polling pass: \d+ read, (\d+) created", out) == 0
    assert _number(r"invoices polling pass: \d+ read, \d+ created, (\d+) unchanged", out) == len(
        invoices.eligible
    )

    # the reconciliation of every month the data covers, and where the dashboard is
    months = re.findall(r"reconciliation (\d{4}-\d{2}): .*? — (no problems|\d+ problems)", out)
    assert months, "no reconciliation in the summary"
    assert all(verdict == "no problems" for _, verdict in months), months
    assert _number(r"dashboard: http://127\.0\.0\.1:(\d+)/", out) == web

    for secret in SECRETS:
        assert secret not in out
        assert secret not in err
