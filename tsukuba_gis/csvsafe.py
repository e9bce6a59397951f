"""CSV cells that a spreadsheet cannot run: formula injection neutralised the OWASP way.

Excel, LibreOffice and Google Sheets treat a cell starting with ``=``, ``+``, ``-`` or ``@`` (and a
leading tab or CR, which they skip) as a formula: ``=HYPERLINK(...)`` from a department file would
run for every resident who opens the download. Japanese Excel also reads the full-width
``＝＋－＠`` as formula characters. Such a text cell gets a leading apostrophe, which the
spreadsheet shows as text (https://owasp.org/www-community/attacks/CSV_Injection); the writers
quote cells as RFC 4180 requires, so a separator in the cell cannot escape it.

Numbers stay numbers: only text is changed, and text that is a plain decimal number (``-12.5``,
a southern latitude) is left as it is, since a spreadsheet reads it as that number and nothing else.
"""

import re
from typing import Any

import pandas as pd

TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def safe_cell(value: Any) -> Any:
    """The value, with an apostrophe in front when it is text a spreadsheet would run."""
    if isinstance(value, str) and value[:1] in TRIGGERS and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: list[Any]) -> list[Any]:
    """Every cell of a row through ``safe_cell``."""
    return [safe_cell(v) for v in values]


def safe_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its text columns neutralised (a copy only when a cell had to change)."""
    changed: dict[str, list[Any]] = {}
    for name in table.columns:
        column = table[name]
        if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
            continue  # numbers, booleans: never a formula
        values = column.tolist()
        safe = [safe_cell(v) for v in values]
        if any(a is not b for a, b in zip(values, safe, strict=True)):
            changed[name] = safe
    if not changed:
        return table
    table = table.copy()
    for name, safe in changed.items():
        table[name] = pd.Series(safe, index=table.index, dtype=object)
    return table
