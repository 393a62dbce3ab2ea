"""The local backend's one writer: a thread that commits many requests' batches at once.

Requests hand their batch to `submit` and wait; the thread takes every batch waiting, opens one
transaction, runs each batch under its own savepoint (a batch that fails is rolled back alone
and fails only its own request), commits, and only then answers each request: an answered
write is committed (it survives kill -9; tests/test_crash.py). While one group commits, the
next one gathers, so the busier the server, the more batches share a commit.

Nothing here runs on the event loop. When another process holds the write lock, SQLite waits
WRITE_STEP_MS at a time; between tries, new batches join the group and every batch that has
waited WRITE_WAIT is refused with Busy (503 database_busy, Retry-After). A storage fault
(read-only file, full disk, I/O error) fails the group, nothing written, and is remembered for
/api/health until a write succeeds again; the connection is reopened for the next group, so a
file made writable again works without a restart.

On D1 there is no such thing: each request's batch is its own transaction (api/d1.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .sqlite_errors import classify, run
from .storage import Busy, Conflict, DatabaseError, Fault, Result, Statement

WRITE_WAIT = 2.0  # seconds a write waits for a lock another process holds, then Busy
WRITE_STEP_MS = 50  # SQLite's own wait for the lock at a time (between tries, batches join)
MAX_GROUP = 500  # batches in one transaction at most
PROBE_WAIT = 0.05  # seconds /api/health waits for its probe write
PROBE_EVERY = 5.0  # seconds between probes while writes work (1 s while they fail)

Outcome = list[Result] | Conflict | DatabaseError


@dataclass
class Job:
    """One request's batch, the loop that waits for it, and when it gives up on a lock."""

    statements: list[Statement]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Result]]
    deadline: float  # time.monotonic()


def settle(future: asyncio.Future[list[Result]], outcome: Outcome) -> None:
    """Answer a waiting request (on its loop), unless it went away."""
    if future.done():
        return
    if isinstance(outcome, list):
        future.set_result(outcome)
    else:
        future.set_exception(outcome)


class Writer:
    """One thread, one connection, group commit; started at the first write."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self.connect = connect
        self.connection: sqlite3.Connection | None = None
        self.queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.start_lock = threading.Lock()
        self.fault: str | None = None  # why the last write failed, until one succeeds
        self.probed = float("-inf")
        self.commits = 0  # transactions committed, and the batches they carried (bench)
        self.batches = 0

    async def submit(self, statements: list[Statement], wait: float = WRITE_WAIT) -> list[Result]:
        """Commit the statements as one batch (with others' batches); their results."""
        loop = asyncio.get_running_loop()
        job = Job(statements, loop, loop.create_future(), time.monotonic() + wait)
        self.start()
        self.queue.put(job)
        return await job.future

    def start(self) -> None:
        with self.start_lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.run, name="sqlite-writer", daemon=True)
                self.thread.start()

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

    def close(self) -> None:
        """Finish the batches handed in, then stop the thread and close the connection."""
        if self.thread is not None and self.thread.is_alive():
            self.queue.put(None)
            self.thread.join(timeout=10)
        self.drop()

    # -- the thread ------------------------------------------------------------------------------

    def run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            jobs = [first]
            stopping = self.take(jobs)
            self.group(jobs)
            if stopping:
                return

    def take(self, jobs: list[Job]) -> bool:
        """Add the batches waiting, up to MAX_GROUP; True if asked to stop meanwhile."""
        while len(jobs) < MAX_GROUP:
            try:
                job = self.queue.get_nowait()
            except queue.Empty:
                return False
            if job is None:
                return True
            jobs.append(job)
        return False

    def group(self, jobs: list[Job]) -> None:
        """Commit the jobs in one transaction, waiting out a lock job by job; answer each."""
        while jobs:
            try:
                outcomes = self.transaction(jobs)
            except Busy as exc:
                now = time.monotonic()
                self.answer([j for j in jobs if j.deadline <= now], exc)
                jobs = [j for j in jobs if j.deadline > now]
                if self.take(jobs):
                    self.queue.put(None)  # stop after these
                continue
            except DatabaseError as exc:
                self.failed(exc)
                self.answer(jobs, exc)
                return
            self.fault = None
            self.commits += 1
            self.batches += len(jobs)
            for job, outcome in zip(jobs, outcomes, strict=True):
                self.answer([job], outcome)
            return

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
                self.connection = self.connect()
            except sqlite3.Error as exc:
                raise classify(exc) from exc
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

    def drop(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self.connection.close()
            self.connection = None

    @staticmethod
    def answer(jobs: list[Job], outcome: Outcome) -> None:
        for job in jobs:
            with contextlib.suppress(RuntimeError):  # its loop has closed: nobody waits
                job.loop.call_soon_threadsafe(settle, job.future, outcome)
