"""Retention on wrangler's local D1 (the real D1 engine, offline): a round deletes at most a
chunk of each table and reads about what it deletes, as D1 itself counts the rows it bills
(`meta.rows_read`, `meta.rows_written`); what the README's Data retention section quotes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from support.course import ROOT
from support.wrangler import LocalD1, local_d1

from api import sql_retention, sql_xapi
from api.clock import iso
from api.d1 import D1HttpDatabase
from api.retention import CHUNK, Pruned, Retention, prune
from api.storage import Result
from api.storage import Statement as S

pytestmark = pytest.mark.wrangler

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OLD, RECENT = iso(NOW - timedelta(days=400)), iso(NOW - timedelta(days=1))
EVENTS = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    "INSERT INTO events SELECT 'u' || (i % 50), ? || i, 'video', "
    '\'{"stepId": "intro", "watched": 12.5, "xp": []}\', ? FROM n'
)
STATEMENTS = (  # count, the seq before the first, id prefix, stored
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    "INSERT INTO xapi_statements (seq, id, learner_id, stored, statement) "
    'SELECT ? + i, ? || i, \'u\', ?, \'{"verb": {"id": "played"}}\' FROM n'
)
AT = sql_xapi.seq_at(OLD)  # the seq storing at OLD gives (api/sql_xapi.py)
DELIVERED = "UPDATE xapi_outbox SET seq = ?"  # the forwarder's place


@pytest.fixture(scope="module")
def d1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalD1]:
    yield from local_d1(tmp_path_factory.mktemp("d1"))


def on_d1(d1: LocalD1, *statements: S) -> list[Result]:
    """Each statement alone (its own `meta`), in order."""

    async def go() -> list[Result]:
        db = D1HttpDatabase(d1.url)
        try:
            return [await db.execute(statement) for statement in statements]
        finally:
            await db.close()

    return asyncio.run(go())


def metered(results: list[Result]) -> list[tuple[int, int, int]]:
    """(rows deleted, rows read, rows written) of each."""
    return [(r.changes, r.rows_read or 0, r.rows_written or 0) for r in results]


def test_retention_d1_event_rounds_read_about_what_they_delete(d1: LocalD1) -> None:
    on_d1(d1, S("DELETE FROM events"), S(EVENTS, (2500, "old", OLD)), S(EVENTS, (5, "new", RECENT)))
    before = iso(NOW - timedelta(days=Retention().events_days))
    rounds = metered(on_d1(d1, *[sql_retention.prune_events(before, CHUNK)] * 4))
    print("\nevents: (deleted, read, written) per round", rounds)
    assert [deleted for deleted, _, _ in rounds] == [1000, 1000, 500, 0]
    for deleted, read, written in rounds:
        assert read <= 3 * deleted + 5 and written == deleted, rounds
    assert rounds[-1][1] <= 5, "nothing due: a few rows read, whatever the table holds"
    left = on_d1(d1, S("SELECT event_id FROM events ORDER BY rowid"))[0].rows
    assert [row["event_id"] for row in left] == [f"new{i}" for i in range(1, 6)]


def test_retention_d1_statement_rounds_never_take_one_not_forwarded(d1: LocalD1) -> None:
    on_d1(
        d1,
        S("DELETE FROM xapi_statements"),
        S(STATEMENTS, (1200, AT, "sent", OLD)),
        S(STATEMENTS, (1, AT + 2000, "waiting", OLD)),
        S(STATEMENTS, (10, AT + 3000, "after", OLD)),
        S(DELIVERED, (AT + 1200,)),
    )
    before = iso(NOW - timedelta(days=30))
    rounds = metered(on_d1(d1, *[sql_retention.prune_forwarded_statements(before, CHUNK)] * 3))
    print("\nforwarded statements: (deleted, read, written) per round", rounds)
    assert [deleted for deleted, _, _ in rounds] == [1000, 200, 0]
    for deleted, read, written in rounds:  # the chunk's end found, the range, the id index
        assert read <= 3.5 * deleted + 5 and written == deleted, rounds
    left = on_d1(d1, S("SELECT id FROM xapi_statements ORDER BY seq LIMIT 2"))[0].rows
    assert [row["id"] for row in left] == ["waiting1", "after1"]
    stored = iso(NOW - timedelta(days=365))
    rounds = metered(on_d1(d1, *[sql_retention.prune_stored_statements(stored, CHUNK)] * 2))
    print("stored statements (no LRS): (deleted, read, written) per round", rounds)
    assert [deleted for deleted, _, _ in rounds] == [11, 0]
    assert rounds[0][1] <= 3.5 * 11 + 5 and rounds[1][1] <= 5, rounds


def test_retention_d1_migration_0011_renumbering_costs_two_rows_a_statement(d1: LocalD1) -> None:
    """Migration 0011's UPDATE, run on statements numbered the old way, as D1 bills it: the
    README's "Migrations" quotes 2 rows written (the row and its id's index entry) a statement."""
    migration = (ROOT / "migrations" / "0011_xapi_lean.sql").read_text()
    start = migration.index("UPDATE xapi_statements")
    renumber = migration[start : migration.index(";", start)]
    on_d1(d1, S("DELETE FROM xapi_statements"), S(STATEMENTS, (1000, 0, "old", OLD)))
    (result,) = metered(on_d1(d1, S(renumber)))
    print("\nmigration 0011 on 1,000 statements: (renumbered, read, written)", result)
    assert result[0] == 1000 and result[2] == 2 * 1000, result
    left = on_d1(d1, S("SELECT MIN(seq) AS low FROM xapi_statements"))[0].rows
    assert left[0]["low"] >= AT, "renumbered by their time"


def test_retention_d1_round_is_one_batch(d1: LocalD1) -> None:
    """The Worker's round (api/retention.py `prune`) through D1's batch, as its cron runs it."""
    on_d1(
        d1,
        S("DELETE FROM events"),
        S("DELETE FROM xapi_statements"),
        S(EVENTS, (1500, "old", OLD)),
        S(STATEMENTS, (3, AT, "sent", OLD)),
        S(DELIVERED, (AT + 3,)),
    )

    async def rounds() -> list[Pruned]:
        db = D1HttpDatabase(d1.url)
        try:
            return [await prune(db, Retention(), NOW, lrs=True) for _ in range(3)]
        finally:
            await db.close()

    assert asyncio.run(rounds()) == [Pruned(1000, 3), Pruned(500, 0), Pruned()]
