"""The going-live scopes, the runbook's reasons and the shipped alert rules match the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml
from docs_kit import DOCS, ROOT, script

from ml_connector.runtime.metrics import Metrics

SRC = ROOT / "src" / "ml_connector"

#: The reasons built from a template, with every value the code gives the placeholder.
TEMPLATES = {
    "unknown_{key}": [
        "business_unit",
        "transaction_type",
        "transaction_source",
        "currency",
        "receipt_method",
    ],
    "supplier_without_{purpose}_address": ["remit_to", "ordering"],
}


def test_going_live_scopes_are_current(shared_dir: Path) -> None:
    page = (DOCS / "going-live.md").read_text(encoding="utf-8")
    st_scopes = script("st_scopes")
    section = page.split(st_scopes.START, 1)[1].split(st_scopes.END, 1)[0]
    expected = st_scopes.render(shared_dir / "specs" / "servicetitan")
    assert section == "\n" + expected, "run python scripts/st_scopes.py --write docs/going-live.md"
    for scope in ("tn.inv.vendors:w", "tn.acc.invoices:r", "tn.acc.payments:w"):
        assert scope in section


def _reasons() -> set[str]:
    """Every attention reason the flows and mappings can raise, read from the code."""
    found: set[str] = set()
    folders = ("flows", "mapping", "matching")
    for path in [p for folder in folders for p in SRC.joinpath(folder).glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_names = {
            n.targets[0].id: n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
            and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
        }  # fmt: skip
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assigned = {
                n.targets[0].id: n.value.value
                for n in ast.walk(fn)
                if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
                and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
            }  # fmt: skip
            kinds = [
                n.value
                for n in ast.walk(fn)
                if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                and any(isinstance(t, ast.Name) and t.id == "kind" for t in n.targets)
            ]  # fmt: skip
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call):
                    continue
                name = getattr(call.func, "id", getattr(call.func, "attr", ""))
                index = {"NeedsAttentionError": 0, "_to_attention": 2}.get(name)
                if index is None or len(call.args) <= index:
                    continue
                arg = call.args[index]
                if isinstance(arg, ast.Constant):
                    found.add(arg.value)
                elif isinstance(arg, ast.JoinedStr):
                    template = "".join(
                        v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}"
                        for v in arg.values
                    )
                    assert template in TEMPLATES, f"new reason template {template} in {path.name}"
                    found.update(
                        template.replace(template[template.index("{") : template.index("}") + 1], v)
                        for v in TEMPLATES[template]
                    )
                elif isinstance(arg, ast.Name) and arg.id == "kind":
                    found.update(k.value for k in kinds)
                elif isinstance(arg, ast.Name) and arg.id in assigned:
                    found.add(assigned[arg.id])
                elif isinstance(arg, ast.Name) and arg.id in module_names:
                    found.add(module_names[arg.id])  # a module constant, e.g. REASON
    return found


def test_the_runbook_covers_every_attention_reason() -> None:
    reasons = _reasons()
    assert {"unmapped_customer", "disabled_gl_combination", "retries_exhausted",
            "unknown_receipt_method", "supplier_without_remit_to_address"} <= reasons  # fmt: skip
    runbook = (DOCS / "runbook.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", runbook, re.M))
    assert not reasons - documented, (
        f"reasons missing from docs/runbook.md: {sorted(reasons - documented)}"
    )
    assert not documented - reasons, (
        f"the runbook documents unknown reasons: {sorted(documented - reasons)}"
    )


def _exposed() -> set[str]:
    names: set[str] = set()
    for family in Metrics().registry.collect():
        suffixes = {
            "counter": ["_total", "_created"],
            "histogram": ["_bucket", "_count", "_sum", "_created"],
            "gauge": [""],
        }[family.type]
        names.update(family.name + s for s in suffixes)
    return names


def test_alert_rules_parse_and_use_existing_metrics() -> None:
    rules = yaml.safe_load((DOCS / "alerts" / "ml-connector.rules.yml").read_text(encoding="utf-8"))
    exposed = _exposed()
    assert "mlc_attention_open" in exposed
    assert "mlc_records_total" in exposed
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 8
    for rule in alerts:
        assert {"alert", "expr", "annotations"} <= set(rule), rule
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "1m")), rule["alert"]
        used = set(re.findall(r"\b(mlc_[a-z_]+)", rule["expr"]))
        assert used or "up{" in rule["expr"], rule["alert"]
        assert used <= exposed, (
            f"{rule['alert']} uses {sorted(used - exposed)}, not in runtime/metrics.py"
        )
    page = (DOCS / "metrics.md").read_text(encoding="utf-8")
    for rule in alerts:
        assert f"`{rule['alert']}`" in page, f"{rule['alert']} is not described in docs/metrics.md"
