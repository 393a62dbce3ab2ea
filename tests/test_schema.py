"""schema.sql and the D1 migrations describe the same database."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from support.course import ROOT


def objects(connection: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """Every table, index and trigger, tables by structure rather than by their CREATE text.

    `ALTER TABLE ... ADD COLUMN` (a migration) edits a table's stored CREATE text differently
    from a CREATE TABLE that has the column (schema.sql), so a table is described by what SQLite
    reports of it: columns, keys, indexes and CHECK constraints. Indexes and triggers keep their
    SQL text, which no migration rewrites.
    """
    found = connection.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    ).fetchall()
    return [
        (kind, name, structure(connection, name, text) if kind == "table" else text)
        for kind, name, text in found
    ]


def structure(connection: sqlite3.Connection, table: str, text: str) -> str:
    """A table as SQLite sees it, one fact a line."""
    lines = [f"column {row}" for row in connection.execute(f"PRAGMA table_xinfo('{table}')")]
    lines += [
        f"foreign key {row}" for row in connection.execute(f"PRAGMA foreign_key_list('{table}')")
    ]
    for _, index, unique, origin, partial in connection.execute(f"PRAGMA index_list('{table}')"):
        # Auto-indexes are named by position; what counts is what they index and why.
        label = "auto" if index.startswith("sqlite_autoindex_") else index
        keys = list(connection.execute(f"PRAGMA index_xinfo('{index}')"))
        lines.append(f"index {label} unique={unique} origin={origin} partial={partial} {keys}")
    lines += [f"check {clause}" for clause in checks(text)]
    return "\n".join(sorted(lines))


def checks(text: str) -> list[str]:
    """The CHECK (...) clauses of a CREATE TABLE, whitespace-normalised."""
    found: list[str] = []
    for match in re.finditer(r"\bCHECK\s*\(", text, re.IGNORECASE):
        depth = 0
        for end in range(match.end() - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                break
        found.append(" ".join(text[match.end() - 1 : end + 1].split()))
    return found


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
