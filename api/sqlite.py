"""The local backend: one SQLite file in WAL mode, migrated at open like D1, held to D1's limits.

Two connections, so no call blocks the event loop:

- reads run on the event loop (a WAL reader never waits for a writer; each is microseconds),
  but for the few statements marked `scan` (a team's insight), which run in a thread.
  The rare busy read (another process recovering the WAL) is retried with `asyncio.sleep`,
  then refused with Busy after READ_WAIT;
- writes go to one writer (`writer.Writer`), which commits the batches of many requests in one
  transaction (group commit), each request answered only after its batch is committed; a batch
  that fails fails alone (its savepoint is rolled back). It never waits inside SQLite for a
  lock (busy timeout 0, tried again with `asyncio` pauses), and a thread of its own copies
  the WAL into the file (checkpoints).

Python's SQLite allows 500 terms a compound SELECT, 250,000 parameters and a 1 GB statement;
D1 allows far less (api/storage.py), so both connections get D1's limits once migrated (the
migration scripts run whole, as `wrangler d1 migrations apply` sends them). A statement SQLite
refuses raises DatabaseError, a constraint failing Conflict, as the D1 backends do; a storage
fault (read-only file, full disk, I/O error) raises Fault, a lock held too long Busy.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from .sqlite_errors import classify, run
from .storage import (
    MAX_COMPOUND_TERMS,
    MAX_PARAMETERS,
    MAX_SQL_BYTES,
    Busy,
    Result,
    Statement,
)
from .writer import WRITE_WAIT, Writer

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
READ_WAIT = 1.0  # seconds a busy read is retried before it is refused (503 database_busy)


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


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode with D1's limits that never waits inside SQLite for a lock
    (busy timeout 0: a busy database is tried again after asyncio pauses)."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):  # WAL: the file's, set at open
        connection.execute(f"PRAGMA {pragma}")
    connection.execute("PRAGMA busy_timeout=0")
    for category, limit in D1_LIMITS:
        connection.setlimit(category, limit)
    return connection


class SQLiteDatabase:
    """A SQLite file in WAL mode: reads on the event loop, writes grouped by one writer."""

    name = "sqlite"

    def __init__(self, path: str | Path) -> None:
        target = Path(path)
        if str(target) == ":memory:":
            raise ValueError("SQLiteDatabase needs a file (two connections share it), not :memory:")
        target.parent.mkdir(parents=True, exist_ok=True)
        setup = sqlite3.connect(target, isolation_level=None)
        try:
            setup.execute("PRAGMA journal_mode=WAL")
            setup.execute("PRAGMA busy_timeout=5000")  # at start-up only, off any request
            migrate(setup)
        finally:
            setup.close()
        self.path = target
        self.reader = connect(target)
        self.writer = Writer(lambda: connect(target))

    async def execute(self, statement: Statement) -> Result:
        """Run a read on the event loop (a scan in a thread); a busy database is retried, never
        waited on in SQLite."""
        deadline, pause = time.monotonic() + READ_WAIT, 0.002
        while True:
            try:
                if statement.scan:
                    return await asyncio.to_thread(self.scan, statement)
                return run(self.reader, statement)
            except Busy:
                if time.monotonic() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def batch(self, statements: list[Statement], wait: float | None = None) -> list[Result]:
        """Run statements in one transaction: all of them, or (on any error) none; Busy once a
        lock held elsewhere has lasted `wait` seconds (WRITE_WAIT at most)."""
        limit = WRITE_WAIT if wait is None else min(wait, WRITE_WAIT)
        return await self.writer.submit(statements, wait=limit)

    def scan(self, statement: Statement) -> Result:
        """A read that takes long, on a connection of its own (opened per scan: they are rare
        and may run at once in several threads)."""
        try:
            connection = connect(self.path)
        except sqlite3.Error as exc:
            raise classify(exc) from exc
        try:
            return run(connection, statement)
        finally:
            connection.close()

    async def check_writes(self, probe: Statement) -> str | None:
        """Why writes fail now (read-only, full, I/O), or None: see Writer.check."""
        return await self.writer.check(probe)

    def lagging(self) -> SQLiteDatabase:
        """One file, no replica: itself."""
        return self

    def close(self) -> None:
        self.writer.close()
        self.reader.close()
