"""Helpers for the distributed-runner tests: connector processes read as they run, a vendor gate.

Nothing here sleeps: a test waits for a process's output (or any output of a group of processes)
and re-checks its condition at each new line, under a timeout.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

VENDOR_CREATE = re.compile(r"^/inventory/v2/tenant/\d+/vendors/?$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def cli(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run one ``ml-connector`` command to its end; (exit code, stdout + stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ml_connector", *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


class VendorGate:
    """ASGI wrapper over the ServiceTitan simulator: after ``allow`` vendor creates, each further
    one is committed and its answer held until :meth:`open` (``holding`` is set at the first)."""

    def __init__(self, app: ASGIApp, *, allow: int) -> None:
        self.app = app
        self.allow = allow
        self.passed = 0
        self.held = 0
        self.holding = asyncio.Event()
        self._opened = asyncio.Event()

    def open(self) -> None:
        self._opened.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        create = (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and bool(VENDOR_CREATE.match(scope["path"]))
        )
        if not create or self._opened.is_set() or self.passed < self.allow:
            self.passed += create
            await self.app(scope, receive, send)
            return
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)  # the vendor exists in ServiceTitan from here on
        self.held += 1
        self.holding.set()
        await self._opened.wait()
        with suppress(Exception):  # the caller may be dead by now: the answer is lost
            for message in answer:
                await send(message)


class Changes:
    """One condition shared by a group of processes: notified at every line any of them prints."""

    def __init__(self) -> None:
        self.condition = asyncio.Condition()

    async def notify(self) -> None:
        async with self.condition:
            self.condition.notify_all()

    async def wait_for(self, what: str, check: Callable[[], bool], within: float) -> None:
        try:
            async with asyncio.timeout(within):
                async with self.condition:
                    await self.condition.wait_for(check)
        except TimeoutError:
            raise AssertionError(f"timed out after {within} s waiting for {what}") from None


@dataclass
class Proc:
    """One long-running ``ml-connector`` process (``worker`` or ``web``), its output kept."""

    name: str
    proc: asyncio.subprocess.Process
    changes: Changes
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, name: str, cwd: Path, env: dict[str, str], args: Sequence[str], changes: Changes
    ) -> Proc:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ml_connector", *args,
            cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        started = cls(name=name, proc=proc, changes=changes)
        started.reader = asyncio.create_task(started._read())
        return started

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode())
            await self.changes.notify()
        await self.proc.wait()
        await self.changes.notify()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def exited(self) -> bool:
        return self.proc.returncode is not None

    def records(self, logger: str | None = None) -> list[dict[str, Any]]:
        """The JSON log records printed so far (of ``logger`` only, when given)."""
        found = []
        for line in self.lines:
            if line.startswith("{"):
                record = json.loads(line)
                if logger is None or record.get("logger") == logger:
                    found.append(record)
        return found

    def jobs(self) -> list[dict[str, Any]]:
        """The runner's "job started" / "job ended" / "skipped" records, in order."""
        return self.records("ml_connector.runtime.daemon")

    async def stop(self) -> int:
        """SIGTERM; the exit code once the output is complete (within 60 s)."""
        if not self.exited:
            self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), timeout=60)
        assert self.reader is not None
        await asyncio.wait_for(self.reader, timeout=10)
        return code

    def kill(self) -> None:
        if not self.exited:
            self.proc.kill()


def overlapping(spans: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """The spans (start, end, who) that begin before an earlier one ended; [] if none overlap."""
    found, reached = [], float("-inf")
    for span in sorted(spans):
        if span[0] < reached:
            found.append(span)
        reached = max(reached, span[1])
    return found
