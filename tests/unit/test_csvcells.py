"""CSV cells from system text never run as spreadsheet formulas (review finding)."""

from __future__ import annotations

import pytest

from ml_connector.csvcells import safe_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-A1", "'-A1"),
        ("\tx", "'\tx"),
        ("-120.00", "-120.00"),
        ("+5", "+5"),
        ("Zoë & Sons", "Zoë & Sons"),
        (None, ""),
        (12, "12"),
    ],
)
def test_formula_triggers_are_quoted_and_numbers_kept(value: object, cell: str) -> None:
    assert safe_cell(value) == cell
