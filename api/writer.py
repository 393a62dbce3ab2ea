"""The local backend's one writer: the batches of many requests committed at once, on the event
loop, without ever waiting there for a lock.

Requests hand their batch to `submit` and wait. Whatever arrived during one turn of the event
loop is committed in one transaction (BEGIN IMMEDIATE, each batch under its own savepoint so a
batch that fails is rolled back alone and fails only its own request, COMMIT), at most
MAX_GROUP batches at a time, and only then is each request answered: an answered write is
committed (it survives kill -9; tests/test_crash.py). The busier the server, the more batches
share a commit.

Why on the loop and not in a thread of its own: a transaction here is tens of microseconds a
batch (WAL with synchronous=NORMAL: a commit appends to the WAL, no fsync), and a thread would
hand Python's GIL back and forth with the loop at every statement; measured with
bench/api_bench.py, the thread made each event cost ~40% more server CPU. What could take long
stays off the loop:

- a lock another process holds (`learners import`, `publish`): the connection's busy timeout
  is 0, so BEGIN IMMEDIATE answers SQLITE_BUSY at once; the group is tried again after a pause
  (RETRY_PAUSE, doubling), new batches joining it, and a batch that has waited WRITE_WAIT is
  refused with Busy (503 database_busy, Retry-After);
- checkpoints, which copy the WAL into the database file and fsync it: the connection's
  automatic checkpoint is off, and a thread (`Checkpointer`) runs PASSIVE checkpoints (which
  neither wait for nor block a reader or the writer) shortly after commits.

A storage fault (read-only file, full disk, I/O error) fails the group, nothing written, and is
remembered for /api/health until a write succeeds again; the connection is reopened for the
next group, so a file made writable again works without a restart.

On D1 there is no such thing: each request's batch is its own transaction (api/d1.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .sqlite_errors import classify, run
from .storage import Busy, Conflict, DatabaseError, Fault, Result, Statement

WRITE_WAIT = 2.0  # seconds a write waits for a lock another process holds, then Busy
RETRY_PAUSE = (0.005, 0.05)  # seconds between tries while locked: the first, doubling to the last
MAX_GROUP = 64  # batches in one transaction at most (a few milliseconds of the loop)
PROBE_WAIT = 0.05  # seconds /api/health waits for its probe write
PROBE_EVERY = 5.0  # seconds between probes while writes work (1 s while they fail)
CHECKPOINT_AFTER = 0.2  # seconds after a commit the WAL is copied into the file (a thread)

log = logging.getLogger("sillon.storage")

Outcome = list[Result] | Conflict | DatabaseError


@dataclass
class Job:
    """One request's batch, the loop that waits for it, and when it gives up on a lock."""

    statements: list[Statement]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Result]]
    deadline: float  # time.monotonic()


def settle(future: asyncio.Future[list[Result]], outcome: Outcome) -> None:
    """Answer a waiting request, unless it went away."""
    if future.done():
        return
    if isinstance(outcome, list):
        future.set_result(outcome)
    else:
        future.set_exception(outcome)


