"""libSQL's rows-read meter: the counter D1 bills, read through ctypes, and the app's
database running on it.

D1 bills the rows that workerd reads from `sqlite3_stmt_status(stmt,
LIBSQL_STMTSTATUS_ROWS_READ, 0)`, a counter libSQL added to SQLite (see bench/rows_read.py).
`Engine` loads the libSQL engine bundled in the `libsql` wheel (`pip install libsql`): the wheel
exports only its Python entry point, so the C functions needed are found in the extension's ELF
symbol table. `metered(engine)` is the API's `SQLiteDatabase` running every statement on that
engine (the same file, schema and pragmas) and recording, between `RECORDER.start()` and
`RECORDER.stop()`, each statement with its rows read and written and its `EXPLAIN QUERY PLAN`.

Imported as `bench.meter` (the caller puts the repository root on sys.path first).
"""

from __future__ import annotations

import ctypes
import importlib.util
import sqlite3
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.sqlite import SQLiteDatabase
from api.sqlite_errors import run
from api.storage import Result, Statement

ROWS_READ, ROWS_WRITTEN = 1025, 1026  # LIBSQL_STMTSTATUS_ROWS_READ / _ROWS_WRITTEN
SQLITE_ROW, SQLITE_DONE = 100, 101
OPEN_FLAGS = 0x02 | 0x04 | 0x10000  # READWRITE | CREATE | FULLMUTEX
TRANSIENT = ctypes.c_void_p(-1)  # SQLITE_TRANSIENT: the engine copies bound values
# sqlite3_bind_text and _blob: (stmt, index, bytes, length, destructor) -> code
BIND_BYTES = (
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_int,
    ctypes.c_void_p,
)


# -- the libSQL engine through ctypes --------------------------------------------------------


