"""Cohort insight at scale: 10,000 learners x 100 steps, generated straight into SQLite.

    python bench/insight_bench.py [--learners 10000] [--steps 100] [--repeat 9] [--details]

Generates, deterministically (seeded), a course of `--steps` steps (modules of 10; every fifth
step a quiz, the others videos and text lessons) published as two course versions (v1, then v2
40 days later), and a cohort written with executemany into a real SQLite file migrated like the
API's (not through the API: that would take hours): teams of 50 to 500 learners; learners spread
along the path (8% never started, 12% finished, the rest at a Beta-distributed position), each
with a pace, log-normal times per step and idle gaps of hours to days; quiz attempts with a
per-quiz first-try pass rate (45-90%) and retries until passed; streaks; completions and
learners on v1 or v2 by date. The schema's triggers run as they do for the API.

Then the insight endpoints are requested through the real app (in-process ASGI, the real
SQLite file): the teams list, the versions list, and a team's insight and CSV exports for the
smallest, a median and the largest team. Each is timed (median of --repeat runs after one
warm-up) and its rows read counted with libSQL's rows-read meter (the counter D1 bills; see
bench/rows_read.py, whose engine and metered database this reuses).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import httpx  # noqa: E402
from rows_read import RECORDER, Engine, metered  # noqa: E402
from starlette.applications import Starlette  # noqa: E402

from api import sql  # noqa: E402
from api.app import Api, Settings, application  # noqa: E402
from api.learning import iso  # noqa: E402
from api.sqlite import SQLiteDatabase  # noqa: E402
from api.storage import Database  # noqa: E402

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
V1_AT = NOW - timedelta(days=70)
V2_AT = NOW - timedelta(days=30)
ADMIN = "insight-bench-admin-token"


# -- the course --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    id: str
    kind: str  # video | lesson | quiz
    module: str
    minutes: float  # typical time on the step


def course_steps(count: int, rng: random.Random) -> list[Step]:
    steps = []
    for n in range(1, count + 1):
        kind = "quiz" if n % 5 == 0 else ("video" if n % 2 else "lesson")
        minutes = {"quiz": 6.0, "video": 9.0, "lesson": 5.0}[kind] * rng.uniform(0.6, 1.6)
        steps.append(Step(f"s{n:03d}", kind, f"M{(n - 1) // 10 + 1:02d}", minutes))
    return steps


def manifest(steps: list[Step], tag: str) -> str:
    entries: list[dict[str, Any]] = []
    for step in steps:
        entry: dict[str, Any] = {"id": step.id, "module": step.module, "title": f"Step {step.id}"}
        if step.kind == "quiz":
            question = {"choices": 3, "answer": [0], "multiple": False, "explain": ""}
            entry.update(kind="quiz", questions=[question], **{"pass": 0.8})
        else:
            video = {"stream": None, "url": None, "duration": 300.0}
            entry.update(kind="lesson", video=video if step.kind == "video" else None)
        entries.append(entry)
    body = {
        "format": 1,
        "title": "Insight bench",
        "language": "fr",
        "playbackMaxRate": 2.0,
        "completion": 0.95,
        "kms": {"unlock": "end", "pages": [], "files": []},
        "modules": [],
        "steps": entries,
    }
    body["version"] = hashlib.blake2b(tag.encode(), digest_size=16).hexdigest()
    return json.dumps(body)


# -- the cohort --------------------------------------------------------------------------------


@dataclass
class Cohort:
    teams: dict[str, int] = field(default_factory=dict)
    learners: list[tuple[Any, ...]] = field(default_factory=list)
    completions: list[tuple[Any, ...]] = field(default_factory=list)
    attempts: list[tuple[Any, ...]] = field(default_factory=list)


def team_sizes(total: int, rng: random.Random) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(min(rng.randint(50, 500), total - sum(sizes)))
    if len(sizes) > 1 and sizes[-1] < 50:
        sizes[-2] += sizes.pop()
    return sizes


def generate(total: int, steps: list[Step], versions: tuple[str, str], seed: int) -> Cohort:
    rng = random.Random(seed)
    first_try = {s.id: rng.uniform(0.45, 0.9) for s in steps if s.kind == "quiz"}
    cohort = Cohort()
    number = 0
    for t, size in enumerate(team_sizes(total, rng), start=1):
        team = f"team-{t:02d}"
        cohort.teams[team] = size
        for _ in range(size):
            number += 1
            learner(cohort, f"u{number:05d}", team, steps, versions, first_try, rng)
    return cohort


def learner(
    cohort: Cohort,
    lid: str,
    team: str,
    steps: list[Step],
    versions: tuple[str, str],
    first_try: dict[str, float],
    rng: random.Random,
) -> None:
    """One learner's row, completions and quiz attempts."""
    enrolled = V1_AT + timedelta(days=rng.uniform(0, 55))
    draw = rng.random()
    target = (
        0
        if draw < 0.08
        else len(steps)
        if draw < 0.20
        else int(rng.betavariate(1.1, 1.6) * len(steps))
    )
    at, done = walk(cohort, lid, team, steps[:target], enrolled, versions, first_try, rng)
    started = draw >= 0.08
    open_step = steps[done].id if started and done < len(steps) else None
    if open_step and steps[done].kind == "quiz" and rng.random() < 0.5:
        quiz_attempts(cohort, lid, open_step, at, NOW, first_try[open_step], False, rng)
    streak = 0 if not done else max(1, int(rng.expovariate(1 / 4)))
    cohort.learners.append(
        (
            lid,
            f"Learner {lid}",
            f"{lid}@example.org",
            team,
            "Europe/Paris",
            open_step,
            (versions[0] if at < V2_AT else versions[1]) if started else None,
            iso(at) if started else None,
            done * 15,
            streak,
            streak + rng.randint(0, 5),
            at.date().isoformat() if done else None,
            iso(enrolled),
            iso(at) if started else None,  # active_at: the not started never signed in
        )
    )