def answer(job: Job, outcome: Outcome) -> None:
    """Settle a job from its own loop, or hand it over to that loop (close(), other threads)."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if job.loop is running:
        settle(job.future, outcome)
    else:
        with contextlib.suppress(RuntimeError):  # its loop has closed: nobody waits
            job.loop.call_soon_threadsafe(settle, job.future, outcome)


class Writer:
    """One connection, group commit on the submitting loop; `connect` must give a connection
    whose busy timeout is 0 (the loop never waits inside SQLite)."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self.connect = connect
        self.connection: sqlite3.Connection | None = None
        # Batches waiting, per event loop (serve has one; tests may drive several threads').
        # A loop has a flush scheduled exactly while its list is not empty.
        self.pending: dict[asyncio.AbstractEventLoop, list[Job]] = {}
        self.lock = threading.Lock()  # one transaction at a time, whichever thread runs it
        self.checkpointer = Checkpointer(connect)
        self.fault: str | None = None  # why the last write failed, until one succeeds
        self.probed = float("-inf")
        self.commits = 0  # transactions committed, and the batches they carried (tests, bench)
        self.batches = 0

    async def submit(self, statements: list[Statement], wait: float = WRITE_WAIT) -> list[Result]:
        """Commit the statements as one batch (with others' batches); their results."""
        loop = asyncio.get_running_loop()
        job = Job(statements, loop, loop.create_future(), time.monotonic() + wait)
        waiting = self.pending.setdefault(loop, [])
        waiting.append(job)
        if len(waiting) == 1:  # the first since the last flush: after this turn of the loop
            loop.call_soon(self.flush, loop, RETRY_PAUSE[0])
        return await job.future

    async def check(self, probe: Statement) -> str | None:
        """Why writes fail now, or None. Writes `probe` (a one-row update) now and then, and at
        most once a second while failing, so a fault that went away is seen without a restart;
        never waits more than PROBE_WAIT for it (a lock held elsewhere is not a fault)."""
        now = time.monotonic()
        if now - self.probed >= (1.0 if self.fault else PROBE_EVERY):
            self.probed = now
            task = asyncio.ensure_future(self.submit([probe], wait=PROBE_WAIT))
            await asyncio.wait({task}, timeout=PROBE_WAIT + 0.01)
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved
        return self.fault

    def flush(self, loop: asyncio.AbstractEventLoop, pause: float) -> None:
        """Commit the loop's waiting batches (MAX_GROUP at most) and answer them; while another
        process holds the lock, try again after `pause`, refusing the batches that waited
        their time."""
        waiting = self.pending.get(loop, [])
        group = waiting[:MAX_GROUP]
        try:
            outcomes = self.commit(group)
        except Busy as exc:
            now = time.monotonic()
            for job in waiting:  # the group's and those beyond it: every batch that waited its time
                if job.deadline <= now:
                    answer(job, exc)
            waiting[:] = [job for job in waiting if job.deadline > now]
            if waiting:
                loop.call_later(pause, self.flush, loop, min(pause * 2, RETRY_PAUSE[1]))
            else:
                del self.pending[loop]
            return
        except DatabaseError as exc:
            outcomes = [exc] * len(group)
        del waiting[: len(group)]
        for job, outcome in zip(group, outcomes, strict=True):
            answer(job, outcome)
        if waiting:
            loop.call_soon(self.flush, loop, RETRY_PAUSE[0])
        else:
            self.pending.pop(loop, None)

    def commit(self, group: list[Job]) -> list[Outcome]:
        """One transaction for the group: each job's results or its own error. Raises Busy
        (nothing written, try again) or the fault that lost the whole group."""
        if not group:
            return []
        with self.lock:
            try:
                outcomes = self.transaction(group)
            except Busy:
                raise
            except DatabaseError as exc:
                self.failed(exc)
                raise
            self.fault = None
            self.commits += 1
            self.batches += len(group)
        self.checkpointer.wanted()
        return outcomes

    def transaction(self, jobs: list[Job]) -> list[Outcome]:
        """BEGIN, each job under a savepoint, COMMIT: each job's results or its own error.
        Raises when the whole transaction is lost (a lock, a fault): nothing was written."""
        connection = self.open()
        self.execute(connection, "BEGIN IMMEDIATE")
        try:
            outcomes = [self.apply(connection, job) for job in jobs]
            self.execute(connection, "COMMIT")
        except BaseException:
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            raise
        return outcomes

    def apply(self, connection: sqlite3.Connection, job: Job) -> Outcome:
        """Run one job's statements under a savepoint; on its error, roll back only them."""
        connection.execute("SAVEPOINT batch")
        try:
            results = [run(connection, statement) for statement in job.statements]
        except (Conflict, DatabaseError) as exc:
            if not connection.in_transaction or isinstance(exc, Busy | Fault):
                raise  # SQLite gave up the transaction, or storage fails: the group is lost
            connection.execute("ROLLBACK TO batch")
            connection.execute("RELEASE batch")
            return exc
        connection.execute("RELEASE batch")
        return results

    def open(self) -> sqlite3.Connection:
        if self.connection is None:
            try:
                connection = self.connect()
                connection.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's work
            except sqlite3.Error as exc:
                raise classify(exc) from exc
            self.connection = connection
        return self.connection

    @staticmethod
    def execute(connection: sqlite3.Connection, sql: str) -> None:
        try:
            connection.execute(sql)
        except sqlite3.Error as exc:
            raise classify(exc) from exc

    def failed(self, exc: DatabaseError) -> None:
        """Remember a fault for /api/health, and reopen the connection for the next group."""
        if isinstance(exc, Fault):
            self.fault = str(exc)
            self.drop()

    def close(self) -> None:
        """Commit the batches still waiting, then stop checkpointing and close the connection."""
        for loop, waiting in list(self.pending.items()):
            while waiting:
                group = waiting[:MAX_GROUP]
                del waiting[:MAX_GROUP]
                try:
                    outcomes = self.commit(group)
                except DatabaseError as exc:
                    outcomes = [exc] * len(group)
                for job, outcome in zip(group, outcomes, strict=True):
                    answer(job, outcome)
            self.pending.pop(loop, None)
        self.checkpointer.stop()
        self.drop()

    def drop(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self.connection.close()
            self.connection = None


class Checkpointer:
    """Copies the WAL into the database file in a thread of its own, CHECKPOINT_AFTER seconds
    after commits: PASSIVE checkpoints, which wait for nobody and block nobody (as SQLite's
    automatic checkpoint, without its fsync on the event loop). A failure is logged and tried
    again after the next commit; the writer's own path reports storage faults."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self.connect = connect
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.start_lock = threading.Lock()

    def wanted(self) -> None:
        """A commit happened: checkpoint soon (the thread starts at the first)."""
        if self.thread is None:
            with self.start_lock:
                if self.thread is None and not self.stopped.is_set():
                    self.thread = threading.Thread(
                        target=self.run, name="sqlite-checkpoint", daemon=True
                    )
                    self.thread.start()
        self.wake.set()

    def run(self) -> None:
        connection: sqlite3.Connection | None = None
        while True:
            self.wake.wait()
            # Let a burst of commits finish first; a stop does not wait for it (the last
            # connection to close checkpoints the WAL anyway).
            if self.stopped.is_set() or self.stopped.wait(CHECKPOINT_AFTER):
                break
            self.wake.clear()
            try:
                connection = connection or self.connect()
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                log.warning("WAL checkpoint failed (tried again after the next write): %s", exc)
                if connection is not None:
                    with contextlib.suppress(sqlite3.Error):
                        connection.close()
                connection = None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
