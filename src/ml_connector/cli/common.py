"""Shared CLI plumbing: the global options, building the context, one-line errors."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import typer
from rich.console import Console

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
