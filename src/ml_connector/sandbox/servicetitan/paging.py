"""Page lists and export feeds (reference §4, §5).

Lists: ``page`` from 1, ``pageSize`` default 50 clamped to 5000, ``totalCount`` only with
``includeTotal=true``, ``hasMore = offset + len(data) < total``; ``active`` defaults to active only
(``True|Any|False``), accounting's ``activeState`` to ``ActiveOnly``; ``…OnOrAfter`` inclusive,
``…Before`` exclusive; ``sort=±Id|ModifiedOn|CreatedOn``. Records are filtered, sorted at most once
per request, and only the page is turned into JSON.

Exports: ``{hasMore, continueFrom, data}`` in (modifiedOn, id) order from the table's index, inactive
records included; ``continueFrom`` is an opaque base64 of the last (modifiedOn, id); ``from`` takes
such a token, a date or a datetime.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import QueryParams

from ml_connector.sandbox.servicetitan.problems import ApiProblem, bad_request
from ml_connector.sandbox.servicetitan.records import ExportKey, Record
from ml_connector.sandbox.servicetitan.state import STState
from ml_connector.sandbox.servicetitan.timefmt import format_dt, parse_dt

Predicate = Callable[[Record], bool]
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_SORT_KEYS: dict[str, Callable[[Record], Any]] = {
    "id": lambda r: r.id,
    "modifiedon": lambda r: (r.modified_on, r.id),
    "createdon": lambda r: (r.created_on, r.id),
}


def int_param(query: QueryParams, name: str, default: int | None = None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(name, f"The value '{raw}' is not valid for {name}.") from None


def bool_param(query: QueryParams, name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise bad_request(name, f"The value '{raw}' is not valid for {name}.")


def date_param(query: QueryParams, name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_dt(raw)
    except ValueError:
        raise bad_request(name, f"The value '{raw}' is not valid for {name}.") from None


def list_param(query: QueryParams, name: str) -> list[str]:
    """Repeated (``a=1&a=2``) or comma-separated (``a=1,2``) values."""
    return [v.strip() for raw in query.getlist(name) for v in raw.split(",") if v.strip()]


def int_list_param(query: QueryParams, name: str) -> set[int] | None:
    values = list_param(query, name)
    if not values:
        return None
    try:
        return {int(v) for v in values}
    except ValueError:
        raise bad_request(name, f"The value '{','.join(values)}' is not valid.") from None


def active_predicate(query: QueryParams) -> Predicate | None:
    raw = (query.get("active") or "True").lower()
    if raw == "any":
        return None
    if raw in ("true", "false"):
        want = raw == "true"
        return lambda r: r.active is want
    raise bad_request("active", f"The value '{query.get('active')}' is not valid for active.")


def active_state_predicate(query: QueryParams) -> Predicate | None:
    raw = (query.get("activeState") or "ActiveOnly").lower()
    if raw == "all":
        return None
    if raw in ("activeonly", "inactiveonly"):
        want = raw == "activeonly"
        return lambda r: r.active is want
    raise bad_request("activeState", f"The value '{query.get('activeState')}' is not valid.")


def range_predicates(
    query: QueryParams, prefix: str, get: Callable[[Record], datetime | None]
) -> list[Predicate]:
    """``<prefix>OnOrAfter`` (inclusive) and ``<prefix>Before`` (exclusive)."""
    preds: list[Predicate] = []
    after = date_param(query, f"{prefix}OnOrAfter")
    before = date_param(query, f"{prefix}Before")
    if after is not None:
        preds.append(lambda r: (v := get(r)) is not None and v >= after)
    if before is not None:
        preds.append(lambda r: (v := get(r)) is not None and v < before)
    return preds


def common_predicates(query: QueryParams, *, active: str | None = "active") -> list[Predicate]:
    """``ids``, the active flag (``active``, ``activeState`` or none), created/modified ranges."""
    preds: list[Predicate] = []
    ids = int_list_param(query, "ids")
    if ids is not None:
        preds.append(lambda r: r.id in ids)
    flag = {"active": active_predicate, "activeState": active_state_predicate}.get(active or "")
    if flag is not None and (pred := flag(query)) is not None:
        preds.append(pred)
    preds += range_predicates(query, "created", lambda r: r.created_on)
    preds += range_predicates(query, "modified", lambda r: r.modified_on)
    return preds


def external_predicates(query: QueryParams) -> list[Predicate]:
    """``externalDataApplicationGuid`` / ``externalDataKey`` / ``externalDataValues`` (max 50)."""
    guid = (query.get("externalDataApplicationGuid") or "").lower() or None
    key = query.get("externalDataKey") or None
    values = set(list_param(query, "externalDataValues"))
    if len(values) > 50:
        raise bad_request("externalDataValues", "At most 50 values are allowed.")
    if guid is None and key is None and not values:
        return []

    def match(record: Record) -> bool:
        groups = [record.external.get(guid)] if guid else list(record.external.values())
        for pairs in groups:
            if pairs is None:
                continue
            if key is None and not values:
                return True
            for k, v in pairs.items():
                if (key is None or k == key) and (not values or v in values):
                    return True
        return False

    return [match]


def field_equals(query: QueryParams, param: str, get: Callable[[Record], Any]) -> list[Predicate]:
    raw = query.get(param)
    if raw is None or raw == "":
        return []
    return [lambda r: str(get(r)) == raw]


def sort_records(query: QueryParams, records: list[Record]) -> list[Record]:
    """``sort=±Field``; invoices also take ``orderBy`` + ``orderByDirection`` (``desc``/``descending``
    for descending, anything else ascending), read here as the same three fields."""
    raw = (query.get("sort") or "").strip()
    if not raw and query.get("orderBy"):
        direction = (query.get("orderByDirection") or "").lower()
        raw = ("-" if direction in ("desc", "descending") else "+") + query["orderBy"]
    if not raw:
        return records
    descending = raw.startswith("-")
    name = raw.lstrip("+- ").lower()
    key = _SORT_KEYS.get(name)
    if key is None:
        raise bad_request(
            "sort", f"Sorting by '{raw}' is not supported: Id, ModifiedOn, CreatedOn."
        )
    return sorted(records, key=key, reverse=descending)


def page_envelope(
    state: STState,
    table: str,
    query: QueryParams,
    predicates: Iterable[Predicate],
    *,
    default_page_size: int,
    max_page_size: int,
) -> dict[str, Any]:
    page = int_param(query, "page", 1) or 1
    size = int_param(query, "pageSize", default_page_size) or default_page_size
    page, size = max(1, page), max(1, min(size, max_page_size))
    include_total = bool_param(query, "includeTotal") is True
    preds = list(predicates)
    rows = [r for r in state.table(table) if all(p(r) for p in preds)]
    rows = sort_records(query, rows)
    offset = (page - 1) * size
    chunk = rows[offset : offset + size]
    return {
        "page": page,
        "pageSize": size,
        "hasMore": offset + len(chunk) < len(rows),
        "totalCount": len(rows) if include_total else None,
        "data": [state.wire(table, r) for r in chunk],
    }


# -- exports ----------------------------------------------------------------------------------

_TOKEN_PREFIX = "st1|"


def encode_token(key: ExportKey) -> str:
    raw = f"{_TOKEN_PREFIX}{format_dt(key[0])}|{key[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_from(value: str | None) -> ExportKey:
    """The position after which an export continues: a token, a date or a datetime."""
    if not value:
        return (_EPOCH, -1)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if raw.startswith(_TOKEN_PREFIX):
        try:
            stamp, ident = raw[len(_TOKEN_PREFIX) :].rsplit("|", 1)
            return (parse_dt(stamp), int(ident))
        except ValueError:
            pass
    try:
        return (parse_dt(value), -1)
    except ValueError:
        raise ApiProblem(
            400, "Invalid continuation token", errors={"from": [f"'{value}' is not a valid value."]}
        ) from None


def export_envelope(
    state: STState, table: str, query: QueryParams, page_size: int, recent_overlap: int = 0
) -> dict[str, Any]:
    """One export page. With ``includeRecentChanges=true`` and ``recent_overlap`` > 0 the page starts
    that many records early, so consumers see duplicates as the spec warns they may."""
    key = decode_from(query.get("from"))
    if recent_overlap and bool_param(query, "includeRecentChanges"):
        key = state.table(table).back(key, recent_overlap)
    records, more = state.table(table).after(key, page_size)
    last = records[-1].key if records else key
    return {
        "hasMore": more,
        "continueFrom": encode_token(last),
        "data": [state.wire(table, r) for r in records],
    }


def getter(name: str) -> Callable[[Record], Any]:
    """Read one response field of a record (for filters)."""
    return lambda r: r.fields[name]


def in_set(name: str, wanted: set[Any]) -> Predicate:
    return lambda r: r.fields[name] in wanted
