"""The ``ml-connector`` command line. :func:`main` is the console-script entry point."""

from __future__ import annotations

from ml_connector.cli.app import main

__all__ = ["main"]
