"""A broken config (issue 8): one line naming what is wrong, and the file left as it was.

``load_config`` is what every command calls first; the CLI turns its :class:`ConfigError` into
exit 2 (tested in ``tests/cli/test_foundation_cli.py``). Here: every way a config breaks — TOML
syntax, bytes that are not UTF-8, a wrong type, an out-of-range value, a bad environment override,
an empty file — gives one line with no traceback, and the operator's file is never rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ml_connector.errors import ConfigError
from ml_connector.settings import load_config
from ml_connector.starter import render_starter

GUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
Edit = Callable[[str], bytes]


def _sub(old: str, new: str) -> Edit:
    def edit(text: str) -> bytes:
        assert old in text, old
        return text.replace(old, new, 1).encode()

    return edit


CASES = [
    pytest.param(_sub("[connections.default]", "[connections.default"), {}, "", id="toml-syntax"),
    pytest.param(lambda t: t.encode() + b"\n# caf\xe9\n", {}, "", id="not-utf8"),
    pytest.param(
        _sub("rate_limit_per_second = 50", 'rate_limit_per_second = "fast"'),
        {},
        "rate_limit_per_second",
        id="wrong-type",
    ),
    pytest.param(
        _sub('timezone = "America/Chicago"', 'timezone = "Mars/Base"'), {}, "time zone", id="zone"
    ),
    pytest.param(
        lambda t: t.encode(),
        {"ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__WEBHOOKS__RATE_LIMIT_PER_SECOND": "-1"},
        "rate_limit_per_second",
        id="bad-env-override",
    ),
    pytest.param(
        lambda t: t.encode(),
        {"ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__WEBHOOKS__MAX_BODY_BYTES": "10"},
        "max_body_bytes",
        id="body-cap-too-small",
    ),
]


@pytest.mark.parametrize(("edit", "environ", "names"), CASES)
def test_a_broken_config_is_one_line_and_the_file_is_untouched(
    tmp_path: Path, edit: Edit, environ: dict[str, str], names: str
) -> None:
    path = tmp_path / "ml-connector.toml"
    path.write_bytes(edit(render_starter(GUID)))
    before = path.read_bytes()
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ=environ)
    message = str(raised.value)
    assert message
    assert "\n" not in message
    assert "Traceback" not in message
    assert names in message
    assert path.read_bytes() == before


def test_an_empty_config_loads_and_any_command_then_says_it_has_no_connection(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ml-connector.toml"
    path.write_bytes(b"")
    settings = load_config(path, environ={}).settings
    with pytest.raises(ConfigError, match=r"no \[connections.NAME\] table is defined"):
        settings.connection(None)
    assert path.read_bytes() == b""
