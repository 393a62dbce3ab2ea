"""D1 conformance: the API's statements on wrangler's local D1 (the real D1 engine, offline)
give exactly what they give on SQLite; migrations apply the same way on both."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.conformance import EXACT_SECONDS, deterministic_ids, run, timed_completions
from support.course import manifest_of
from support.wrangler import LocalD1, local_d1

from api import sql
from api.d1 import D1HttpDatabase
from api.sqlite import SQLiteDatabase
from api.storage import (
    MAX_COMPOUND_TERMS,
    MAX_PARAMETERS,
    MAX_SQL_BYTES,
    Conflict,
    Database,
    DatabaseError,
    Statement,
)

pytestmark = pytest.mark.wrangler


@pytest.fixture(scope="module")
def d1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalD1]:
    yield from local_d1(tmp_path_factory.mktemp("d1"))


def test_d1_migrations_give_the_same_schema_as_sqlite(d1: LocalD1, tmp_path: Path) -> None:
    from support.schema import objects

    local = sqlite3.connect(tmp_path / "schema.sqlite3")
    local.executescript((Path(__file__).parent.parent / "schema.sql").read_text())
    with sqlite3.connect(d1.sqlite_file()) as remote:
        ours = [o for o in objects(remote) if not o[1].startswith(("d1_", "_cf_"))]
        assert [normal(o) for o in ours] == [normal(o) for o in objects(local)]


def normal(item: tuple[str, str, str]) -> tuple[str, str, str]:
    """wrangler strips SQL comments when it applies a migration; compare without them."""
    import re

    kind, name, text = item
    text = re.sub(r"--[^\n]*", "", text or "")
    return kind, name, " ".join(text.split())


def test_d1_runs_the_whole_api_like_sqlite(d1: LocalD1, tmp_path: Path) -> None:
    manifest = manifest_of(tmp_path)

    async def on_d1() -> dict[str, object]:
        db = D1HttpDatabase(d1.url)
        try:
            return await run(db, manifest)
        finally:
            await db.close()

    with deterministic_ids():
        expected = asyncio.run(run(SQLiteDatabase(tmp_path / "local.sqlite3"), manifest))
    with deterministic_ids():
        actual = asyncio.run(on_d1())
    assert actual["answers"] == expected["answers"]
    assert actual["tables"] == expected["tables"]
    assert [(s, p, rows) for s, p, rows, _ in actual["log"]] == [
        (s, p, rows) for s, p, rows, _ in expected["log"]
    ]


def test_d1_batch_is_atomic_and_constraint_failures_are_conflicts(d1: LocalD1) -> None:
    async def scenario() -> tuple[int, int]:
        db = D1HttpDatabase(d1.url)
        try:
            await db.batch([Statement("CREATE TABLE IF NOT EXISTS probe (name TEXT PRIMARY KEY)")])
            await db.batch([Statement("INSERT INTO probe (name) VALUES (?)", ("a",))])
            with pytest.raises(Conflict, match="UNIQUE constraint failed"):
                await db.batch(
                    [
                        Statement("INSERT INTO probe (name) VALUES (?)", ("b",)),
                        Statement("INSERT INTO probe (name) VALUES (?)", ("a",)),
                    ]
                )
            with pytest.raises(Conflict, match="CHECK constraint failed"):
                await db.batch([Statement("INSERT INTO guards (ok) VALUES (0)")])
            rows = (await db.execute(Statement("SELECT COUNT(*) AS n FROM probe"))).rows
            meta = await db.execute(Statement("SELECT name FROM probe WHERE name = ?", ("a",)))
            return rows[0]["n"], meta.rows_read or 0
        finally:
            await db.close()

    count, rows_read = asyncio.run(scenario())
    assert count == 1, "the failed batch wrote nothing"
    assert rows_read >= 1, "D1's meta reports rows read"


def test_d1_refuses_what_the_local_backend_refuses(d1: LocalD1, tmp_path: Path) -> None:
    """D1's limits at their edges (compound SELECT terms, parameters, bytes of a statement):
    wrangler's D1 and the local backend accept and refuse the same statements."""

    def union(terms: int) -> Statement:
        return Statement(" UNION ALL ".join("SELECT ? AS n" for _ in range(terms)), (0,) * terms)

    def marks(count: int) -> str:
        return "SELECT " + ", ".join(f"? AS p{n}" for n in range(count))

    def text(size: int) -> Statement:
        """A statement of `size` bytes."""
        return Statement("SELECT '" + "x" * (size - len("SELECT '' AS t")) + "' AS t")

    edges = [
        union(MAX_COMPOUND_TERMS),
        union(MAX_COMPOUND_TERMS + 1),
        Statement(marks(MAX_PARAMETERS), (0,) * MAX_PARAMETERS),
        Statement(marks(MAX_PARAMETERS + 1)),
        text(MAX_SQL_BYTES),
        text(MAX_SQL_BYTES + 1),
    ]

    async def verdicts(db: Database) -> list[bool]:
        found = []
        for statement in edges:
            try:
                await db.execute(statement)
            except DatabaseError:
                found.append(False)
            else:
                found.append(True)
        return found

    async def on_d1() -> list[bool]:
        db = D1HttpDatabase(d1.url)
        try:
            return await verdicts(db)
        finally:
            await db.close()

    local = asyncio.run(verdicts(SQLiteDatabase(tmp_path / "local.sqlite3")))
    assert local == asyncio.run(on_d1()) == [True, False, True, False, True, False]


