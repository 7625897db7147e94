"""Every shell block of docs/quickstart.md runs, in order, in an empty directory.

The blocks are joined into one bash script (so ``export``, ``cd`` and job numbers carry over, as in
a terminal). Between the page's commands the test adds only waits and checks — after a command
started with ``&``, a wait until it is ready; after ``kill %N``, a wait for the job to end; after
the demo is up, a login to its dashboard that must show the demo's data — and it replaces the
sandbox's ports with free ones (with the matching ``ML_CONNECTOR_*`` overrides, since the starter
config names 8710 and 8720), so the test never collides with a sandbox already running here.
No ``ML_CONNECTOR_*`` variable is inherited.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "quickstart.md"
HELPER = Path(__file__).with_name("qs_helper.py")
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shell_blocks(text: str) -> list[list[str]]:
    """The commands of every ```bash block, one string per line (comments and blanks dropped)."""
    return [
        [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        for block in BLOCK.findall(text)
    ]


def _script(blocks: list[list[str]], log: Path, ports: dict[str, int]) -> str:
    helper = f"{shlex.quote(sys.executable)} {shlex.quote(str(HELPER))}"
    lines = ["set -euo pipefail"]
    for block in blocks:
        for command in block:
            command = command.replace("--fusion-port 8710", f"--fusion-port {ports['fusion']}")
            command = command.replace(
                "--servicetitan-port 8720", f"--servicetitan-port {ports['st']}"
            )
            lines.append(command)
            if command.startswith("ml-connector demo") and command.endswith("&"):
                lines.append(f'{helper} log {log} "keep running; Ctrl-C stops"')
                lines.append(f"{helper} dashboard {log}")
            elif command.startswith("ml-connector sandbox") and command.endswith("&"):
                lines.append(f"{helper} port {ports['fusion']}")
                lines.append(f"{helper} port {ports['st']}")
            elif command.endswith("&"):
                raise AssertionError(f"the test does not know when {command!r} is ready")
            elif match := re.fullmatch(r"kill (%\d+)", command):
                lines.append(f"wait {match.group(1)} || true")
    lines.append('jobs -p | xargs -r kill; wait || true; echo "quickstart: done"')
    return "\n".join(lines) + "\n"


def test_the_page_has_the_commands_it_promises() -> None:
    commands = [c for block in shell_blocks(PAGE.read_text(encoding="utf-8")) for c in block]
    for expected in ("ml-connector demo", "ml-connector init", "ml-connector check", "kill %1"):
        assert any(c.startswith(expected) for c in commands), expected


@pytest.mark.slow
def test_every_quickstart_command_runs(tmp_path: Path) -> None:
    blocks = shell_blocks(PAGE.read_text(encoding="utf-8"))
    log = tmp_path / "quickstart.log"
    ports = {"fusion": _free_port(), "st": _free_port()}
    script = tmp_path / "quickstart.sh"
    script.write_text(_script(blocks, log, ports), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "COLUMNS": "200",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL": f"http://127.0.0.1:{ports['fusion']}",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__TOKEN_URL": f"http://127.0.0.1:{ports['fusion']}/oauth2/v1/token",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__API_BASE_URL": f"http://127.0.0.1:{ports['st']}",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__TOKEN_URL": f"http://127.0.0.1:{ports['st']}/connect/token",
        }
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", str(script)], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            code = proc.wait(timeout=240)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if proc.poll() is None or code is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert code == 0, f"the quickstart failed (exit {code}):\n{text[-6000:]}"
    assert "shows the demo's data" in text
    assert "unmapped_customer" in text  # attention list and audit search
    assert "quickstart: done" in text
