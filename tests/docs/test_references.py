"""The generated configuration and CLI references match the code, and miss nothing."""

from __future__ import annotations

import typing

from docs_kit import DOCS, script
from pydantic import BaseModel

from ml_connector.settings import Settings

STALE = "run python scripts/gen_docs.py"


def test_configuration_reference_is_current() -> None:
    page = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    assert page == script("gen_docs").configuration_md(), STALE


def test_cli_reference_is_current() -> None:
    page = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    assert page == script("gen_docs").cli_md(), STALE


def _model_in(annotation: object) -> tuple[type[BaseModel] | None, bool]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    args = typing.get_args(annotation)
    table = typing.get_origin(annotation) is dict and isinstance(args[1], type)
    if table and issubclass(args[1], BaseModel):
        return args[1], True
    return None, False


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(table path, key) of every leaf field, walked here independently of the generator."""
    out = []
    for name, field in model.model_fields.items():
        sub, is_table = _model_in(field.annotation)
        if sub is None:
            out.append((prefix.rstrip("."), name))
        else:
            out += _leaf_keys(sub, f"{prefix}{name}.{'*.' if is_table else ''}")
    return out


def test_every_configuration_key_is_documented() -> None:
    page = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    sections = page.split("\n## ")
    keys = _leaf_keys(Settings)
    assert len(keys) > 60
    for table, key in keys:
        title = table.replace("connections.*", "connections.NAME").replace(".*.", ".ID.")
        title = title.replace(".*", ".ID")
        heading = f"`{title}`" if table else "Top level"
        section = next((s for s in sections if s.startswith(heading)), None)
        assert section is not None, f"no section {heading} in the configuration reference"
        assert f"| `{key}` |" in section, f"{table}.{key} is not documented"


def test_every_command_and_option_is_documented() -> None:
    page = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    commands = script("gen_docs").cli_commands()
    names = {name for name, _c, _x in commands}
    for expected in ("init", "migrate", "sandbox", "check", "demo", "sync", "run", "status",
                     "secrets", "audit", "attention", "replay", "reconcile"):  # fmt: skip
        assert f"ml-connector {expected}" in names
    for name, command, _ctx in commands:
        section = page.split(f"`{name}`\n", 1)
        assert len(section) == 2, f"{name} is not documented"
        body = section[1].split("\n#", 1)[0]
        for param in command.params:
            label = (
                f"`{param.opts[0]}`"
                if param.param_type_name == "option"
                else f"`{param.name.upper()}`"
            )
            assert label in body, f"{name} {param.opts[0]} is not documented"
