"""CSV cells that a spreadsheet shows as text, never runs as a formula.

Names, references and messages come from Fusion and ServiceTitan, where anyone with data entry can
type ``=HYPERLINK(...)``. A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is prefixed with ``'`` unless it is a plain number (amounts such as ``-120.00`` stay numbers).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if not text.startswith(_TRIGGERS):
        return text
    try:
        Decimal(text)
    except InvalidOperation:
        return "'" + text
    return text
