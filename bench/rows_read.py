"""Rows read (and written) per request for each API endpoint: what Cloudflare D1 bills.

    python bench/rows_read.py [--details]

Method. D1 (like Durable Objects' SQLite) bills the rows that workerd reads from
`sqlite3_stmt_status(stmt, LIBSQL_STMTSTATUS_ROWS_READ, 0)`, a counter libSQL added to SQLite
and workerd's SQLite patch (patches/sqlite/0001-row-counts-plain.patch) carries: one per seek
and one per step of any cursor (tables, indexes, and the rows a temp B-tree sort gives back), in
the statement, its subqueries, constraint checks and triggers. Python's sqlite3 has no such
counter, and the stock SQLite here is built without SQLITE_ENABLE_STMT_SCANSTATUS, so neither
`.scanstats` nor the scan-status API is available.

So this script counts with that very counter: it loads the libSQL engine bundled in the
`libsql` wheel (`pip install libsql`, libSQL 3.45.1) through ctypes. The wheel exports only its
Python entry point, so the few C functions needed (open, prepare, bind, step, column,
stmt_status, ...) are found in the extension's ELF symbol table. The real app is then driven
in-process like tests/support/client.py does (serve's create_app, starlette's TestClient, a fake
clock, the example course content/), with one change: its `SQLiteDatabase` runs every
statement on that engine instead of Python's sqlite3 (the same file, schema and pragmas), and
a wrapper around the real `SQLiteDatabase._run` records each statement with its rows read and
written and its `EXPLAIN QUERY PLAN`: SEARCH (bounded, by a key or an index) or SCAN (every
row of a table or index, unless a LIMIT stops it).

A measurement, not an estimate. Known differences from D1: BEGIN/COMMIT are not counted; D1's
SQLite version may plan a statement differently; workerd's patch also adds a table's row count
for a COUNT(*) without WHERE, which this engine does not (the API runs no such query).

Endpoints: the video event (first report, a mid-video report, the completing one), a lesson,
a quiz (failed, then passed and ending the module), the learner's progress, the leaderboard
for 7d, 30d and all with a team of N = 10 and N = 100 learners (each with several days of XP
history, beside a third team), sign-in, enrolment, and the gate of GET /steps/<id>.html.
Targets: a video event reads < 20 rows; a leaderboard < 2N + 20.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
from starlette.testclient import TestClient  # noqa: E402
from support.client import Cohort  # noqa: E402 - the tests' clock and cohort
from support.clock import ADMIN, Clock  # noqa: E402 - the tests' clock and cohort

import serve.server  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.meter import RECORDER, Engine, Step, metered  # noqa: E402
from builder.config import BuildConfig  # noqa: E402

VIDEO_TARGET = 20
VIDEO = "som01-bienvenue"  # 9 s
QUIZ = "som01-quiz"
QUIZ_RIGHT = [1, 1, [0, 2, 3], [0, 2]]
QUIZ_WRONG = [0, 0, [0], [1]]


# -- driving the real app --------------------------------------------------------------------


@dataclass
class Measure:
    """One endpoint's measured request."""

    label: str
    status: int
    steps: list[Step]
    target: int | None = None

    @property
    def read(self) -> int:
        return sum(s.rows_read for s in self.steps)

    @property
    def written(self) -> int:
        return sum(s.rows_written for s in self.steps)

    @property
    def scans(self) -> str:
        """The tables read by a SCAN, with the rows their statement read."""
        found = [
            f"{line.split()[1]} ({s.rows_read} r)"
            for s in self.steps
            for line in s.plan
            if line.strip().startswith("SCAN")
        ]
        return ", ".join(found) or "-"


class Run(Cohort):
    """The tests' cohort (the app, its clock and client, enrol and sign-in helpers) and the
    measures taken."""

    def __init__(self, client: TestClient, clock: Clock, db: Path) -> None:
        super().__init__(client, clock, db, ROOT / "content")
        self.measures: list[Measure] = []

    @contextmanager
    def measure(self, label: str, target: int | None = None) -> Iterator[list[int]]:
        """Record the statements of the request made inside; the block appends its status."""
        status: list[int] = []
        RECORDER.start()
        try:
            yield status
        finally:
            steps = RECORDER.stop()
        self.measures.append(Measure(label, status[0] if status else 0, steps, target))


def post(browser: TestClient, path: str, body: dict[str, Any]) -> int:
    response = browser.post(path, json=body)
    assert response.status_code < 300, f"{path}: {response.status_code} {response.text}"
    return response.status_code


def video(browser: TestClient, spans: list[list[float]]) -> int:
    return post(
        browser,
        "/api/video-event",
        {"eventId": str(uuid.uuid4()), "stepId": VIDEO, "intervals": spans},
    )


def lesson(browser: TestClient, step: str) -> int:
    return post(browser, "/api/lesson-done", {"eventId": str(uuid.uuid4()), "stepId": step})


def move_on(browser: TestClient, step: str) -> int:
    """A done step stays open until the learner moves on (README, "One open step")."""
    return post(browser, "/api/next", {"eventId": str(uuid.uuid4()), "stepId": step})


def quiz(browser: TestClient, answers: list[Any]) -> int:
    body = {"eventId": str(uuid.uuid4()), "stepId": QUIZ, "answers": answers}
    return post(browser, "/api/quiz-submission", body)


def seed_team(run: Run, team: str, size: int, start: datetime) -> str:
    """`size` learners with XP on different days over 40 days; return one's id."""
    first = ""
    for n in range(size):
        run.clock.now = start + timedelta(days=n % 40, minutes=n)
        created = run.enroll(f"{team}-{n:03d}", team)
        first = first or created["userId"]
        browser = run.sign_in(created["inviteToken"])
        video(browser, [])  # playback starts; the 9 s video may complete 5 s later (at 2x)
        run.clock.advance(seconds=5)
        video(browser, [[0, 9]])
        done = VIDEO
        for step in ("som01-tables", "som01-premier-select")[: n % 3]:
            run.clock.advance(days=1 + n % 2)
            move_on(browser, done)
            lesson(browser, step)
            done = step
    return first


