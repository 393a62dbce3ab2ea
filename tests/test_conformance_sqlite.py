"""The conformance scenario on SQLite: deterministic, and covering every statement of api/sql.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

from support.conformance import counting_statements, deterministic_ids, run, statement_functions
from support.course import manifest_of

from api.sqlite import SQLiteDatabase


def test_conformance_scenario_is_deterministic_and_complete(tmp_path: Path) -> None:
    manifest = manifest_of(tmp_path)
    with deterministic_ids(), counting_statements() as called:
        first = asyncio.run(run(SQLiteDatabase(tmp_path / "one.sqlite3"), manifest))
    with deterministic_ids():
        second = asyncio.run(run(SQLiteDatabase(tmp_path / "two.sqlite3"), manifest))
    assert first["answers"] == second["answers"]
    assert first["tables"] == second["tables"]
    assert called == statement_functions(), f"not exercised: {statement_functions() - called}"
    # D1's free plan runs at most 50 queries per Worker invocation: every request stays under it.
    busiest = max(first["meters"], key=lambda meter: meter[1][0])
    assert busiest[1][0] <= 50, busiest
    statuses = [status for _, _, status, _ in first["answers"]]
    assert 409 in statuses and 401 in statuses and 403 in statuses and statuses.count(200) > 20
