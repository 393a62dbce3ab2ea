"""One execute/batch interface over the database, whatever runs it.

Every request reads with `execute`/`batch` and writes with ONE `batch`, which is atomic: D1 has
no interactive transactions, so no request holds one open across round trips. Statements use
`?` placeholders only (D1 rejects named parameters) and at most 100 of them.

Backends: `SQLiteDatabase` (the local default) here; the D1 binding and D1 over HTTP arrive with
the Cloudflare issue behind the same two methods.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

SCHEMA = Path(__file__).resolve().parent.parent / "schema.sql"
MAX_PARAMETERS = 100


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Any, ...] = ()

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


class Database(Protocol):
    async def execute(self, statement: Statement) -> Result: ...

    async def batch(self, statements: list[Statement]) -> list[Result]: ...


class SQLiteDatabase:
    """A SQLite file in WAL mode, used from the event loop (each statement is microseconds)."""

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
        self.connection.executescript(SCHEMA.read_text(encoding="utf-8"))

    async def execute(self, statement: Statement) -> Result:
        return self._run(statement)

    async def batch(self, statements: list[Statement]) -> list[Result]:
        """Run statements in one transaction: all of them, or (on any error) none."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            results = [self._run(s) for s in statements]
        except sqlite3.IntegrityError as exc:
            self.connection.execute("ROLLBACK")
            raise Conflict(str(exc)) from exc
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")
        return results

    def _run(self, statement: Statement) -> Result:
        started = time.perf_counter()
        cursor = self.connection.execute(statement.sql, statement.params)
        rows = [dict(row) for row in cursor.fetchall()]
        return Result(
            rows=rows,
            changes=cursor.rowcount if cursor.rowcount > 0 else 0,
            last_row_id=cursor.lastrowid,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def close(self) -> None:
        self.connection.close()


class D1HttpDatabase:
    """D1 over HTTP, with the contract of Cloudflare's REST `query` endpoint.

    `url` is `{CLOUDFLARE_API_BASE}/accounts/<account>/d1/database/<id>/query` in production, or
    any server speaking the same contract (the conformance tests run one on wrangler's local
    D1). A batch is one request with `{"batch": [...]}`, which D1 runs as one transaction.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self.client = httpx.AsyncClient(headers=headers, timeout=timeout)

    async def execute(self, statement: Statement) -> Result:
        return (await self._post({"sql": statement.sql, "params": list(statement.params)}))[0]

    async def batch(self, statements: list[Statement]) -> list[Result]:
        body = {"batch": [{"sql": s.sql, "params": list(s.params)} for s in statements]}
        results = await self._post(body)
        if len(results) != len(statements):
            raise DatabaseError(
                f"D1 answered {len(results)} results for {len(statements)} statements"
            )
        return results

    async def _post(self, body: dict[str, Any]) -> list[Result]:
        import httpx

        try:
            response = await self.client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise DatabaseError(f"D1 is unreachable: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            raise DatabaseError(f"D1 answered {response.status_code} without JSON") from None
        if response.status_code >= 400 or not data.get("success", False):
            message = (
                "; ".join(str(e.get("message", e)) for e in data.get("errors") or [])
                or response.text
            )
            if "constraint failed" in message:
                raise Conflict(message)
            raise DatabaseError(f"D1 refused the query ({response.status_code}): {message}")
        return [_d1_result(item) for item in data.get("result") or []]

    async def close(self) -> None:
        await self.client.aclose()


def _d1_result(item: dict[str, Any]) -> Result:
    """One entry of D1's `result` array: {results, success, meta}."""
    meta = item.get("meta") or {}
    return Result(
        rows=list(item.get("results") or []),
        changes=int(meta.get("changes") or 0),
        last_row_id=meta.get("last_row_id"),
        duration_ms=float(meta.get("duration") or 0.0),
        rows_read=meta.get("rows_read"),
        rows_written=meta.get("rows_written"),
    )