def scenario(run: Run) -> None:
    """Every endpoint once, as a learner goes through the first module; then the boards."""
    start = run.clock.now
    boards = {n: seed_team(run, f"team{n}", n, start) for n in (10, 100)}
    seed_team(run, "others", 50, start)
    run.clock.now = start + timedelta(days=45)

    c = run.client
    with run.measure("POST /api/admin/learners") as status:
        body = {"name": "Ada", "email": "ada@example.org", "teamId": "solo"}
        response = c.post("/api/admin/learners", json=body, headers=run.admin())
        status.append(response.status_code)
    invite = response.json()["inviteToken"]
    ada = TestClient(c.app, base_url="http://testserver")
    with run.measure("POST /api/session") as status:
        status.append(ada.post("/api/session", json={"inviteToken": invite}).status_code)
    with run.measure(f"GET /steps/{VIDEO}.html (gate)") as status:
        status.append(ada.get(f"/steps/{VIDEO}.html").status_code)
    with run.measure("POST /api/video-event (first report)", VIDEO_TARGET) as status:
        status.append(video(ada, [[0, 2]]))
    run.clock.advance(seconds=2)
    with run.measure("POST /api/video-event (mid-video)", VIDEO_TARGET) as status:
        status.append(video(ada, [[2, 4]]))
    run.clock.advance(seconds=3)
    with run.measure("POST /api/video-event (completing)", VIDEO_TARGET) as status:
        status.append(video(ada, [[4, 9]]))
    with run.measure("POST /api/next") as status:
        status.append(move_on(ada, VIDEO))
    with run.measure("POST /api/lesson-done") as status:
        status.append(lesson(ada, "som01-tables"))
    move_on(ada, "som01-tables")
    lesson(ada, "som01-premier-select")
    move_on(ada, "som01-premier-select")
    with run.measure("POST /api/quiz-submission (failed)") as status:
        status.append(quiz(ada, QUIZ_WRONG))
    with run.measure("POST /api/quiz-submission (passed, ends module)") as status:
        status.append(quiz(ada, QUIZ_RIGHT))
    with run.measure("GET /api/learner") as status:
        status.append(ada.get("/api/learner").status_code)
    for n, user in boards.items():
        # The sessions of 45 days ago have expired and an invite opens one session: a new one.
        reissued = c.post("/api/admin/invite", json={"userId": user}, headers=run.admin())
        browser = run.sign_in(reissued.json()["inviteToken"])
        for period in ("7d", "30d", "all"):
            label = f"GET /api/leaderboard?period={period} (N={n})"
            with run.measure(label, 2 * n + 20) as status:
                response = browser.get(f"/api/leaderboard?period={period}")
                status.append(response.status_code)
            assert len(response.json().get("entries", [])) == n, response.text


# -- report ----------------------------------------------------------------------------------


def report(run: Run, engine: Engine, details: bool) -> int:
    print(
        f"Rows read per request, counted by libSQL {engine.version}'s rows-read meter "
        "(LIBSQL_STMTSTATUS_ROWS_READ, which workerd reads for D1)"
    )
    print(
        "the real app in-process on the example course; every other table access is a SEARCH "
        "by key or index\n"
    )
    row = "{:<48} {:>6} {:>5} {:>9} {:>7} {:<18} {:<34}"
    head = row.format("endpoint", "status", "stmts", "rows read", "written", "target", "SCAN of")
    print(head.rstrip())
    missed = 0
    for m in run.measures:
        verdict = ""
        if m.target is not None:
            ok = m.read < m.target
            missed += not ok
            verdict = f"< {m.target}: {'MET' if ok else 'NOT MET'}"
        line = row.format(m.label, m.status, len(m.steps), m.read, m.written, verdict, m.scans)
        print(line.rstrip())
    if details:
        for m in run.measures:
            print(f"\n{m.label}: {m.read} rows read, {m.written} written")
            for s in m.steps:
                sql = " ".join(s.sql.split())
                print(f"  {s.rows_read:>4} r {s.rows_written:>3} w  {sql[:110]}")
                for line in s.plan:
                    print(f"{'':18}{line}")
    print(
        "\nSCAN of: a table read in order rather than by key (ORDER BY seq DESC LIMIT 1 stops "
        "after one row).\nRows read count each seek and step of a cursor, the rows a temp B-tree "
        "sort gives back included.\n"
        f"targets: video event < {VIDEO_TARGET} rows read, leaderboard < 2N + 20; "
        f"{sum(m.target is not None for m in run.measures) - missed} met, {missed} not met"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--details", action="store_true", help="print every statement with its plan"
    )
    args = parser.parse_args()
    engine = Engine()
    serve.server.SQLiteDatabase = metered(engine)  # type: ignore[misc]
    with tempfile.TemporaryDirectory(prefix="sillon-rows-read-") as scratch:
        tmp = Path(scratch)
        config = BuildConfig.make(
            content=ROOT / "content", out=tmp / "site", private=tmp / "private", disk_cache=False
        )
        settings = Settings(db_path=str(tmp / "db.sqlite3"), admin_token=ADMIN, secret="s" * 32)
        clock = Clock()
        app = serve.server.create_app(config, settings, watch=False, clock=clock)
        with TestClient(app, base_url="http://testserver") as client:
            run = Run(client, clock, tmp / "db.sqlite3")
            scenario(run)
        return report(run, engine, args.details)


if __name__ == "__main__":
    sys.exit(main())
