"""One execute/batch interface over the database, whatever runs it.

Every request reads with `execute`/`batch` and writes with ONE `batch`, which is atomic: D1 has
no interactive transactions, so no request holds one open across round trips. Statements use
`?` placeholders only (D1 rejects named parameters) and stay within D1's limits below, which
the local backend enforces too. A backend that cannot run a statement raises DatabaseError.

Backends: `api.sqlite.SQLiteDatabase` (the local default), `api.d1.D1BindingDatabase` (inside
the Python Worker) and `api.d1.D1HttpDatabase` (D1's REST `query` contract).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# D1's limits on a statement (developers.cloudflare.com/d1/platform/limits/; the compound SELECT
# one is not on that page: measured on D1, 5 terms pass and 6 fail). SQLiteDatabase sets them
# on its connection, so a statement D1 would refuse fails locally too.
MAX_PARAMETERS = 100  # bound parameters
MAX_COMPOUND_TERMS = 5  # SELECTs joined by UNION [ALL], INTERSECT or EXCEPT
MAX_SQL_BYTES = 100_000  # the statement's text, in UTF-8


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Any, ...] = ()
    # A read that scans many rows (a team's insight): the local backend runs it in a thread,
    # off the event loop. D1 runs every statement away from the Worker anyway.
    scan: bool = False

    def __post_init__(self) -> None:
        if len(self.params) > MAX_PARAMETERS:
            raise ValueError(
                f"{len(self.params)} parameters: D1 allows {MAX_PARAMETERS} a statement"
            )


@dataclass
class Result:
    """Rows as dicts, plus what D1's `meta` reports."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    changes: int = 0
    last_row_id: int | None = None
    duration_ms: float = 0.0
    rows_read: int | None = None  # D1 reports these; local SQLite does not count them
    rows_written: int | None = None

    def first(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None


class Conflict(Exception):
    """A batch aborted by a guard or a constraint: nothing was written; the caller may retry."""


class DatabaseError(Exception):
    """The database could not run a statement (unreachable, bad SQL, refused credentials)."""

    code = "database_unavailable"  # the API's error code (503)
    retry_after = 5  # seconds, sent as Retry-After


class Busy(DatabaseError):
    """Another process held the write lock longer than a request may wait: nothing written."""

    code = "database_busy"
    retry_after = 1


class Fault(DatabaseError):
    """Storage refuses writes (a read-only file, a full disk, an I/O error): nothing written;
    /api/health reports it until a write succeeds again."""

    code = "database_fault"


class Database(Protocol):
    name: str  # what /api/health reports: sqlite, d1 (the binding), d1-http

    async def execute(self, statement: Statement) -> Result: ...

    async def batch(self, statements: list[Statement], wait: float | None = None) -> list[Result]:
        """Run statements in one transaction. `wait`: the longest the caller waits for a write
        lock another process holds, when shorter than the backend's own bound (the local
        backend's WRITE_WAIT); D1 has no such lock and ignores it."""
        ...

    async def check_writes(self, probe: Statement) -> str | None:
        """Why writes fail now (for /api/health; `probe` is a harmless one-row write), or None
        when they work or the backend cannot tell."""
        ...

    def lagging(self) -> Database:
        """This database for reads that a lag of seconds leaves right (leaderboards, insight):
        on the Worker, a D1 session that may read from a replica (D1's Sessions API, where read
        replication is on); elsewhere the database itself."""
        ...