def walk(
    cohort: Cohort,
    lid: str,
    team: str,
    steps: list[Step],
    at: datetime,
    versions: tuple[str, str],
    first_try: dict[str, float],
    rng: random.Random,
) -> tuple[datetime, int]:
    """A learner's completions, from `at` on, until NOW; return when they stopped and how many."""
    pace = rng.lognormvariate(0, 0.45)
    done = 0
    for step in steps:
        seconds = step.minutes * 60 * pace * rng.lognormvariate(0, 0.6)
        if rng.random() < 0.18:  # back another day
            seconds += rng.uniform(8 * 3600, 4 * 86400)
        if at + timedelta(seconds=seconds) > NOW:
            break
        opened, at = at, at + timedelta(seconds=seconds)
        version = versions[0] if at < V2_AT else versions[1]
        cohort.completions.append(
            (lid, step.id, step.kind, step.module, iso(at), team, version, round(seconds, 3))
        )
        if step.kind == "quiz":
            quiz_attempts(cohort, lid, step.id, opened, at, first_try[step.id], True, rng)
        done += 1
    return at, done


def quiz_attempts(
    cohort: Cohort,
    lid: str,
    step: str,
    start: datetime,
    end: datetime,
    pass_rate: float,
    finished: bool,
    rng: random.Random,
) -> None:
    """Failed tries, then (when the step was finished) the passing one."""
    fails = 0 if finished and rng.random() < pass_rate else 1 + int(rng.expovariate(1.2))
    tries = fails + (1 if finished else 0)
    span = (end - start).total_seconds()
    for n in range(tries):
        when = start + timedelta(seconds=span * (n + 1) / tries)
        passed = finished and n == tries - 1
        score = 1.0 if passed else 0.0
        cohort.attempts.append(
            (lid, step, "builtin", score, int(passed), int(passed), "[]", iso(when))
        )


