"""The one CSV writer: what the insight endpoints and the learners CLI export.

A header row, CRLF line ends, a UTF-8 BOM on downloads (spreadsheets then read accents right),
and no cell a spreadsheet would run as a formula (CSV injection): such text gets a quote first.
"""

from __future__ import annotations

import csv
import io
from typing import Any


def csv_text(rows: list[dict[str, Any]], bom: bool = True) -> str:
    """CSV with a header row and no cell taken as a formula; a BOM for spreadsheet programs
    (downloads), none where other programs read it (the CLI's stdout and files)."""
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    """Empty for None; text that a spreadsheet would run as a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
