"""The dashboard in a real browser (issue 7): login, an attention replay, an audit search."""

from __future__ import annotations

from browser_kit import Live, log_in
from playwright.async_api import Page, expect
from sqlalchemy import select

from ml_connector.cli.sync_cmd import sync_flow
from ml_connector.sandbox.data import manifest as m
from ml_connector.store.schema import attention


async def test_login_then_the_overview_with_its_chart(live: Live, page: Page) -> None:
    await sync_flow(live.app_ctx, "default", "suppliers")
    await page.goto(live.url + "/")
    await expect(page).to_have_url(live.url + "/login?next=%2F")
    await page.get_by_label("Your name").fill("Robin")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Wrong name or password")
    await log_in(page, live.url)
    await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    row = page.locator("table.flows tr", has_text="suppliers")
    await expect(row).to_contain_text("default")
    await expect(page.locator("svg rect.bar")).not_to_have_count(0)
    await expect(page.locator("header .who")).to_have_text("Robin")
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(live.url + "/login")


async def test_an_attention_item_is_replayed_from_the_browser(live: Live, page: Page) -> None:
    dataset = live.box.dataset
    assert dataset is not None
    unmapped = next(
        i for i, r in dataset.expected.invoices.attention.items() if r.kind == m.UNMAPPED_CUSTOMER
    )
    invoices = {r["id"]: r for r in live.box.servicetitan.snapshot("invoices")}
    bu = invoices[unmapped]["businessUnit"]["id"]
    account = next(
        e.account_number
        for i, e in dataset.expected.invoices.eligible.items()
        if invoices[i]["businessUnit"]["id"] == bu
    )
    await sync_flow(live.app_ctx, "default", "invoices")
    async with live.store.transaction() as tx:
        item_id = (
            await tx.connection.execute(
                select(attention.c.id).where(attention.c.source_id == str(unmapped))
            )
        ).scalar_one()

    await log_in(page, live.url, "/attention")
    await page.get_by_label("Flow").select_option("invoices")
    await page.get_by_role("button", name="Filter").click()
    await page.get_by_role("link", name=str(unmapped), exact=True).click()
    await expect(page).to_have_url(f"{live.url}/attention/{item_id}")
    await expect(page.locator("dd.state")).to_have_text("open")

    # replay before the fix: still in attention, and the page says why
    await page.get_by_role("button", name="Replay").click()
    await expect(page.get_by_role("alert")).to_contain_text("still needs attention")

    # the operator maps the customer in the config file; the dashboard reads it again on replay
    config = live.app_ctx.config.path
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'"{invoices[unmapped]["customer"]["id"]}" = "{account}"\n',
        encoding="utf-8",
    )
    await page.goto(f"{live.url}/attention/{item_id}")
    await page.get_by_role("button", name="Replay").click()
    await expect(page.get_by_role("status")).to_have_text("Replayed: the record went through.")
    await expect(page.locator("dd.state")).to_have_text("resolved")
    await expect(page.locator("table.audit")).to_contain_text("create")


async def test_audit_search_and_a_records_history(live: Live, page: Page) -> None:
    summary = await sync_flow(live.app_ctx, "default", "suppliers")
    assert summary.created > 0
    async with live.store.transaction() as tx:
        created = await tx.audit.search(flow="suppliers", limit=1)
    source_id = created[0].source_id

    await log_in(page, live.url, "/audit")
    await page.get_by_label("Source id").fill(source_id)
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("table.audit tbody tr")).to_have_count(1)
    await page.get_by_role("link", name=str(created[0].id), exact=True).click()
    await expect(page.locator("dd.action")).to_have_text("create")
    await page.get_by_role("link", name="This record's full history").click()
    await expect(page.get_by_role("heading")).to_contain_text(source_id)
    await page.goto(live.url + "/audit?since=yesterday-ish")
    await expect(page.get_by_role("alert")).to_contain_text("is not a date")


async def test_reconciliation_of_a_month(live: Live, page: Page) -> None:
    await sync_flow(live.app_ctx, "default", "invoices")
    await sync_flow(live.app_ctx, "default", "payments")
    months = sorted({i["invoiceDate"][:7] for i in live.box.servicetitan.snapshot("invoices")})
    await log_in(page, live.url, "/reconcile")
    await page.get_by_label("Month").fill(months[-1])
    await page.get_by_role("button", name="Reconcile").click()
    totals = page.locator("table.totals")
    await expect(totals).to_contain_text("matched")
    await expect(page.get_by_role("heading", name=f"default · {months[-1]}")).to_be_visible()
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download as CSV").click()
    saved = await (await download.value).path()
    assert saved is not None
    assert saved.read_text(encoding="utf-8").splitlines()[0].startswith("kind")
    await page.get_by_label("Month").fill("2026-13")
    await page.get_by_role("button", name="Reconcile").click()
    await expect(page.get_by_role("alert")).to_be_visible()
