"""A launch on Cloudflare, from measured costs (issue 18: the meter, the model, the check).

The meter: on wrangler's local D1 (the engine D1 runs, behind D1's REST `query` contract) the
API runs in-process and every request is metered as D1 reports it: D1 calls, statements, rows
read, rows written. One learner goes through the first module of the bench's course (written
here from tests/support/course.py's steps: modules alike of `--units` units, a unit being a video
lesson, its built-in quiz, a text lesson) as the player drives it. A unit: the step pages, the
video (played, a heartbeat every `--period` s, `--pauses` pauses and resumes, `--seeks` seeks,
the report that completes it), Next, the quiz (failed, then passed), Next, the text lesson,
Next; the module done, the leaderboard (the course's home). Each request type gets its mean cost
over the module, not over a learner's first unit alone (which has every award): the awards come
at their real rate (first-video, first-quiz once; a module's completion, its XP and badge once
every `--units` units). The day's first media (which counts the learning day) is a request type
of its own: the first video's first heartbeat (the later videos' are plain heartbeats); the
model counts it once a day (`--daily-hours` learner-hours a day), the meter and the check once.

The model: a cohort (learners, the share watching at once, units a module, video minutes,
report period, pauses, seeks, quiz attempts) becomes counts of each request per unit (the
metered module's, divided by its units: checked), then per learner-hour, hence D1 load and money
with D1's published figures (a database runs one query at a time, ~1 ms each; the free plan
allows 100,000 rows written and 5 million read a day; the paid plan bills $1 per million rows
written and $0.001 per million read beyond what it includes; 10 GB a database).

The check: `--check` learners go through the same module at once (each on their own clock: the
minutes pass once for all) on one local D1 (or `--databases` cohorts), through two API objects
(two Worker isolates, each with its own memory), a `--stray` share of requests on the other
isolate; their measured totals beside what the model predicts. The database's growth per table
(SQLite's dbstat) gives the bytes a learner-hour adds, with and without what retention prunes.

    bash tests/setup.sh            # wrangler from npm
    python bench/launch_model.py [--units 4] [--video-minutes 10] [--check 8] [--stray 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sqlite3
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import httpx  # noqa: E402
from support.clock import ADMIN, Clock  # noqa: E402
from support.conformance import Recording  # noqa: E402
from support.course import write, write_module_one, write_module_two  # noqa: E402
from support.launch import free_port  # noqa: E402
from support.wrangler import LocalD1  # noqa: E402

from api.app import Api, application, publish_manifest  # noqa: E402
from api.clock import iso  # noqa: E402
from api.cohorts import Cohorts  # noqa: E402
from api.d1 import D1HttpDatabase  # noqa: E402
from api.settings import Settings  # noqa: E402
from builder.config import BuildConfig  # noqa: E402
from builder.pipeline import build  # noqa: E402

D1_MS_PER_STATEMENT = 1.0  # D1's documentation: ~1,000 queries a second at 1 ms each
FREE_WRITTEN, FREE_READ = 100_000, 5_000_000  # rows a day, free plan
PRICE_WRITTEN, PRICE_READ = 1.00, 0.001  # $ per million rows beyond the paid plan's included
DATABASE_BYTES = 10 * 10**9
PRUNED = {"events", "xapi_statements"}  # what the retention policy removes (api/retention.py)
MODULES = 2  # in the bench's course, alike; a run goes through the first
COMPLETION = 0.95  # the share of a video that completes it (the course's default)
QUIZ_FAIL, QUIZ_PASS = [0, [0]], [1, [0, 2]]  # support.course's quiz-1 (each unit's quiz)
NOW: ContextVar[Clock] = ContextVar("now")  # the clock of the learner a request is for
KINDS = (  # the request types of a module, in the order a learner makes them
    "page: GET /api/learner",
    "page: GET /api/playback",
    "video: played",
    "video: the day's first media",
    "video: heartbeat",
    "video: paused",
    "video: seeked",
    "video: completing",
    "POST /api/next",
    "POST /api/quiz-submission",
    "POST /api/lesson-done",
    "GET /api/leaderboard",
)


@dataclass(frozen=True)
class Cohort:
    """What the model turns into load: how learners behave, per unit of the course."""

    period: int  # s between heartbeats while a video plays
    video_seconds: int
    pauses: int  # per video, each followed by a play
    seeks: int  # per video
    attempts: int  # quiz submissions per quiz (one quiz per video)
    daily_hours: float  # learner-hours a learner studies a day (the day's first media: once)
    units: int = 4  # a module's units (a video, its quiz, a text lesson)

    def beats(self) -> int:
        """The reports a video's player makes on its period, the last before the next would
        reach the share that completes the video (the report that completes it follows)."""
        return max(0, math.ceil((self.video_seconds * COMPLETION - 1) / self.period) - 1)

    def stops(self) -> dict[int, str]:
        """The periodic reports (by number) that are a pause (then a play) or a seek: pauses
        from the 3rd on, seeks from the 6th, never the 1st (the day's first media)."""
        seeks = {n: "seeked" for n in range(6, 6 + self.seeks)}
        stops = seeks | {n: "paused" for n in range(3, 3 + self.pauses)}
        return {n: stop for n, stop in stops.items() if n <= self.beats()}

    def per_unit(self) -> dict[str, float]:
        """How many of each request a unit (a video, its quiz, a text lesson) makes, on average
        over a module's units: what a run through one module makes, divided by `units`."""
        stops = list(self.stops().values())
        paused, first = stops.count("paused"), 1 / self.units  # the day's: one a module run
        return {
            "page: GET /api/learner": 3,  # one per step opened
            "page: GET /api/playback": 1,
            "video: played": 1 + paused,
            "video: the day's first media": first,
            "video: heartbeat": self.beats() - len(stops) - first,
            "video: paused": paused,
            "video: seeked": stops.count("seeked"),
            "video: completing": 1,
            "POST /api/next": 3,  # one per step
            "POST /api/quiz-submission": self.attempts,
            "POST /api/lesson-done": 1,
            "GET /api/leaderboard": 1 / self.units,  # the course's home, once a module is done
        }

    def units_per_hour(self) -> float:
        return 3600 / self.video_seconds  # the video is the learner's time; the rest is short

    def per_hour(self) -> dict[str, float]:
        """How many of each request a learner-hour makes (the day's first media once a day)."""
        hourly = {kind: n * self.units_per_hour() for kind, n in self.per_unit().items()}
        day = hourly["video: the day's first media"] - 1 / self.daily_hours
        hourly["video: the day's first media"] = 1 / self.daily_hours
        hourly["video: heartbeat"] += day  # the others of a day are plain heartbeats
        return hourly


class Learner:
    """One learner's client on the API objects (isolates) of a run, every request metered."""

    def __init__(
        self, name: str, isolates: list[Isolate], home: int, stray: float, cohort: int = 0
    ) -> None:
        self.name, self.isolates, self.home, self.stray = name, isolates, home, stray
        self.cohort = cohort  # which database the learner is enrolled in
        self.random = random.Random(name)
        self.clients = [isolate.client(name) for isolate in isolates]  # one browser's cookies
        self.clock = Clock()  # the learner's own time, from the same start as the others'
        self.sent: list[str] = []

    async def call(self, kind: str, method: str, url: str, **options: Any) -> httpx.Response:
        other = self.random.random() < self.stray and len(self.isolates) > 1
        at = (self.home + other) % len(self.isolates)
        self.isolates[at].dbs[self.cohort].begin(kind)
        response = await self.clients[at].request(method, url, **options)
        for client in self.clients:
            client.cookies.update(response.cookies)
        assert response.status_code < 400, (kind, response.status_code, response.text)
        return response

    async def move_on(self, step: str) -> None:
        body = {"eventId": f"{self.name}-next-{step}", "stepId": step}
        await self.call("POST /api/next", "POST", "/api/next", json=body)

    async def video(self, kind: str, step: str, start: float, end: float, **action: Any) -> None:
        self.sent.append(kind)
        body: dict[str, Any] = {"eventId": f"{self.name}-{len(self.sent):05d}", "stepId": step}
        body.update(intervals=[[start, end]], **action)
        await self.call(kind, "POST", "/api/video-event", json=body)


class Isolate:
    """A Worker isolate's memory: one API object per cohort database, metered, behind the
    cohorts' dispatcher when there are several (api/cohorts.py), as the Worker builds them."""

    def __init__(self, d1s: list[LocalD1], clock: Callable[[], datetime]) -> None:
        names = tuple((f"c{n}", None) for n in range(len(d1s))) if len(d1s) > 1 else ()
        base = Settings(
            db_path=":d1:", admin_token=ADMIN, secret="s" * 32, rate_limits=False, cohorts=names
        )
        self.dbs = [Recording(D1HttpDatabase(d1.url)) for d1 in d1s]
        apis = [
            Api(replace(base, cohort=name), db, clock)  # type: ignore[arg-type]
            for (name, _), db in zip(names or ((None, None),), self.dbs, strict=True)
        ]
        apps = [application(api) for api in apis]
        app = Cohorts(list(zip(apis, apps, strict=True))) if names else apps[0]
        self.transport = httpx.ASGITransport(app=app)

    def client(self, name: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url=f"http://{name}.bench")


def unit_steps(module: int, unit: int) -> tuple[str, str, str]:
    """A unit's step ids: its video lesson, its quiz, its text lesson."""
    return f"m{module}-video-{unit}", f"m{module}-quiz-{unit}", f"m{module}-text-{unit}"


def now() -> datetime:
    """The API's clock: the requesting learner's (else the start): learners watching at once see
    a video's minutes pass once, not once per learner as one clock moved by each would."""
    return NOW.get(Clock())()


async def module_run(learner: Learner, cohort: Cohort) -> None:
    """A new learner through the first module's units, then the course home's leaderboard."""
    NOW.set(learner.clock)  # in this learner's task (asyncio.gather: one each)
    admin = {"Authorization": f"Bearer {ADMIN}", "X-Sillon-Cohort": f"c{learner.cohort}"}
    body = {"name": learner.name, "email": f"{learner.name}@example.org", "teamId": "t1"}
    made = await learner.call("setup", "POST", "/api/admin/learners", json=body, headers=admin)
    await learner.call(
        "setup", "POST", "/api/session", json={"inviteToken": made.json()["inviteToken"]}
    )
    for n in range(1, cohort.units + 1):
        await unit(learner, cohort, unit_steps(1, n))
    await learner.call("GET /api/leaderboard", "GET", "/api/leaderboard?period=7d")


async def unit(learner: Learner, cohort: Cohort, steps: tuple[str, ...]) -> None:
    """A learner through a unit as the player drives it (the clock moves with the video)."""
    video, quiz, text = steps
    await learner.call("page: GET /api/learner", "GET", "/api/learner")
    await learner.call("page: GET /api/playback", "GET", f"/api/playback?stepId={video}")
    await watch(learner, cohort, video)
    await learner.move_on(video)
    await learner.call("page: GET /api/learner", "GET", "/api/learner")
    for attempt in range(cohort.attempts):
        answers = QUIZ_PASS if attempt == cohort.attempts - 1 else QUIZ_FAIL
        sent = {"eventId": f"{learner.name}-{quiz}-{attempt}", "stepId": quiz, "answers": answers}
        await learner.call("POST /api/quiz-submission", "POST", "/api/quiz-submission", json=sent)
    await learner.move_on(quiz)
    await learner.call("page: GET /api/learner", "GET", "/api/learner")
    lesson = {"eventId": f"{learner.name}-{text}", "stepId": text}
    await learner.call("POST /api/lesson-done", "POST", "/api/lesson-done", json=lesson)
    await learner.move_on(text)


async def watch(learner: Learner, cohort: Cohort, step: str) -> None:
    """The video as the player reports it: played, heartbeats, a pause, a seek, completed. The
    first video's first heartbeat counts the day (streak, XP); the later videos' are plain."""
    period, stops = cohort.period, cohort.stops()
    first = "video: the day's first media" if step == unit_steps(1, 1)[0] else "video: heartbeat"
    await learner.video("video: played", step, 0, 0, action="played", time=0)
    for beat in range(1, cohort.beats() + 1):
        learner.clock.advance(seconds=period)
        at, end = (beat - 1) * period, beat * period
        if stops.get(beat) == "paused":  # a pause, then a play
            await learner.video("video: paused", step, at, end, action="paused", time=end)
            await learner.video("video: played", step, end, end, action="played", time=end)
        elif stops.get(beat) == "seeked":  # a seek back by a few seconds
            await learner.video(
                "video: seeked", step, at, end, action="seeked", timeFrom=end, timeTo=end - 5
            )
        else:
            await learner.video(first if beat == 1 else "video: heartbeat", step, at, end)
    learner.clock.advance(seconds=period)
    await learner.video("video: completing", step, cohort.beats() * period, cohort.video_seconds)


def totals(isolates: list[Isolate], cohort: int | None = None) -> dict[str, list[float]]:
    """Per request type: [count, calls, statements, rows read, rows written] (on one cohort's
    database, or all)."""
    found: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for isolate in isolates:
        for n, db in enumerate(isolate.dbs):
            for kind, (statements, read, written, calls) in (
                db.meters if cohort in (None, n) else []
            ):
                row = found[kind]
                for i, value in enumerate((1, calls, statements, read, written)):
                    row[i] += value
    return dict(found)


def table_bytes(d1: LocalD1) -> dict[str, int]:
    """Bytes each table (its indexes included) uses in the database file (SQLite's dbstat)."""
    with sqlite3.connect(f"file:{d1.sqlite_file()}?mode=ro", uri=True) as db:
        tables = dict(
            db.execute("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')")
        )
        sizes: dict[str, int] = defaultdict(int)
        used = "SELECT name, SUM(pgsize - unused) FROM dbstat GROUP BY name"  # bytes in use
        for name, size in db.execute(used):
            sizes[tables.get(name, name)] += size
    return dict(sizes)


def run(
    manifest: str, cohort: Cohort, learners: int, stray: float, databases: int = 1
) -> tuple[list[dict[str, list[float]]], dict[str, int]]:
    """`learners` through the first module at once on `databases` local D1s (cohorts,
    learners dealt in turn) and two isolates: per-type totals, all and per database, and the
    bytes each table grew by (summed over the databases)."""
    with tempfile.TemporaryDirectory() as tmp:
        d1s = []
        try:
            for n in range(databases):
                (Path(tmp) / f"d1-{n}").mkdir()
                d1s.append(LocalD1(Path(tmp) / f"d1-{n}", free_port()))
            return asyncio.run(metered(d1s, manifest, cohort, learners, stray))
        finally:
            for d1 in d1s:
                d1.stop()


async def metered(
    d1s: list[LocalD1], manifest: str, cohort: Cohort, learners: int, stray: float
) -> tuple[list[dict[str, list[float]]], dict[str, int]]:
    isolates = [Isolate(d1s, now), Isolate(d1s, now)]
    for db in isolates[0].dbs:  # the deploy publishes to every cohort
        await publish_manifest(db, manifest, iso(now()))  # type: ignore[arg-type]
    before = [table_bytes(d1) for d1 in d1s]
    people = [
        Learner(f"learner{n:03d}", isolates, n % 2, stray, n % len(d1s)) for n in range(learners)
    ]
    await asyncio.gather(*(module_run(person, cohort) for person in people))
    grown: dict[str, int] = defaultdict(int)
    for d1, was in zip(d1s, before, strict=True):
        for table, size in table_bytes(d1).items():
            grown[table] += size - was.get(table, 0)
    for client in (client for person in people for client in person.clients):
        await client.aclose()
    for db in (db for isolate in isolates for db in isolate.dbs):
        await db.db.close()  # type: ignore[attr-defined]
    split = [totals(isolates, n) for n in range(len(d1s))] if len(d1s) > 1 else []
    return [totals(isolates), *split], dict(grown)


def write_course(root: Path, units: int, seconds: int) -> Path:
    """The bench's course under root: MODULES modules alike, each of `units` units made of
    support.course's steps (its video lesson `intro` of `seconds` and media, its quiz `quiz-1`,
    its text lesson `texte`) under the unit's ids."""
    content = root / "content"
    folders = [f"m{n}" for n in range(1, MODULES + 1)]
    write(content / "course.yaml", f"title: Banc\nlanguage: fr\nmodules: [{', '.join(folders)}]\n")
    for n, folder in enumerate(folders, start=1):
        module = content / "modules" / folder
        write_module_two(module)  # texte.md (its Tally quiz left out)
        write_module_one(module, seconds)  # intro.md, quiz.yaml, the media
        models = {"intro": "intro.md", "quiz-1": "quiz.yaml", "texte": "texte.md"}
        texts = {old: (module / name).read_text(encoding="utf-8") for old, name in models.items()}
        for name in [*models.values(), "tally.yaml"]:
            (module / name).unlink()
        files = []
        for u in range(1, units + 1):
            for (old, text), new in zip(texts.items(), unit_steps(n, u), strict=True):
                files.append(new + Path(models[old]).suffix)
                write(module / files[-1], text.replace(f"id: {old}\n", f"id: {new}\n", 1))
        steps = ", ".join(files)
        write(module / "module.yaml", f"id: M{n}\ntitle: Module {n}\nsteps: [{steps}]\n")
    return content


def course_manifest(work: Path, cohort: Cohort) -> str:
    content = write_course(work / "course", cohort.units, cohort.video_seconds)
    config = BuildConfig.make(content=content, out=work / "site", disk_cache=False)
    build(config)
    return (config.private / "manifest.json").read_text(encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=4, help="units (video, quiz, text) a module")
    parser.add_argument("--period", type=int, default=15, help="s between heartbeats")
    parser.add_argument("--video-minutes", type=float, default=10, help="length of each video")
    parser.add_argument("--pauses", type=int, default=1, help="pauses per video")
    parser.add_argument("--seeks", type=int, default=1, help="seeks per video")
    parser.add_argument("--attempts", type=int, default=2, help="quiz submissions per quiz")
    parser.add_argument("--daily-hours", type=float, default=1.0, help="learner-hours a day")
    parser.add_argument("--databases", type=int, default=1, help="cohort databases in the check")
    parser.add_argument("--learners", type=int, default=10_000, help="learners in the launch")
    parser.add_argument("--watching", type=float, default=1.0, help="share watching at once")
    parser.add_argument("--check", type=int, default=8, help="learners in the measured run")
    parser.add_argument("--stray", type=float, default=0.1, help="share sent to the other isolate")
    args = parser.parse_args()
    behaviour = (args.period, int(args.video_minutes * 60), args.pauses, args.seeks, args.attempts)
    cohort = Cohort(*behaviour, args.daily_hours, args.units)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = course_manifest(Path(tmp), cohort)
    check(manifest, cohort, meter(manifest, cohort), args)
    return 0


def meter(manifest: str, cohort: Cohort) -> dict[str, list[float]]:
    """One learner through the first module: each request type's mean cost over its units,
    printed; the module's counts must be the model's (`Cohort.per_unit` times `units`)."""
    (found, *_), _ = run(manifest, cohort, 1, 0.0)
    one = {kind: found.get(kind, [0.0] * 5) for kind in KINDS}  # none made (no pause): zeros
    counts = {k: (one[k][0], n * cohort.units) for k, n in cohort.per_unit().items()}
    if differ := {kind: pair for kind, pair in counts.items() if not math.isclose(*pair)}:
        raise SystemExit(f"The model's counts (measured, modelled) differ from the run: {differ}")
    means = {kind: [v / max(one[kind][0], 1) for v in one[kind][1:]] for kind in KINDS}
    print(
        f"Measured on wrangler's local D1, one learner through a module ({cohort.units} units), "
        "per request (mean):\n"
    )
    print(
        f"  {'request':<28} {'count':>5} {'calls':>6} {'statements':>10} {'read':>7} {'written':>8}"
    )
    for kind in KINDS:
        calls, statements, read, written = means[kind]
        cells = f"{calls:>6.2f} {statements:>10.2f} {read:>7.2f} {written:>8.2f}"
        print(f"  {kind:<28} {int(one[kind][0]):>5} {cells}")
    return means


def check(
    manifest: str, cohort: Cohort, means: dict[str, list[float]], args: argparse.Namespace
) -> None:
    """The measured run beside the model's prediction, then the launch."""
    (measured, *split), grown = run(manifest, cohort, args.check, args.stray, args.databases)
    per_unit, units = cohort.per_unit(), args.check * cohort.units  # the run's units
    predicted = [units * sum(per_unit[k] * means[k][i] for k in KINDS) for i in range(4)]
    actual = [sum(measured[k][i + 1] for k in KINDS if k in measured) for i in range(4)]
    print(
        f"\nCheck: {args.check} learners at once through the module, two isolates, "
        f"{args.stray:.0%} of requests on the other one\n"
    )
    print(f"  {'':<14} {'calls':>9} {'statements':>11} {'rows read':>10} {'rows written':>13}")
    ratio = [a / p if p else 0 for a, p in zip(actual, predicted, strict=True)]
    for name, row, form in (
        ("model", predicted, ",.0f"),
        ("measured", actual, ",.0f"),
        ("measured/model", ratio, ".3f"),
    ):
        cells = (f"{v:>{w}{form}}" for v, w in zip(row, (9, 11, 10, 13), strict=True))
        print(f"  {name:<14} " + " ".join(cells))
    hours = units / cohort.units_per_hour()
    kept = sum(v for t, v in grown.items() if t not in PRUNED)
    modelled = [sum(n * means[k][i] for k, n in cohort.per_hour().items()) for i in range(4)]
    busiest = shares(split, actual[1]) if split else 1.0
    launch(args, cohort, modelled, (sum(grown.values()) / hours, kept / hours), busiest)


def shares(split: list[dict[str, list[float]]], statements: float) -> float:
    """Print each cohort database's share of the run's statements; the busiest one's."""
    each = [sum(found[k][2] for k in KINDS if k in found) / statements for found in split]
    listed = ", ".join(f"c{n}: {share:.1%}" for n, share in enumerate(each))
    print(f"  statements per cohort database: {listed}")
    return max(each)


def launch(
    args: argparse.Namespace,
    cohort: Cohort,
    hourly: list[float],
    sizes: tuple[float, float],
    busiest: float,
) -> None:
    """The launch, from the model's per learner-hour figures (the measured run's bytes, all and
    kept; the busiest cohort database's share of the statements)."""
    (calls, statements, read, written), (size, kept) = hourly, sizes
    watching = args.learners * args.watching
    holds = 3_600_000 / (statements * D1_MS_PER_STATEMENT)
    dollars = 1000 * (written * PRICE_WRITTEN + read * PRICE_READ) / 1e6
    free_hours = min(FREE_WRITTEN / written, FREE_READ / read)
    print(
        f"\nModel: modules of {cohort.units} units, {cohort.video_seconds / 60:g}-minute videos, "
        f"a heartbeat every {cohort.period} s, {cohort.pauses} pause and {cohort.seeks} seek a "
        f"video, {cohort.attempts} quiz submissions; {watching:,.0f} learners at once\n"
    )
    print(
        f"  per learner-hour: {calls:,.0f} D1 calls, {statements:,.0f} statements, "
        f"{read:,.0f} rows read, {written:,.0f} rows written"
    )
    print(f"  D1 queries a second              {watching * statements / 3600:,.0f}")
    print(
        f"  learners one database holds      {holds:,.0f}  "
        f"(at {D1_MS_PER_STATEMENT} ms a statement)"
    )
    print(f"  databases this launch needs      {watching / holds:,.1f}")
    if busiest < 1.0:
        together = holds / busiest
        print(f"  learners {args.databases} cohort databases hold  {together:,.0f}  (the busiest)")
    print(f"  free plan, learner-hours a day   {free_hours:,.0f}")
    print(f"  paid plan, $ per 1,000 l-hours   {dollars:,.2f}  (beyond the plan's included rows)")
    print(
        f"  bytes per learner-hour           {size:,.0f} "
        f"({kept:,.0f} kept after the retention policy prunes)"
    )
    print(
        f"  learner-hours per 10 GB          {DATABASE_BYTES / kept:,.0f} (kept), "
        f"{DATABASE_BYTES / size:,.0f} (nothing pruned)"
    )


if __name__ == "__main__":
    sys.exit(main())
