"""One statement on one SQLite connection, its errors as the storage family's (api/storage.py),
by SQLite's own result code.

A constraint is a Conflict (the batch's guard, a unique key); a lock is Busy; a file SQLite
cannot write (read-only, full, failing, unopenable, damaged) is a Fault, which /api/health
reports; anything else (bad SQL, D1's limits) is a DatabaseError.
"""

from __future__ import annotations

import sqlite3
import time

from .storage import Busy, Conflict, DatabaseError, Fault, Result, Statement

# Primary result codes (sqlite.org/rescode.html): the low byte of an extended code.
SQLITE_BUSY, SQLITE_LOCKED = 5, 6
FAULTS = {
    8: "the database file is read-only",  # SQLITE_READONLY
    10: "the disk failed a read or write (I/O error; is it full?)",  # SQLITE_IOERR
    11: "the database file is damaged",  # SQLITE_CORRUPT
    13: "the disk is full",  # SQLITE_FULL
    14: "the database file cannot be opened",  # SQLITE_CANTOPEN
    26: "the file is not a database",  # SQLITE_NOTADB
}


def primary(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_busy(exc: sqlite3.Error) -> bool:
    return primary(exc) in (SQLITE_BUSY, SQLITE_LOCKED)


def classify(exc: sqlite3.Error) -> DatabaseError | Conflict:
    """The storage exception an SQLite error is."""
    if isinstance(exc, sqlite3.IntegrityError):
        return Conflict(str(exc))
    code = primary(exc)
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return Busy(f"the database is locked by another process ({exc})")
    if code in FAULTS:
        return Fault(f"{FAULTS[code]} ({exc})")
    return DatabaseError(f"SQLite refused the query: {exc}")


def run(connection: sqlite3.Connection, statement: Statement) -> Result:
    """One statement on one connection; SQLite's errors as the storage family's."""
    started = time.perf_counter()
    try:
        cursor = connection.execute(statement.sql, statement.params)
        rows = [dict(row) for row in cursor.fetchall()]
    except sqlite3.Error as exc:
        raise classify(exc) from exc
    return Result(
        rows=rows,
        changes=cursor.rowcount if cursor.rowcount > 0 else 0,
        last_row_id=cursor.lastrowid,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