def test_d1_and_sqlite_apply_a_later_migration_the_same_way(tmp_path: Path) -> None:
    """A schema change after the first release: one file, applied by wrangler on D1 and by the
    local backend on SQLite, gives the same schema on both."""
    import shutil

    from support.schema import objects
    from support.wrangler import WORKER, run

    from api.sqlite import migrate

    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    shutil.copy(WORKER / "src" / "index.js", project / "src" / "index.js")
    config = (
        (WORKER / "wrangler.toml")
        .read_text()
        .replace('migrations_dir = "../../migrations"', 'migrations_dir = "migrations"')
    )
    (project / "wrangler.toml").write_text(config)
    shutil.copytree(Path(__file__).parent.parent / "migrations", project / "migrations")
    shipped = sorted(p.name for p in (project / "migrations").glob("*.sql"))
    (project / "migrations" / "9001_nickname.sql").write_text(
        "ALTER TABLE learners ADD COLUMN nickname TEXT;\n"
    )
    state = tmp_path / "state"
    done = run(
        ["d1", "migrations", "apply", "sillon", "--local", "--persist-to", str(state)],
        project,
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    local = sqlite3.connect(tmp_path / "local.sqlite3", isolation_level=None)
    assert migrate(local, project / "migrations") == [*shipped, "9001_nickname.sql"]
    d1_file = next(
        p for p in (state / "v3" / "d1").rglob("*.sqlite") if p.name != "metadata.sqlite"
    )
    with sqlite3.connect(d1_file) as remote:
        bookkeeping = ("d1_", "_cf_", "sqlite_")
        ours = [o for o in objects(remote) if not o[1].startswith(bookkeeping)]
        mine = [o for o in objects(local) if not o[1].startswith(bookkeeping)]
        assert [normal(o) for o in ours] == [normal(o) for o in mine]
        assert [r[0] for r in remote.execute("SELECT name FROM d1_migrations ORDER BY id")] == [
            *shipped,
            "9001_nickname.sql",
        ]


def test_d1_step_times_give_each_time_back_exactly(tmp_path: Path) -> None:
    """The insight's times travel as text ('%!.17g'): D1's SQLite gives every double back bit
    for bit, as the local backend does (a D1 of its own: the shared one is compared whole)."""
    seconds = EXACT_SECONDS
    writes = timed_completions(seconds)

    async def times(db: Database) -> list[float]:
        await db.batch(writes)
        rows = (await db.execute(sql.step_times("blue"))).rows
        return sorted(float(s) for row in rows for s in row["seconds"].split(","))

    async def on_d1(d1: LocalD1) -> list[float]:
        db = D1HttpDatabase(d1.url)
        try:
            return await times(db)
        finally:
            await db.close()

    d1 = next(local_d1(tmp_path / "d1"))
    try:
        found = asyncio.run(on_d1(d1))
    finally:
        d1.stop()
    assert found == sorted(seconds)
    assert asyncio.run(times(SQLiteDatabase(tmp_path / "local.sqlite3"))) == sorted(seconds)
