"""Decoding API answers: orjson first (several times faster on the big pages of a backfill), the
standard library for whatever orjson refuses, so nothing that decoded before is refused now.

orjson refuses what ``json`` accepts in a few corners (``NaN`` and ``Infinity`` tokens, a body in
UTF-16); those go through ``json.loads`` and reach the same validators (an amount that is not
finite is refused there, per record, as before). Numbers with a point come back as the same floats
either way, and amounts become ``Decimal`` from their shortest repr. One difference: an integer
beyond 64 bits comes back from orjson as a float (``json`` keeps it exact), so such an id is
refused by its model and such an amount is rounded to 17 digits, far beyond the largest amount the
mappings post (``MAX_AMOUNT``, 10^15), so it goes to attention either way.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson


def loads(content: bytes) -> Any:
    """The JSON value of ``content``; ``ValueError`` if neither decoder takes it."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)


def response_json(response: httpx.Response) -> Any:
    """``response.json()``, faster (see the module's docstring)."""
    return loads(response.content)
