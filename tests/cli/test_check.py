"""Issue 4 acceptance: `ml-connector check` against the sandbox — every resource OK, exit 0; a
wrong credential → a clear reason and exit 1."""

from __future__ import annotations

import os
from pathlib import Path

from cli_kit import _cli, _free_port


async def test_check_is_green_on_the_sandbox_with_no_edits(
    tmp_path: Path, sandbox_env: dict[str, str]
) -> None:
    code, _, err = await _cli(tmp_path, sandbox_env, "init")
    assert code == 0, err
    code, out, err = await _cli(tmp_path, sandbox_env, "check")
    assert code == 0, out + err
    assert "FAILED" not in out
    for resource in (
        "suppliers",
        "receivablesInvoices",
        "accountCombinationsLOV",
        "vendors",
        "export/invoices",
    ):
        assert resource in out
    # The sandbox maps two deliberately broken combinations: shown as warnings, not failures.
    assert "disabled" in out
    assert "end-dated" in out
    strict, out, _ = await _cli(tmp_path, sandbox_env, "check", "--strict")
    assert strict == 1


async def test_check_with_a_wrong_credential_says_why_and_exits_1(
    tmp_path: Path, sandbox_env: dict[str, str]
) -> None:
    assert (await _cli(tmp_path, sandbox_env, "init"))[0] == 0
    assert (
        await _cli(
            tmp_path, sandbox_env, "secrets", "set", "servicetitan.client_secret", stdin="wrong\n"
        )
    )[0] == 0
    code, out, err = await _cli(tmp_path, sandbox_env, "check")
    assert code == 1
    assert "check client id/secret" in out
    assert out.count("not checked") >= 9, "every ServiceTitan resource is listed with the reason"
    assert "wrong" not in err
    assert "sandbox-servicetitan-client-secret" not in out + err


async def test_check_with_an_unreachable_pod_says_check_base_url(
    tmp_path: Path, sandbox_env: dict[str, str]
) -> None:
    assert (await _cli(tmp_path, sandbox_env, "init"))[0] == 0
    env = dict(sandbox_env)
    dead = f"http://127.0.0.1:{_free_port()}"
    env["ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__API_BASE_URL"] = dead
    code, out, _ = await _cli(tmp_path, env, "check")
    assert code == 1
    assert "check base URL" in out


async def test_demo_runs_from_nothing_to_a_clean_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    env["COLUMNS"] = "200"
    code, out, err = await _cli(tmp_path, env, "demo", "--dir", str(tmp_path / "demo"))
    assert code == 0, out + err
    assert "resources reachable: 26/26" in out
    assert "F4 invoices: 106 to sync" in out
    assert "suppliers: 50 created, 1 to attention" in out.replace("\n", " ")
    assert (tmp_path / "demo" / "ml-connector.db").exists()
    assert "sandbox-fusion-client-secret" not in out + err
    config = str(tmp_path / "demo" / "ml-connector.toml")
    code, status, _ = await _cli(tmp_path, env, "--config", config, "status")
    assert code == 0
    assert "create 50" in status
    code, listed, _ = await _cli(tmp_path, env, "--config", config, "attention", "list")
    assert "supplier_without_remit_to_address" in listed
    code, shown, _ = await _cli(tmp_path, env, "--config", config, "attention", "show", "1")
    assert "what to do" in shown
    code, _, err = await _cli(
        tmp_path, env, "--config", config, "attention", "ignore", "1", "--comment", " "
    )
    assert code == 2
    assert "needs a comment" in err
    code, _, _ = await _cli(
        tmp_path,
        env,
        "--config",
        config,
        "attention",
        "ignore",
        "1",
        "--comment",
        "supplier retired",
    )
    assert code == 0
    code, listed, _ = await _cli(
        tmp_path, env, "--config", config, "attention", "list", "--state", "ignored"
    )
    assert "supplier retired" not in listed
    assert "supplier_without_remit_to_address" in listed