def write_database(path: Path, steps: list[Step], seed: int, total: int) -> tuple[Cohort, float]:
    """Migrate a fresh database, publish both versions, insert the cohort; return seconds."""
    started = time.perf_counter()
    SQLiteDatabase(path).close()  # the API's own migrations
    texts = (manifest(steps, f"v1-{seed}"), manifest(steps, f"v2-{seed}"))
    versions = (json.loads(texts[0])["version"], json.loads(texts[1])["version"])
    cohort = generate(total, steps, versions, seed)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    for text, version, when in zip(texts, versions, (V1_AT, V2_AT), strict=True):
        statement = sql.publish_course(version, text, iso(when))
        db.execute(statement.sql, statement.params)
    db.executemany(
        "INSERT INTO learners (id, name, email, team_id, tz, open_step, course_version, "
        "opened_at, xp, streak, streak_best, streak_day, created_at, active_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        cohort.learners,
    )
    db.executemany(
        "INSERT INTO completions (learner_id, step_id, kind, module_id, completed_at, team_id, "
        "course_version, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        cohort.completions,
    )
    db.executemany(
        "INSERT INTO quiz_attempts (learner_id, step_id, source, score, passed, perfect, "
        "answers, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        cohort.attempts,
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
    return cohort, time.perf_counter() - started


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Measure:
    label: str
    team_rows: str
    ms: list[float] = field(default_factory=list)
    stalls: list[float] = field(default_factory=list)  # the event loop's longest stall, ms
    rows_read: int = 0
    statements: int = 0
    size: int = 0


def app_for(db: Database, path: Path) -> Starlette:
    api = Api(Settings(db_path=str(path), admin_token=ADMIN), db, lambda: NOW)
    api.limiter.take = lambda *args: None  # type: ignore[method-assign]  # not an abuse test
    return application(api)


async def request(client: httpx.AsyncClient, url: str) -> httpx.Response:
    response = await client.get(url, headers={"Authorization": f"Bearer {ADMIN}"})
    if response.status_code != 200:
        sys.exit(f"{url}: {response.status_code} {response.text}")
    return response


async def stall_during(call: Awaitable[T]) -> tuple[T, float, float]:
    """What `call` gives, how long it took (ms), and the longest the event loop stood still
    meanwhile (ms): what every other request of a serve would have waited."""
    gaps = [0.0]
    done = asyncio.Event()

    async def beat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.0005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(beat())
    await asyncio.sleep(0.002)  # the beat has started
    started = time.perf_counter()
    try:
        result = await call
        took = time.perf_counter() - started
    finally:
        done.set()
        await ticker  # its last beat measures the end of the call
    return result, took * 1000, max(gaps) * 1000


async def timed(
    path: Path, urls: list[str], repeat: int
) -> dict[str, tuple[list[float], int, list[float]]]:
    """Median-able times of each URL on Python's sqlite3, interleaved round by round, and the
    event loop's longest stall during each."""
    db = SQLiteDatabase(path)
    found: dict[str, tuple[list[float], int, list[float]]] = {url: ([], 0, []) for url in urls}
    transport = httpx.ASGITransport(app=app_for(db, path))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for url in urls:  # warm-up: the course manifest is parsed once per process
            found[url] = ([], len((await request(client, url)).content), [])
        for _ in range(repeat):
            for url in urls:
                _, took, stall = await stall_during(request(client, url))
                found[url][0].append(took)
                found[url][2].append(stall)
    db.close()
    return found


async def counted(path: Path, urls: list[str], engine: Engine) -> dict[str, list[Any]]:
    """Each URL's statements with their rows read, on libSQL's metered engine."""
    db = metered(engine)(path)
    steps: dict[str, list[Any]] = {}
    transport = httpx.ASGITransport(app=app_for(db, path))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for url in urls:  # the course manifest is read and parsed once, outside the counts
            await request(client, url)
        for url in urls:
            RECORDER.start()
            await request(client, url)
            steps[url] = RECORDER.stop()
    db.close()
    return steps


def team_figures(path: Path, team: str) -> str:
    with sqlite3.connect(path) as db:
        (learners,) = db.execute(
            "SELECT COUNT(*) FROM learners WHERE team_id = ?", (team,)
        ).fetchone()
        (done,) = db.execute(
            "SELECT COUNT(*) FROM completions WHERE team_id = ?", (team,)
        ).fetchone()
        (tries,) = db.execute(
            "SELECT COUNT(*) FROM quiz_attempts a JOIN learners l ON l.id = a.learner_id "
            "WHERE l.team_id = ?",
            (team,),
        ).fetchone()
    return f"{learners} / {done:,} / {tries:,}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--details", action="store_true", help="every statement, rows read")
    args = parser.parse_args()
    engine = Engine()
    rng = random.Random(args.seed)
    steps = course_steps(args.steps, rng)
    with tempfile.TemporaryDirectory(prefix="sillon-insight-") as scratch:
        path = Path(scratch) / "insight.sqlite3"
        cohort, seconds = write_database(path, steps, args.seed, args.learners)
        print(
            f"generated in {seconds:.1f} s: {len(cohort.learners):,} learners in "
            f"{len(cohort.teams)} teams ({min(cohort.teams.values())}-"
            f"{max(cohort.teams.values())}), {len(steps)} steps, "
            f"{len(cohort.completions):,} completions, {len(cohort.attempts):,} quiz attempts; "
            f"{path.stat().st_size / 1e6:.0f} MB"
        )
        measures = plan(cohort, path)
        urls = list(measures)
        for url, (ms, size, stalls) in asyncio.run(timed(path, urls, args.repeat)).items():
            measures[url].ms, measures[url].size, measures[url].stalls = ms, size, stalls
        for url, ran in asyncio.run(counted(path, urls, engine)).items():
            measures[url].rows_read = sum(s.rows_read for s in ran)
            measures[url].statements = len(ran)
            if args.details:
                print(f"\n{url}")
                for s in ran:
                    print(f"  {s.rows_read:>7} r  {' '.join(s.sql.split())[:100]}")
        report(measures, args.repeat, engine)
    return 0


