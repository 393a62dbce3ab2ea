"""The local backend's writer (api/writer.py) on real SQLite files: many requests' batches in one
transaction, a failing batch failing alone, a lock held by another process waited out off the
event loop and refused after a bounded wait."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.sqlite_lock import lock_held_by_another_process, stall_during

from api.sqlite import SQLiteDatabase
from api.storage import Busy, Conflict, DatabaseError, Statement
from api.writer import MAX_GROUP, WRITE_WAIT


def scratch(path: Path) -> SQLiteDatabase:
    """A migrated database with a table of the test's own."""
    db = SQLiteDatabase(path)
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE scratch (n INTEGER PRIMARY KEY)")
    return db


def insert(n: int) -> Statement:
    return Statement("INSERT INTO scratch (n) VALUES (?)", (n,))


def stored(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT n FROM scratch ORDER BY n")]


@contextmanager
def locked(path: Path, seconds: float) -> Iterator[None]:
    """A second real process holds the write lock (support.sqlite_lock), writing to scratch."""
    with lock_held_by_another_process(path, seconds, "INSERT INTO scratch (n) VALUES (-1)"):
        yield


def test_group_commit_many_batches_share_few_transactions(tmp_path: Path) -> None:
    db = scratch(tmp_path / "db.sqlite3")

    async def write_all() -> None:
        await asyncio.gather(*(db.batch([insert(n), insert(10_000 + n)]) for n in range(300)))

    asyncio.run(write_all())
    assert stored(tmp_path / "db.sqlite3") == [*range(300), *range(10_000, 10_300)]
    assert db.writer.batches == 300
    assert db.writer.commits < 30, f"{db.writer.commits} transactions for 300 batches"
    db.close()


def test_group_commit_failing_batch_fails_alone(tmp_path: Path) -> None:
    db = scratch(tmp_path / "db.sqlite3")
    asyncio.run(db.batch([insert(7)]))

    async def mixed() -> list[object]:
        batches = [
            [insert(1)],
            [insert(2), insert(7)],  # a duplicate: this batch, whole, and nothing else
            [insert(3)],
            [insert(4), Statement("INSERT INTO nowhere VALUES (1)")],  # SQLite refuses it
            [insert(5)],
        ]
        return await asyncio.gather(*(db.batch(b) for b in batches), return_exceptions=True)

    outcomes = asyncio.run(mixed())
    assert isinstance(outcomes[1], Conflict)
    assert isinstance(outcomes[3], DatabaseError) and "no such table" in str(outcomes[3])
    assert all(isinstance(outcomes[i], list) for i in (0, 2, 4))
    assert stored(tmp_path / "db.sqlite3") == [1, 3, 5, 7]
    assert db.writer.commits == 2  # the first write, then the five batches together
    db.close()


def test_group_commit_lock_elsewhere_never_blocks_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = scratch(path)
    asyncio.run(db.batch([insert(1)]))

    async def read_then_write() -> tuple[float, float, BaseException | None]:
        started = time.perf_counter()
        read = await db.execute(Statement("SELECT COUNT(*) AS n FROM scratch"))
        read_took = time.perf_counter() - started
        assert read.rows == [{"n": 1}]
        started = time.perf_counter()
        try:
            await db.batch([insert(2)])
            error: BaseException | None = None
        except Busy as exc:
            error = exc
        return read_took, time.perf_counter() - started, error

    async def while_locked() -> tuple[float, float, float, BaseException | None]:
        (read_took, write_took, error), longest = await stall_during(read_then_write(), 0.005)
        return read_took, write_took, longest, error

    with locked(path, seconds=WRITE_WAIT + 2):
        read_took, write_took, longest_gap, error = asyncio.run(while_locked())
    assert read_took < 0.05
    assert isinstance(error, Busy), "a write waits a bounded time, then is refused"
    assert WRITE_WAIT - 0.1 <= write_took <= WRITE_WAIT + 1.0
    # Waiting in SQLite would stand the loop still for the whole 2 s; a shared machine's
    # scheduling may pause it for tens of milliseconds.
    assert longest_gap < 0.1, f"the event loop stood still {longest_gap * 1000:.0f} ms"
    asyncio.run(db.batch([insert(2)]))  # the lock is gone: writes work, no restart
    assert stored(path) == [1, 2]
    db.close()


def test_group_commit_waits_out_a_short_lock(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = scratch(path)
    with locked(path, seconds=0.5):
        started = time.perf_counter()
        asyncio.run(db.batch([insert(1)]))
        took = time.perf_counter() - started
    assert 0.3 < took < WRITE_WAIT
    assert stored(path) == [1]
    db.close()


def test_group_commit_memory_database_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="needs a file"):
        SQLiteDatabase(":memory:")


def test_group_commit_a_scan_runs_off_the_loop(tmp_path: Path) -> None:
    """A read marked `scan` (a team's insight) runs in a thread: the loop keeps its beat. The
    same read on the loop stands it still, which shows the read is heavy enough to tell."""
    db = scratch(tmp_path / "db.sqlite3")
    heavy = (  # ~0.2 s of SQLite's own work, one row back
        "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 1000000) "
        "SELECT COUNT(*) AS c, SUM(n % 7) AS s FROM k"
    )

    async def longest_stall(scan: bool) -> tuple[float, list[dict[str, int]]]:
        result, longest = await stall_during(db.execute(Statement(heavy, scan=scan)))
        return longest, result.rows

    on_loop, rows = asyncio.run(longest_stall(scan=False))
    in_thread, same = asyncio.run(longest_stall(scan=True))
    assert same == rows == [{"c": 1_000_000, "s": 2_999_998}]
    assert on_loop > 0.1, f"the read took only {on_loop * 1000:.1f} ms: too light to tell"
    assert in_thread < on_loop / 4, f"{in_thread * 1000:.1f} ms vs {on_loop * 1000:.1f} ms"
    db.close()


def test_group_commit_every_waiting_batch_is_answered_while_locked(tmp_path: Path) -> None:
    """More batches than one transaction takes (MAX_GROUP) wait on a lock held elsewhere: each
    is refused once it has waited its time, the ones beyond the first group too."""
    path = tmp_path / "db.sqlite3"
    db = scratch(path)
    count = MAX_GROUP + 16

    async def all_refused() -> list[object]:
        batches = (db.batch([insert(n)]) for n in range(count))
        gathered = asyncio.gather(*batches, return_exceptions=True)
        return await asyncio.wait_for(gathered, WRITE_WAIT + 2)

    with locked(path, seconds=WRITE_WAIT + 3):
        outcomes = asyncio.run(all_refused())
    assert len(outcomes) == count and all(isinstance(o, Busy) for o in outcomes)
    assert stored(path) == []
    db.close()
