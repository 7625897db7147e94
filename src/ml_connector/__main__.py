"""``python -m ml_connector`` is the ``ml-connector`` command."""

from __future__ import annotations

from ml_connector.cli import main

main()
