"""Both simulators tell one story, read through the sandbox mapping (DESIGN §3.2 rule 3).

Each eligible record passes the checks the connector makes before posting: an active Fusion
account with a bill-to site in the target BU (oracle-fusion-api.md §4.6, §4.8), enabled, postable,
not end-dated combinations (§4.7), known receipt methods (§4.8); PO lines find SKUs by item number
(servicetitan-api.md §6.2). Each broken record fails exactly the check its reason names.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from datagen_kit import World, make_world

from ml_connector.mapping.config import MappingConfig
from ml_connector.sandbox.data import manifest as m
from ml_connector.sandbox.data import sandbox_mapping
from ml_connector.sandbox.fusion.records import AccountCombination
from ml_connector.sandbox.fusion.records_ar import CustomerAccount
from ml_connector.sandbox.servicetitan import POItemInput


def combos(world: World) -> dict[str, AccountCombination]:
    return {"-".join(c.segments): c for c in world.fusion.combinations.values()}


def combo_usable(combo: AccountCombination | None, world: World) -> bool:
    today = world.fusion.today()
    return (
        combo is not None
        and combo.EnabledFlag == "Y"
        and combo.DetailPostingAllowedFlag == "Y"
        and (combo.EndDateActive is None or combo.EndDateActive >= today)
    )


def account_of(world: World, customer: dict[str, Any], field: str) -> CustomerAccount | None:
    values = [f["value"] for f in customer["customFields"] if f["name"] == field]
    return world.fusion.account_by_number(values[0]) if values else None


def invoice_combos(invoice: dict[str, Any], cfg: MappingConfig) -> set[str]:
    rec = cfg.receivables
    bu = rec.business_units[str(invoice["businessUnit"]["id"])]
    return {
        rec.account_template.format(
            company=rec.company, cost_center=bu.cost_center, account=rec.revenue_accounts[i["type"]]
        )
        for i in invoice["items"]
    }


def wire(world: World, table: str) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in world.st.snapshot(table)}


def test_eligible_invoices_pass_every_pre_posting_check(world: World) -> None:
    cfg, ds = sandbox_mapping(world.ds), world.ds
    invoices, customers = wire(world, "invoices"), wire(world, "customers")
    by_combo = combos(world)
    for ident, exp in ds.expected.invoices.eligible.items():
        inv = invoices[ident]
        assert inv["active"]
        assert inv["reviewStatus"] in cfg.receivables.eligible_review_statuses
        assert inv["syncStatus"] in cfg.receivables.eligible_sync_statuses
        account = account_of(world, customers[inv["customer"]["id"]], ds.customer_account_field)
        assert account is not None
        assert account.Status == "A"
        assert account.AccountNumber == exp.account_number
        target = cfg.receivables.business_units[str(inv["businessUnit"]["id"])]
        assert target.fusion_business_unit == exp.business_unit
        sites = [s for s in account.sites if s.BusinessUnit == exp.business_unit]
        assert [s.SiteNumber for s in sites if s.SiteUseCode == "BILL_TO"] == [exp.bill_to_site]
        wanted = invoice_combos(inv, cfg)
        assert wanted == set(exp.combinations)
        assert all(combo_usable(by_combo.get(c), world) for c in wanted), wanted
        assert Decimal(inv["total"]) == exp.total
        assert (exp.total < 0) == (exp.transaction_type == "Credit Memo")


def test_attention_invoices_fail_exactly_their_reason(world: World) -> None:
    cfg, ds = sandbox_mapping(world.ds), world.ds
    invoices, customers = wire(world, "invoices"), wire(world, "customers")
    by_combo = combos(world)
    field = ds.customer_account_field
    for ident, reason in ds.expected.invoices.attention.items():
        inv = invoices[ident]
        customer = customers[inv["customer"]["id"]]
        account = account_of(world, customer, field)
        target = cfg.receivables.business_units[str(inv["businessUnit"]["id"])]
        usable = [combo_usable(by_combo.get(c), world) for c in invoice_combos(inv, cfg)]
        if reason.kind == m.UNMAPPED_CUSTOMER:
            assert account is None
            assert str(customer["id"]) not in cfg.receivables.customers
            continue
        assert account is not None
        has_site = any(s.BusinessUnit == target.fusion_business_unit for s in account.sites)
        if reason.kind == m.INACTIVE_ACCOUNT:
            assert account.Status == "I"
            assert has_site
            assert all(usable)
        elif reason.kind == m.NO_BILL_TO_SITE:
            assert account.Status == "A"
            assert not has_site
            assert all(usable)
        else:
            assert reason.kind in (m.DISABLED_COMBINATION, m.END_DATED_COMBINATION)
            assert account.Status == "A"
            assert has_site
            assert not all(usable)
            broken = [by_combo[c] for c in invoice_combos(inv, cfg) if c in ds.broken_combinations]
            assert len(broken) == 1
            if reason.kind == m.DISABLED_COMBINATION:
                assert broken[0].EnabledFlag == "N"
            else:
                assert broken[0].EndDateActive is not None
                assert broken[0].EndDateActive < world.fusion.today()


def test_skipped_invoices_are_not_eligible(world: World) -> None:
    cfg = sandbox_mapping(world.ds).receivables
    invoices = wire(world, "invoices")
    for ident, reason in world.ds.expected.invoices.skipped.items():
        inv = invoices[ident]
        eligible = (
            inv["reviewStatus"] in cfg.eligible_review_statuses
            and inv["syncStatus"] in cfg.eligible_sync_statuses
        )
        assert not eligible, reason


def test_payments_apply_to_real_invoices_to_the_cent(world: World) -> None:
    """Applications reference existing invoices; amounts add up (servicetitan-api.md §6.5)."""
    cfg, ds = sandbox_mapping(world.ds), world.ds
    payments, invoices = wire(world, "payments"), wire(world, "invoices")
    methods = {r.Name for r in world.fusion.receipt_methods.values()}
    for ident, exp in ds.expected.payments.eligible.items():
        pay = payments[ident]
        applied = [(a["appliedTo"], Decimal(a["appliedAmount"])) for a in pay["appliedTo"]]
        assert tuple(applied) == exp.applications
        assert sum(a for _, a in applied) == exp.total == Decimal(pay["total"])
        assert Decimal(pay["unappliedAmount"]) == 0
        for invoice_id, amount in applied:
            assert invoice_id in ds.expected.invoices.eligible
            assert 0 < amount <= Decimal(invoices[invoice_id]["total"])
            assert invoices[invoice_id]["customer"]["id"] == pay["customer"]["id"]
        ptype = cfg.receivables.payment_types[pay["typeId"]]
        assert ptype.receipt_method == exp.receipt_method in methods
        assert ptype.remittance_bank_account == exp.bank_account
    partial = ds.kinds[m.PARTIAL_PAYMENT][0]
    ((inv_id, amount),) = ds.expected.payments.eligible[partial].applications
    assert amount < ds.expected.invoices.eligible[inv_id].total
    assert (
        Decimal(invoices[inv_id]["balance"]) == ds.expected.invoices.eligible[inv_id].total - amount
    )
    split = ds.kinds[m.SPLIT_PAYMENT][0]
    assert len({i for i, _ in ds.expected.payments.eligible[split].applications}) == 2
    refund = payments[ds.kinds[m.REFUND_PAYMENT][0]]
    assert Decimal(refund["total"]) < 0
    assert refund["refundedPaymentId"] in payments
    not_eligible = payments[ds.kinds[m.PAYMENT_INVOICE_NOT_ELIGIBLE][0]]
    assert all(a["appliedTo"] in ds.expected.invoices.skipped for a in not_eligible["appliedTo"])


def test_sku_codes_equal_fusion_item_numbers(world: World) -> None:
    cfg, ds = sandbox_mapping(world.ds), world.ds
    skus = {r["code"]: r["id"] for t in ("materials", "equipment") for r in world.st.snapshot(t)}
    prefix = cfg.purchase_orders.item_sku_prefix
    for ident, exp in ds.expected.purchase_orders.eligible.items():
        po = world.fusion.purchase_orders[ident]
        assert po.StatusCode in cfg.purchase_orders.statuses
        assert cfg.purchase_orders.business_units[po.ProcurementBU] == exp.business_unit_id
        for line, want in zip(po.lines, exp.lines, strict=True):
            assert line.Item is not None
            assert prefix + line.Item in skus
            assert want.sku_code == line.Item
            assert want.quantity == line.Quantity
            (schedule,) = line.schedules
            assert schedule.ShipToLocation is not None
            assert (
                cfg.purchase_orders.inventory_locations[schedule.ShipToLocation] == exp.warehouse_id
            )
        assert po.SupplierId in ds.expected.suppliers.eligible
        assert sum((ln.quantity * ln.price for ln in exp.lines), Decimal(0)) == exp.total
    for ident in ds.kinds[m.PO_UNMAPPED_ITEM]:
        items = [ln.Item for ln in world.fusion.purchase_orders[ident].lines]
        assert [i for i in items if i is not None and prefix + i not in skus] == [ds.unmapped_item]


def test_suppliers_match_their_outcome(world: World) -> None:
    cfg, ds = sandbox_mapping(world.ds), world.ds
    procurement = set(cfg.suppliers.procurement_business_units)
    for ident, sup in world.fusion.suppliers.items():
        in_scope = any(s.ProcurementBU in procurement for s in sup.sites)
        remit = any(a.AddressPurposeRemitToFlag for a in sup.addresses)
        if ident in ds.expected.suppliers.eligible:
            assert sup.Status == "ACTIVE"
            assert in_scope
            assert remit
            assert all(s.PaymentTerms in cfg.suppliers.payment_terms for s in sup.sites)
        elif ident in ds.kinds[m.INACTIVE_SUPPLIER]:
            assert sup.Status == "INACTIVE"
            assert sup.InactiveDate is not None
            assert in_scope
        elif ident in ds.kinds[m.SUPPLIER_WITHOUT_SITE]:
            assert sup.Status == "ACTIVE"
            assert sup.sites
            assert not in_scope
        else:
            assert ident in ds.kinds[m.SUPPLIER_WITHOUT_REMIT_TO]
            assert sup.Status == "ACTIVE"
            assert in_scope
            assert not remit


def test_records_are_dated_in_the_30_days_before_the_clock(world: World) -> None:
    now = world.clock.now()
    for inv in world.st.snapshot("invoices"):
        assert inv["invoiceDate"][:19] < now.strftime("%Y-%m-%dT%H:%M:%S")
        assert inv["invoiceDate"] >= (now - timedelta(days=31)).strftime("%Y-%m-%d")
    for pay in world.st.snapshot("payments"):
        assert pay["date"][:19] <= now.strftime("%Y-%m-%dT%H:%M:%S")
    assert world.ds.as_of == now


def test_equipment_comes_with_installation_labor(world: World) -> None:
    """An equipment change-out is billed with its installation labor, and only then."""
    for inv in world.st.snapshot("invoices"):
        types = [i["type"] for i in inv["items"]]
        installs = [i for i in inv["items"] if i["description"] == "System installation labor"]
        assert len(installs) == types.count("Equipment")


def test_eligible_purchase_orders_can_be_created_in_servicetitan() -> None:
    """Each eligible PO maps to a valid ServiceTitan PO request (servicetitan-api.md §6.2): SKUs
    by code, the mapped business unit, warehouse and PO type; totals equal Fusion's."""
    fresh = make_world()
    cfg, ds, st = sandbox_mapping(fresh.ds), fresh.ds, fresh.st
    skus = {r["code"]: r["id"] for t in ("materials", "equipment") for r in st.snapshot(t)}
    assert cfg.purchase_orders.po_type_id is not None
    vendors: dict[int, int] = {}
    for exp in ds.expected.purchase_orders.eligible.values():
        supplier = fresh.fusion.suppliers[exp.supplier_id]
        if exp.supplier_id not in vendors:
            vendors[exp.supplier_id] = st.add_vendor(supplier.Supplier).id
        po = st.add_purchase_order(
            vendor_id=vendors[exp.supplier_id],
            type_id=cfg.purchase_orders.po_type_id,
            business_unit_id=exp.business_unit_id,
            inventory_location_id=exp.warehouse_id,
            items=[
                POItemInput(
                    sku_id=skus[cfg.purchase_orders.item_sku_prefix + ln.sku_code],
                    description=ln.sku_code,
                    vendor_part_number=ln.sku_code,
                    quantity=ln.quantity,
                    cost=ln.price,
                )
                for ln in exp.lines
            ],
            date=fresh.clock.now(),
            memo=exp.order_number,
        )
        assert Decimal(str(st.wire("purchase_orders", po)["total"])) == exp.total


def test_refunds_follow_the_payment_they_refund(world: World) -> None:
    payments = wire(world, "payments")
    for ident in world.ds.kinds[m.REFUND_PAYMENT]:
        refund = payments[ident]
        original = payments[refund["refundedPaymentId"]]
        assert original["date"] <= refund["date"]
        assert Decimal(refund["total"]) == -Decimal(original["total"])


def test_supplier_names_and_numbers_are_unique() -> None:
    """Fusion keeps supplier names unique; vendors found by name must not be ambiguous."""
    big = make_world(scale=20)
    suppliers = list(big.fusion.suppliers.values())
    assert len({s.Supplier for s in suppliers}) == len(suppliers)
    assert len({s.SupplierNumber for s in suppliers}) == len(suppliers)
