"""Shared CLI plumbing: the global options, building the context, one-line errors."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from ml_connector.errors import ConfigError
from ml_connector.logging import configure_logging
from ml_connector.runtime.context import AppContext
from ml_connector.settings import load_config

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


@dataclass
class GlobalOptions:
    config_path: str | None = None


def options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    if not isinstance(obj, GlobalOptions):
        obj = GlobalOptions()
        ctx.find_root().obj = obj
    return obj


def app_context(ctx: typer.Context) -> AppContext:
    """Load and validate the config (a ConfigError becomes one line and exit 2 in :func:`main`)."""
    environ = dict(os.environ)
    config = load_config(options(ctx).config_path, environ=environ)
    configure_logging(level=config.settings.log.level, fmt=config.settings.log.format)
    return AppContext(config=config, environ=environ)


def run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        return await coro_factory()

    return asyncio.run(runner())


def serve_until_signal(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``serve(stop)``; SIGTERM or SIGINT sets ``stop`` (a graceful end), then say so."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(stop)
        console.print("stopped")

    run_loop()(main())


def run_loop() -> Callable[[Coroutine[Any, Any, None]], None]:
    """How the long-running commands run their loop: uvloop where it is installed (the webhook
    receiver's acknowledgement latency, bench B3), else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.run
    return uvloop.run


def write_output(text: str, output: Path | None) -> None:
    """``text`` to ``--output FILE``, or to stdout without one; an unwritable file is a one-line error."""
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--output {output}: cannot write ({exc.strerror})") from None
