"""Waits and checks the quickstart test puts between the page's commands (run as a script).

``log FILE TEXT`` — wait until FILE contains TEXT (a background command is ready).
``port PORT`` — wait until something listens on 127.0.0.1:PORT.
``dashboard FILE`` — read the demo's dashboard URL from FILE, log in with the sandbox password and
check that the overview and the attention queue show the demo's data.

Each waits at most ``TIMEOUT`` seconds, polling, and exits 1 saying what did not happen.
"""

from __future__ import annotations

import re
import socket
import sys
import time
from pathlib import Path

import httpx

TIMEOUT = 90.0
PASSWORD = "sandbox-dashboard-password"


def _until(check: object, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            sys.exit(f"quickstart: gave up waiting for {what}")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def dashboard(log: Path) -> None:
    found = re.search(r"dashboard \((http://127\.0\.0\.1:\d+)/\) keep running", log.read_text())
    if not found:
        sys.exit("quickstart: the demo did not print its dashboard URL")
    base = found.group(1)
    with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as web:
        form = web.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if form.status_code != 200 or not token:
            sys.exit(f"quickstart: no login form at {base}/login ({form.status_code})")
        page = web.post(
            "/login", data={"user": "Quickstart", "password": PASSWORD, "csrf": token.group(1)}
        )
        if page.status_code != 200 or "Quickstart" not in page.text:
            sys.exit(f"quickstart: login failed ({page.status_code})")
        overview = web.get("/")
        for text in ("suppliers", "purchase_orders", "invoices", "payments"):
            if text not in overview.text:
                sys.exit(f"quickstart: the overview does not show {text}")
        queue = web.get("/attention")
        for reason in ("unmapped_customer", "refund_or_reversal", "po_line_unmapped_item"):
            if reason not in queue.text:
                sys.exit(f"quickstart: the attention queue does not show {reason}")
        audit = web.get("/audit", params={"source_id": "1662"})
        if "1662" not in audit.text or "attention" not in audit.text:
            sys.exit("quickstart: the audit search does not show invoice 1662")
    print(f"quickstart: dashboard at {base} shows the demo's data")


def main(argv: list[str]) -> None:
    kind, *args = argv
    if kind == "log":
        path, text = Path(args[0]), args[1]
        _until(lambda: path.exists() and text in path.read_text(errors="replace"), repr(text))
    elif kind == "port":
        _until(lambda: _listening(int(args[0])), f"a listener on port {args[0]}")
    elif kind == "dashboard":
        dashboard(Path(args[0]))
    else:
        sys.exit(f"qs_helper: unknown step {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
