"""The local backend: one SQLite file in WAL mode, migrated at open like D1, held to D1's limits.

Python's SQLite allows 500 terms a compound SELECT, 250,000 parameters and a 1 GB statement;
D1 allows far less (api/storage.py), so the connection gets D1's limits once migrated (the
migration scripts run whole, as `wrangler d1 migrations apply` sends them). A statement SQLite
refuses raises DatabaseError, a constraint failing Conflict, as the D1 backends do.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from .storage import (
    MAX_COMPOUND_TERMS,
    MAX_PARAMETERS,
    MAX_SQL_BYTES,
    Conflict,
    DatabaseError,
    Result,
    Statement,
)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# wrangler records applied migrations in this table; using the same one keeps both in step.
TRACKING = (
    "CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)"
)
D1_LIMITS = (
    (sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, MAX_COMPOUND_TERMS),
    (sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, MAX_PARAMETERS),
    (sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES),
)


def migrate(connection: sqlite3.Connection, directory: Path = MIGRATIONS) -> list[str]:
    """Apply the migrations not applied yet, in file-name order; return their names.

    The same files `wrangler d1 migrations apply` runs on D1 (migrations_dir in wrangler.toml),
    each in its own transaction, recorded in the same table.
    """
    connection.execute(TRACKING)
    done = {row[0] for row in connection.execute("SELECT name FROM d1_migrations")}
    applied: list[str] = []
    for path in sorted(directory.glob("*.sql")):
        if path.name in done:
            continue
        script = path.read_text(encoding="utf-8")
        try:
            connection.executescript(f"BEGIN;\n{script}\n;")  # leaves the transaction open
            connection.execute("INSERT INTO d1_migrations (name) VALUES (?)", (path.name,))
            connection.execute("COMMIT")
        except sqlite3.Error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        applied.append(path.name)
    return applied


class SQLiteDatabase:
    """A SQLite file in WAL mode, used from the event loop (each statement is microseconds)."""

    name = "sqlite"

    def __init__(self, path: str | Path) -> None:
        target = Path(path)
        if str(target) != ":memory:":
            target.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        self.connection.row_factory = sqlite3.Row
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=5000",
        ):
            self.connection.execute(f"PRAGMA {pragma}")
        migrate(self.connection)
        for category, limit in D1_LIMITS:
            self.connection.setlimit(category, limit)

    async def execute(self, statement: Statement) -> Result:
        return self._run(statement)

    async def batch(self, statements: list[Statement]) -> list[Result]:
        """Run statements in one transaction: all of them, or (on any error) none."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            results = [self._run(s) for s in statements]
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")
        return results

    def _run(self, statement: Statement) -> Result:
        started = time.perf_counter()
        try:
            cursor = self.connection.execute(statement.sql, statement.params)
            rows = [dict(row) for row in cursor.fetchall()]
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc
        except sqlite3.Error as exc:
            raise DatabaseError(f"SQLite refused the query: {exc}") from exc
        return Result(
            rows=rows,
            changes=cursor.rowcount if cursor.rowcount > 0 else 0,
            last_row_id=cursor.lastrowid,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def close(self) -> None:
        self.connection.close()