def plan(cohort: Cohort, path: Path) -> dict[str, Measure]:
    """The requests to measure: the lists, then each figure for the small, median, large team."""
    by_size = sorted(cohort.teams, key=lambda t: (cohort.teams[t], t))
    picks = {
        "smallest": by_size[0],
        "median": by_size[len(by_size) // 2],
        "largest": by_size[-1],
    }
    measures: dict[str, Measure] = {
        "/api/admin/teams": Measure("GET /api/admin/teams", "-"),
        "/api/admin/versions": Measure("GET /api/admin/versions", "-"),
    }
    for which, team in picks.items():
        measures[f"/api/admin/insight?teamId={team}"] = Measure(
            f"GET /api/admin/insight ({which} team)", team_figures(path, team)
        )
    largest = picks["largest"]
    for table in ("steps", "learners"):
        measures[f"/api/admin/insight.csv?teamId={largest}&table={table}"] = Measure(
            f"GET /api/admin/insight.csv?table={table} (largest)", team_figures(path, largest)
        )
    return measures


def report(measures: dict[str, Measure], repeat: int, engine: Engine) -> None:
    print(
        f"\nmedian of {repeat} requests through the app on Python's sqlite3; rows read by "
        f"libSQL {engine.version}'s meter (what D1 bills)\n"
    )
    row = "{:<48} {:>26} {:>10} {:>10} {:>12} {:>6} {:>10} {:>9}"
    print(
        row.format(
            "request", "team: learners/done/tries", "median", "p90", "loop stall",
            "stmts", "rows read", "bytes",
        )
    )  # fmt: skip
    for m in measures.values():
        ordered = sorted(m.ms)
        p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
        print(
            row.format(
                m.label,
                m.team_rows,
                f"{statistics.median(m.ms):.1f} ms",
                f"{p90:.1f} ms",
                f"{statistics.median(m.stalls):.1f} ms",
                m.statements,
                f"{m.rows_read:,}",
                f"{m.size:,}",
            )
        )


if __name__ == "__main__":
    sys.exit(main())
