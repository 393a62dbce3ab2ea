"""schema.sql and the D1 migrations describe the same database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from support.course import ROOT
from support.schema import objects


def test_schema_migrations_in_order_equal_schema_sql(tmp_path: Path) -> None:
    from_schema = sqlite3.connect(tmp_path / "schema.sqlite3")
    from_schema.executescript((ROOT / "schema.sql").read_text())
    from_migrations = sqlite3.connect(tmp_path / "migrations.sqlite3")
    files = sorted((ROOT / "migrations").glob("*.sql"))
    assert files[0].name == "0001_initial.sql"
    for migration in files:
        from_migrations.executescript(migration.read_text())
    assert objects(from_migrations) == objects(from_schema)
    assert from_schema.execute("SELECT COUNT(*) FROM badges").fetchone() == (10,)


def test_schema_structure_tells_tables_apart() -> None:
    """The comparison above fails when a column, a key, an index or a CHECK differs."""

    def described(*scripts: str) -> list[tuple[str, str, str]]:
        db = sqlite3.connect(":memory:")
        for script in scripts:
            db.executescript(script)
        return objects(db)

    base = "CREATE TABLE t (a TEXT NOT NULL PRIMARY KEY, b INTEGER CHECK (b > 0));"
    altered = described(base, "ALTER TABLE t ADD COLUMN c REAL;")
    assert altered == described(
        "CREATE TABLE t (a TEXT NOT NULL PRIMARY KEY, b INTEGER CHECK (b > 0), c REAL);"
    ), "the same columns reached by ALTER TABLE or by CREATE TABLE are the same table"
    for other in [
        "CREATE TABLE t (a TEXT NOT NULL PRIMARY KEY, b INTEGER CHECK (b > 0), c TEXT);",
        "CREATE TABLE t (a TEXT NOT NULL PRIMARY KEY, b INTEGER CHECK (b > 1), c REAL);",
        "CREATE TABLE t (a TEXT NOT NULL, b INTEGER CHECK (b > 0), c REAL);",
        "CREATE TABLE t (a TEXT NOT NULL PRIMARY KEY, b INTEGER CHECK (b > 0), c REAL UNIQUE);",
        "CREATE TABLE t (a TEXT NOT NULL PRIMARY KEY, b INTEGER CHECK (b > 0), c REAL NOT NULL);",
        "CREATE TABLE t (a TEXT NOT NULL PRIMARY KEY, c REAL, b INTEGER CHECK (b > 0));",
    ]:
        assert described(other) != altered, other
    assert described(base, "CREATE INDEX t_b ON t (b);") != described(
        base, "CREATE INDEX t_b ON t (b DESC);"
    )


def test_schema_applies_twice_and_uses_indexes(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    db.executescript((ROOT / "schema.sql").read_text())
    db.executescript((ROOT / "schema.sql").read_text())
    plan = " ".join(
        row[3]
        for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM learners WHERE team_id = ? ORDER BY xp DESC", ("t",)
        )
    )
    assert "USING INDEX learners_team" in plan and "TEMP B-TREE" not in plan
    plan = " ".join(
        row[3]
        for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT total FROM xp_history WHERE learner_id = ? AND day < ? ORDER BY day DESC LIMIT 1",
            ("u", "2026-01-01"),
        )
    )
    assert "USING PRIMARY KEY" in plan or "USING INDEX" in plan


def test_schema_local_database_applies_migrations_once(tmp_path: Path) -> None:
    from api.sqlite import migrate

    extra = tmp_path / "migrations"
    extra.mkdir()
    for migration in (ROOT / "migrations").glob("*.sql"):
        (extra / migration.name).write_text(migration.read_text())
    (extra / "9001_nickname.sql").write_text("ALTER TABLE learners ADD COLUMN nickname TEXT;\n")
    db = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    assert migrate(db, extra) == [
        *sorted(p.name for p in (ROOT / "migrations").glob("*.sql")),
        "9001_nickname.sql",
    ]
    assert migrate(db, extra) == []
    assert "nickname" in [row[1] for row in db.execute("PRAGMA table_info(learners)")]
    (extra / "9002_broken.sql").write_text("ALTER TABLE nowhere ADD COLUMN x TEXT;\n")
    try:
        migrate(db, extra)
    except sqlite3.Error:
        pass
    else:
        raise AssertionError("a broken migration must fail loudly")
    assert [row[0] for row in db.execute("SELECT name FROM d1_migrations ORDER BY id")][
        -1
    ] == "9001_nickname.sql"


def test_schema_migration_0011_orders_statements_by_time_and_keeps_the_outbox(
    tmp_path: Path,
) -> None:
    """A database with statements stored (and some forwarded) before 0011: renumbered by their
    time, seq within their millisecond's range, the forwarder's place just before the first
    one not forwarded, and the next statement stored after them all."""
    from api import sql_xapi
    from api.sqlite import migrate

    before = tmp_path / "before"
    before.mkdir()
    for migration in sorted((ROOT / "migrations").glob("*.sql"))[:10]:
        (before / migration.name).write_text(migration.read_text())
    assert sorted(p.name for p in before.glob("*.sql"))[-1] == "0010_nudges.sql"
    db = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    migrate(db, before)
    old = [  # id, stored, forwarded_at, in insertion (old seq) order
        ("late", "2026-11-24T09:00:00.005Z", "2026-11-24T09:01:00.000Z"),
        ("early", "2026-11-24T09:00:00.000Z", "2026-11-24T09:01:00.000Z"),
        ("waiting", "2026-11-24T09:00:01.999Z", None),
        ("after", "2026-11-24T09:00:02.000Z", "2026-11-24T09:01:00.000Z"),
    ]
    db.executemany(
        "INSERT INTO xapi_statements (id, learner_id, stored, statement, forwarded_at) "
        "VALUES (?, 'u', ?, '{}', ?)",
        old,
    )
    assert migrate(db)[0] == "0011_xapi_lean.sql"
    rows = db.execute("SELECT id, seq, stored FROM xapi_statements ORDER BY seq").fetchall()
    assert [row[0] for row in rows] == ["early", "late", "waiting", "after"]
    for _, seq, stored in rows:
        assert sql_xapi.seq_at(stored) <= seq < sql_xapi.seq_at(stored) + sql_xapi.SEQ_PER_MS
    place = db.execute("SELECT seq FROM xapi_outbox").fetchone()[0]
    assert [row[0] for row in rows if row[1] > place] == ["waiting", "after"]
    assert "forwarded_at" not in [
        row[1] for row in db.execute("PRAGMA table_info(xapi_statements)")
    ]
    record = sql_xapi.record_statement("next", "u", "2026-11-24T08:00:00.000Z", "{}")
    db.execute(record.sql, record.params)  # a clock an hour behind
    assert db.execute("SELECT id FROM xapi_statements ORDER BY seq DESC LIMIT 1").fetchone() == (
        "next",
    )
