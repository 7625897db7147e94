"""Vendors: servicetitan-api.md §6.1 (name mapping, write-only fields, externalData) and §3
(unknown fields ignored, typed 400s keyed by field, 200 ``{"id"}`` on writes)."""

from __future__ import annotations

from typing import Any

from st_helpers import ST

from ml_connector.sandbox.servicetitan import SEED_APP_GUID

ADDRESS = {
    "street": "1 A St",
    "unit": "",
    "city": "Mesa",
    "state": "AZ",
    "zip": "85201",
    "country": "USA",
}


def create_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "New Vendor",
        "active": True,
        "isTruckReplenishment": False,
        "taxRate": 0.0725,
        "restrictedMobileCreation": True,
        "firstName": "Ana",
        "lastName": "Diaz",
        "email": "ana@example.com",
        "phone": "480-555-0101",
        "address": ADDRESS,
        "paymentTermId": 3,
        "remittanceVendorId": 44,
        "vendorQuickbooksItem": "QB-1",
        "tags": [{"tagTypeId": 9}],
        "vendorContacts": [{"name": "AP", "email": "ap@example.com"}],
    }
    body.update(over)
    return body


async def test_create_maps_request_names_to_response_names(st: ST) -> None:
    """§6.1: taxRate → defaultTaxRate, restrictedMobileCreation → isMobileCreationRestricted,
    flat contact → contactInfo; write-only fields are not returned; create → 200 {"id"}."""
    created = await st.send("POST", "inventory", "/vendors", create_body())
    assert created.status_code == 200
    assert set(created.json()) == {"id"}
    vendor = (await st.get("inventory", f"/vendors/{created.json()['id']}")).json()
    assert vendor["defaultTaxRate"] == 0.0725
    assert vendor["isMobileCreationRestricted"] is True
    assert vendor["contactInfo"] == {
        "firstName": "Ana",
        "lastName": "Diaz",
        "phone": "480-555-0101",
        "email": "ana@example.com",
        "fax": "",
    }
    for request_only in (
        "taxRate",
        "restrictedMobileCreation",
        "firstName",
        "paymentTermId",
        "remittanceVendorId",
        "vendorQuickbooksItem",
        "tags",
        "vendorContacts",
    ):
        assert request_only not in vendor
    record = st.state.require("vendors", vendor["id"])
    assert record.hidden["paymentTermId"] == 3


async def test_unknown_fields_are_silently_ignored(st: ST) -> None:
    """§3 / §11.10: a misspelled field is dropped with a 200."""
    created = await st.send("POST", "inventory", "/vendors", create_body(taxrate=0.5, colour="red"))
    assert created.status_code == 200
    vendor = (await st.get("inventory", f"/vendors/{created.json()['id']}")).json()
    assert vendor["defaultTaxRate"] == 0.0725
    assert "colour" not in vendor


async def test_wrong_types_and_missing_fields_are_400_keyed_by_field(st: ST) -> None:
    """§3, §10: 400 ProblemDetails whose ``errors`` name the field (nested paths included)."""
    body = create_body(taxRate="lots", active="yes")
    del body["name"]
    body["address"] = {**ADDRESS, "zip": 85201}
    response = await st.send("POST", "inventory", "/vendors", body)
    assert response.status_code == 400
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "traceId", "errors", "data"}
    assert problem["status"] == 400
    assert set(problem["errors"]) == {"name", "taxRate", "active", "address.zip"}
    assert all(isinstance(m, list) and m for m in problem["errors"].values())
    assert len(st.state.table("vendors")) == 3


async def test_patch_is_partial_and_bumps_modified_on(st: ST) -> None:
    """§3: PATCH changes only what is sent, returns 200 {"id"}, bumps modifiedOn."""
    ident = st.seed.vendors[0]
    before = (await st.get("inventory", f"/vendors/{ident}")).json()
    st.clock.advance(5)
    patched = await st.send(
        "PATCH",
        "inventory",
        f"/vendors/{ident}",
        {"taxRate": 0.1, "fax": "602-555-0199", "active": False},
    )
    assert patched.json() == {"id": ident}
    after = (await st.get("inventory", f"/vendors/{ident}")).json()
    assert after["defaultTaxRate"] == 0.1
    assert after["active"] is False
    assert after["contactInfo"]["fax"] == "602-555-0199"
    assert after["contactInfo"]["firstName"] == before["contactInfo"]["firstName"]
    assert after["name"] == before["name"]
    assert after["modifiedOn"] > before["modifiedOn"]


async def test_patch_unknown_vendor_is_404(st: ST) -> None:
    """§6.1: ``PATCH /vendors/{id}`` documents 404 for an unknown id."""
    response = await st.send("PATCH", "inventory", "/vendors/1", {"name": "x"})
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_external_data_replace_and_merge(st: ST) -> None:
    """§6.1: ``patchMode`` Replace (default) drops keys not sent; Merge keeps them."""
    ident = st.seed.vendors[0]

    async def pairs() -> dict[str, str]:
        vendor = (await st.get("inventory", f"/vendors/{ident}")).json()
        return {p["key"]: p["value"] for p in vendor["externalData"]}

    assert await pairs() == {"fusionSupplierId": "300000100"}
    merge = {
        "applicationGuid": SEED_APP_GUID,
        "patchMode": "Merge",
        "externalData": [{"key": "site", "value": "S1"}],
    }
    await st.send("PATCH", "inventory", f"/vendors/{ident}", {"externalData": merge})
    assert await pairs() == {"fusionSupplierId": "300000100", "site": "S1"}
    replace = {"applicationGuid": SEED_APP_GUID, "externalData": [{"key": "site", "value": "S2"}]}
    await st.send("PATCH", "inventory", f"/vendors/{ident}", {"externalData": replace})
    assert await pairs() == {"site": "S2"}


async def test_external_data_filters(st: ST) -> None:
    """§3: filter by ``externalDataApplicationGuid``, ``externalDataKey``, ``externalDataValues``."""
    a, b = st.seed.vendors
    by_guid = await st.get("inventory", "/vendors", externalDataApplicationGuid=SEED_APP_GUID)
    assert {v["id"] for v in by_guid.json()["data"]} == {a, b}
    by_value = await st.get(
        "inventory",
        "/vendors",
        externalDataApplicationGuid=SEED_APP_GUID.upper(),
        externalDataKey="fusionSupplierId",
        externalDataValues="300000101,999",
    )
    assert [v["id"] for v in by_value.json()["data"]] == [b]
    other = await st.get(
        "inventory", "/vendors", externalDataApplicationGuid="00000000-0000-0000-0000-000000000000"
    )
    assert other.json()["data"] == []
