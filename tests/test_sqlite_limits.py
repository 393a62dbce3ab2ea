"""D1's limits hold on the local backend: a statement D1 refuses fails on a real SQLite file
too, as the storage's DatabaseError (what the D1 backends raise), never first in production."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.sqlite import SQLiteDatabase
from api.storage import (
    MAX_COMPOUND_TERMS,
    MAX_PARAMETERS,
    MAX_SQL_BYTES,
    DatabaseError,
    Statement,
)

INSERT = "INSERT INTO badges (id, name, rule, sort) VALUES (?, ?, ?, ?)"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SQLiteDatabase]:
    database = SQLiteDatabase(tmp_path / "db.sqlite3")
    yield database
    database.close()


def rows(db: SQLiteDatabase, statement: Statement) -> list[dict[str, Any]]:
    return asyncio.run(db.execute(statement)).rows


def refusal(db: SQLiteDatabase, statement: Statement) -> str:
    with pytest.raises(DatabaseError) as refused:
        rows(db, statement)
    return str(refused.value)


def union(terms: int) -> Statement:
    """A compound SELECT of `terms` terms."""
    return Statement(" UNION ALL ".join("SELECT ? AS n" for _ in range(terms)), tuple(range(terms)))


def placeholders(count: int) -> str:
    """A SELECT of `count` placeholders, p0, p1..."""
    return "SELECT " + ", ".join(f"? AS p{n}" for n in range(count))


def test_sqlite_limits_are_d1s() -> None:
    """As measured on D1 and as its limits page says (developers.cloudflare.com/d1/platform/limits/)."""
    assert (MAX_COMPOUND_TERMS, MAX_PARAMETERS, MAX_SQL_BYTES) == (5, 100, 100_000)


def test_sqlite_limits_accept_five_compound_terms(db: SQLiteDatabase) -> None:
    assert [row["n"] for row in rows(db, union(MAX_COMPOUND_TERMS))] == [0, 1, 2, 3, 4]


def test_sqlite_limits_refuse_six_compound_terms(db: SQLiteDatabase) -> None:
    assert refusal(db, union(MAX_COMPOUND_TERMS + 1)) == (
        "SQLite refused the query: too many terms in compound SELECT"
    )


def test_sqlite_limits_accept_100_parameters(db: SQLiteDatabase) -> None:
    statement = Statement(placeholders(MAX_PARAMETERS), tuple(range(MAX_PARAMETERS)))
    assert list(rows(db, statement)[0].values()) == list(range(MAX_PARAMETERS))


def test_sqlite_limits_refuse_101_parameters(db: SQLiteDatabase) -> None:
    """101 placeholders (Statement itself refuses 101 values before any backend sees them)."""
    statement = Statement(placeholders(MAX_PARAMETERS + 1))
    assert refusal(db, statement) == "SQLite refused the query: too many SQL variables"


def test_sqlite_limits_accept_a_statement_of_100000_bytes(db: SQLiteDatabase) -> None:
    text = "x" * (MAX_SQL_BYTES - len("SELECT '' AS t"))
    assert rows(db, Statement(f"SELECT '{text}' AS t")) == [{"t": text}]


def test_sqlite_limits_refuse_a_statement_over_100000_bytes(db: SQLiteDatabase) -> None:
    """Bytes, not characters: 50,014 characters, 100,014 bytes in UTF-8."""
    statement = Statement(f"SELECT '{'é' * (MAX_SQL_BYTES // 2)}' AS t")
    assert len(statement.sql) < MAX_SQL_BYTES < len(statement.sql.encode())
    assert refusal(db, statement) == "SQLite refused the query: query string is too large"


def test_sqlite_limits_refused_batch_writes_nothing(db: SQLiteDatabase) -> None:
    insert = Statement(INSERT, ("limits", "Limits", "never", 99))
    with pytest.raises(DatabaseError, match="too many terms in compound SELECT"):
        asyncio.run(db.batch([insert, union(MAX_COMPOUND_TERMS + 1)]))
    assert rows(db, Statement("SELECT id FROM badges WHERE id = ?", ("limits",))) == []