def elf_functions(path: Path) -> dict[str, int]:
    """Function symbols of an ELF64 shared object's .symtab: name -> offset from its base."""
    data = path.read_bytes()
    if data[:5] != b"\x7fELF\x02":
        raise RuntimeError(f"{path} is not a 64-bit ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    functions: dict[str, int] = {}
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != 2:  # SHT_SYMTAB
            continue
        strtab = sections[link][4]
        for at in range(offset, offset + size, entsize):
            name, info, _, shndx, value, _ = struct.unpack_from("<IBBHQQ", data, at)
            if info & 0xF == 2 and shndx and value:  # STT_FUNC, defined
                end = data.index(b"\0", strtab + name)
                functions[data[strtab + name : end].decode()] = value
    return functions


class Engine:
    """The C functions of libSQL's engine, as bundled in the `libsql` wheel."""

    SIGNATURES: dict[str, tuple[Any, ...]] = {
        "sqlite3_libversion": (ctypes.c_char_p,),
        "sqlite3_open_v2": (
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_char_p,
        ),
        "sqlite3_close_v2": (ctypes.c_int, ctypes.c_void_p),
        "sqlite3_prepare_v2": (
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_void_p,
        ),
        "sqlite3_step": (ctypes.c_int, ctypes.c_void_p),
        "sqlite3_finalize": (ctypes.c_int, ctypes.c_void_p),
        "sqlite3_bind_text": BIND_BYTES,
        "sqlite3_bind_blob": BIND_BYTES,
        "sqlite3_bind_int64": (ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int64),
        "sqlite3_bind_double": (ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_double),
        "sqlite3_bind_null": (ctypes.c_int, ctypes.c_void_p, ctypes.c_int),
        "sqlite3_column_count": (ctypes.c_int, ctypes.c_void_p),
        "sqlite3_column_name": (ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int),
        "sqlite3_column_type": (ctypes.c_int, ctypes.c_void_p, ctypes.c_int),
        "sqlite3_column_int64": (ctypes.c_int64, ctypes.c_void_p, ctypes.c_int),
        "sqlite3_column_double": (ctypes.c_double, ctypes.c_void_p, ctypes.c_int),
        "sqlite3_column_text": (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int),
        "sqlite3_column_blob": (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int),
        "sqlite3_column_bytes": (ctypes.c_int, ctypes.c_void_p, ctypes.c_int),
        "sqlite3_stmt_status": (ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int),
        "sqlite3_stmt_readonly": (ctypes.c_int, ctypes.c_void_p),
        "sqlite3_changes": (ctypes.c_int, ctypes.c_void_p),
        "sqlite3_last_insert_rowid": (ctypes.c_int64, ctypes.c_void_p),
        "sqlite3_errmsg": (ctypes.c_char_p, ctypes.c_void_p),
    }

    def __init__(self) -> None:
        spec = importlib.util.find_spec("libsql")
        folders = list(spec.submodule_search_locations or []) if spec else []
        found = [so for folder in folders for so in Path(folder).glob("libsql*.so")]
        if not found:
            sys.exit("the libSQL engine is needed to count rows read: pip install libsql")
        library = ctypes.CDLL(str(found[0]))
        offsets = elf_functions(found[0])
        entry = ctypes.cast(library.PyInit_libsql, ctypes.c_void_p).value
        assert entry is not None
        base = entry - offsets["PyInit_libsql"]
        self.c: dict[str, Callable[..., Any]] = {}
        for name, (result, *args) in self.SIGNATURES.items():
            if name not in offsets:
                sys.exit(f"{found[0].name} has no {name}: this libsql wheel will not do")
            self.c[name] = ctypes.CFUNCTYPE(result, *args)(base + offsets[name])
        self.version = self.c["sqlite3_libversion"]().decode()
        self.self_test()

    def self_test(self) -> None:
        """The meter counts what it should: three rows for a scan of three rows."""
        db = Connection(self, ":memory:")
        db.execute("CREATE TABLE t (a)")
        db.execute("INSERT INTO t VALUES (1), (2), (3)")
        db.execute("SELECT * FROM t")
        if (db.last.rows_read, len(db.last.rows)) != (3, 3):
            sys.exit(f"libSQL's rows-read meter does not answer (read {db.last.rows_read})")
        db.close()


@dataclass
class Ran:
    """One statement as the engine ran it."""

    sql: str
    params: tuple[Any, ...]
    rows: list[dict[str, Any]]
    rows_read: int
    rows_written: int
    changes: int
    last_row_id: int


class Cursor:
    """Just what SQLiteDatabase._run uses of a sqlite3 cursor."""

    def __init__(self, ran: Ran) -> None:
        self.ran = ran
        self.rowcount = ran.changes
        self.lastrowid = ran.last_row_id

    def fetchall(self) -> list[dict[str, Any]]:
        return self.ran.rows


class Connection:
    """A libSQL connection that SQLiteDatabase can use in place of its sqlite3 one."""

    def __init__(self, engine: Engine, path: str) -> None:
        self.engine, self.c = engine, engine.c
        self.handle = ctypes.c_void_p()
        if self.c["sqlite3_open_v2"](path.encode(), ctypes.byref(self.handle), OPEN_FLAGS, None):
            raise sqlite3.OperationalError(f"cannot open {path}")
        self.last = Ran("", (), [], 0, 0, 0, 0)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor:
        c = self.c
        stmt = ctypes.c_void_p()
        if c["sqlite3_prepare_v2"](self.handle, sql.encode(), -1, ctypes.byref(stmt), None):
            raise sqlite3.OperationalError(c["sqlite3_errmsg"](self.handle).decode())
        try:
            for n, value in enumerate(params, start=1):
                self._bind(stmt, n, value)
            names = [c["sqlite3_column_name"](stmt, i).decode() for i in range(self._width(stmt))]
            rows: list[dict[str, Any]] = []
            while (code := c["sqlite3_step"](stmt)) == SQLITE_ROW:
                rows.append({name: self._value(stmt, i) for i, name in enumerate(names)})
            if code != SQLITE_DONE:
                message = c["sqlite3_errmsg"](self.handle).decode()
                error = sqlite3.IntegrityError if "constraint" in message.lower() else None
                raise (error or sqlite3.OperationalError)(message)
            readonly = c["sqlite3_stmt_readonly"](stmt)
            self.last = Ran(
                sql,
                tuple(params),
                rows,
                c["sqlite3_stmt_status"](stmt, ROWS_READ, 0),
                c["sqlite3_stmt_status"](stmt, ROWS_WRITTEN, 0),
                -1 if readonly else c["sqlite3_changes"](self.handle),
                c["sqlite3_last_insert_rowid"](self.handle),
            )
        finally:
            c["sqlite3_finalize"](stmt)
        return Cursor(self.last)

    def plan(self, sql: str, params: tuple[Any, ...]) -> list[str]:
        """The statement's EXPLAIN QUERY PLAN, one line per step, indented by depth."""
        saved = self.last
        rows = self.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        self.last = saved
        depth: dict[int, int] = {0: -1}
        lines = []
        for row in rows:
            depth[row["id"]] = depth.get(row["parent"], -1) + 1
            lines.append("  " * depth[row["id"]] + str(row["detail"]))
        return lines

    def close(self) -> None:
        self.c["sqlite3_close_v2"](self.handle)

    def _width(self, stmt: ctypes.c_void_p) -> int:
        width: int = self.c["sqlite3_column_count"](stmt)
        return width

    def _bind(self, stmt: ctypes.c_void_p, n: int, value: Any) -> None:
        c = self.c
        if value is None:
            c["sqlite3_bind_null"](stmt, n)
        elif isinstance(value, bool | int):
            c["sqlite3_bind_int64"](stmt, n, int(value))
        elif isinstance(value, float):
            c["sqlite3_bind_double"](stmt, n, value)
        elif isinstance(value, str):
            raw = value.encode()
            c["sqlite3_bind_text"](stmt, n, raw, len(raw), TRANSIENT)
        elif isinstance(value, bytes):
            c["sqlite3_bind_blob"](stmt, n, value, len(value), TRANSIENT)
        else:
            raise TypeError(f"cannot bind {type(value).__name__}")

    def _value(self, stmt: ctypes.c_void_p, i: int) -> Any:
        c = self.c
        kind = c["sqlite3_column_type"](stmt, i)
        if kind == 1:
            return c["sqlite3_column_int64"](stmt, i)
        if kind == 2:
            return c["sqlite3_column_double"](stmt, i)
        if kind == 5:
            return None
        if kind == 3:
            raw = ctypes.string_at(
                c["sqlite3_column_text"](stmt, i), c["sqlite3_column_bytes"](stmt, i)
            )
            return raw.decode()
        return ctypes.string_at(
            c["sqlite3_column_blob"](stmt, i), c["sqlite3_column_bytes"](stmt, i)
        )


# -- the app's database, metered --------------------------------------------------------------


@dataclass
class Step:
    """A statement of a request: its rows read and written, and its plan."""

    sql: str
    rows_read: int
    rows_written: int
    plan: list[str]


@dataclass
class Recorder:
    """Collects the statements run between start() and stop()."""

    steps: list[Step] | None = None

    def start(self) -> None:
        self.steps = []

    def stop(self) -> list[Step]:
        steps, self.steps = self.steps or [], None
        return steps


RECORDER = Recorder()


def metered(engine: Engine) -> type[SQLiteDatabase]:
    """SQLiteDatabase on the libSQL engine, one connection, each statement recorded: reads and
    batches run in turn on that connection (the meter counts statements, not concurrency; the
    group-committing writer of api/writer.py is not used)."""

    class MeteredDatabase(SQLiteDatabase):
        def __init__(self, path: str | Path) -> None:
            super().__init__(path)  # the schema, applied by Python's sqlite3 as usual
            SQLiteDatabase.close(self)
            self.metered = Connection(engine, str(path))
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                self.metered.execute(f"PRAGMA {pragma}")
            self.metered.execute("PRAGMA busy_timeout=5000")

        async def execute(self, statement: Statement) -> Result:
            return self._run(statement)

        async def batch(
            self, statements: list[Statement], wait: float | None = None
        ) -> list[Result]:
            self.metered.execute("BEGIN IMMEDIATE")
            try:
                results = [self._run(s) for s in statements]
            except BaseException:
                self.metered.execute("ROLLBACK")
                raise
            self.metered.execute("COMMIT")
            return results

        def _run(self, statement: Statement) -> Result:
            result = run(self.metered, statement)  # type: ignore[arg-type]  # sqlite3's shape
            if RECORDER.steps is not None:
                ran = self.metered.last
                plan = self.metered.plan(statement.sql, statement.params)
                RECORDER.steps.append(Step(statement.sql, ran.rows_read, ran.rows_written, plan))
            return result

        def close(self) -> None:
            self.metered.close()

    return MeteredDatabase
