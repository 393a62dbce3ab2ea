"""Cohort insight and course versions: exact figures of a hand-made cohort through the real API
on a real SQLite file, the CSV exports, the migration, and the admin page in real Chromium."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from support.client import Cohort, assert_error, cohort, event
from support.clock import Clock
from support.conformance import EXACT_SECONDS, timed_completions
from support.course import ROOT, write
from test_validation import edit

from api import sql
from api.sqlite import SQLiteDatabase, migrate
from builder.config import BuildConfig
from builder.pipeline import build

DAY = 86400
T0 = Clock().now  # the test clock's start: Tuesday 2026-11-24, 09:00 UTC (10:00 in Paris)
ROUTES = [
    "/api/admin/teams",
    "/api/admin/versions",
    "/api/admin/insight?teamId=blue",
    "/api/admin/insight.csv?teamId=blue",
    "/api/admin/learners?teamId=blue",
]
STEPS_HEADER = [
    "teamId",
    "courseVersion",
    "position",
    "stepId",
    "title",
    "kind",
    "module",
    "onStep",
    "stalled",
    "completed",
    "completedShare",
    "medianSeconds",
    "quizTried",
    "firstTryPassed",
    "firstTryRate",
]


def make_course(root: Path) -> Path:
    """Two modules of text lessons and a one-question quiz: times are the clock's, exactly."""
    content = root / "content"
    write(content / "course.yaml", "title: Suivi\nlanguage: fr\nmodules: [m1, m2]\n")
    write(content / "modules/m1/module.yaml", "id: M1\ntitle: Un\nsteps: [lire.md, quiz.yaml]\n")
    write(content / "modules/m1/lire.md", "---\nid: lire\ntitle: Lire\n---\nTexte.\n")
    write(
        content / "modules/m1/quiz.yaml",
        """
        id: quiz
        title: Le quiz
        questions:
          - prompt: Oui ?
            choices: [non, oui]
            answer: 1
        """,
    )
    write(content / "modules/m2/module.yaml", "id: M2\ntitle: Deux\nsteps: [pratique.md, fin.md]\n")
    write(content / "modules/m2/pratique.md", "---\nid: pratique\ntitle: Pratique\n---\nTexte.\n")
    write(content / "modules/m2/fin.md", "---\nid: fin\ntitle: Fin\n---\nTexte.\n")
    return content


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with cohort(make_course(tmp_path / "course"), tmp_path) as running:
        yield running


def at(app: Cohort, seconds: float) -> None:
    app.clock.now = T0 + timedelta(seconds=seconds)


def act(browser: TestClient, action: str) -> None:
    if action.startswith("quiz"):
        answers = [1] if action == "quiz-right" else [0]
        body = {"eventId": event(), "stepId": "quiz", "answers": answers}
        response = browser.post("/api/quiz-submission", json=body)
        assert response.json()["passed"] is (action == "quiz-right"), response.text
    else:
        response = browser.post("/api/lesson-done", json={"eventId": event(), "stepId": action})
    assert response.status_code == 200, response.text


def scenario(app: Cohort) -> dict[str, tuple[dict[str, Any], TestClient]]:
    """Team blue: Ada finishes over three days, Bob stops on day one, Cyd fails the quiz twice,
    Dan never moves (placed ten days before the end), Eve never signs in. Team red: Rex."""
    people: dict[str, tuple[dict[str, Any], TestClient]] = {}
    at(app, -8 * DAY)
    for name, team in [("Dan", "blue"), ("Ada", "blue"), ("Bob", "blue"), ("Cyd", "blue")]:
        if name == "Ada":
            at(app, 0)
        people[name] = app.learner(name, team)
        assert people[name][1].get("/api/learner").status_code == 200  # placed on 'lire'
    people["Rex"] = app.learner("Rex", "red")
    people["Rex"][1].get("/api/learner")
    app.enroll("Eve", "blue")
    for seconds, name, action in [
        (30, "Cyd", "lire"),  # 30 s on 'lire'
        (40, "Cyd", "quiz-wrong"),
        (60, "Ada", "lire"),  # 60 s
        (120, "Ada", "quiz-wrong"),
        (120, "Bob", "lire"),  # 120 s
        (150, "Bob", "quiz-right"),  # 30 s on 'quiz', first try
        (180, "Ada", "quiz-right"),  # 120 s on 'quiz', second try
        (1000, "Rex", "lire"),
        (1010, "Rex", "quiz-right"),
        (DAY + 300, "Ada", "pratique"),  # 86,520 s
        (2 * DAY + 50, "Cyd", "quiz-wrong"),
        (2 * DAY + 400, "Ada", "fin"),  # 86,500 s
    ]:
        at(app, seconds)
        act(people[name][1], action)
    at(app, 2 * DAY + 600)
    return people


def get(app: Cohort, path: str) -> httpx.Response:
    response = app.client.get(path, headers=app.admin())
    assert response.status_code == 200, response.text
    return response


def table(response: httpx.Response) -> list[dict[str, str]]:
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf"), "a BOM, for spreadsheet programs"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


# -- figures -----------------------------------------------------------------------------------


def test_insight_team_figures_are_exact(app: Cohort) -> None:
    scenario(app)
    body = get(app, "/api/admin/insight?teamId=blue").json()
    version = body["course"]["version"]
    assert body["course"] == {"title": "Suivi", "version": version, "label": "v1", "steps": 4}
    assert (body["teamId"], body["generatedAt"], body["stallDays"]) == (
        "blue",
        "2026-11-26T09:10:00.000Z",
        7,
    )
    assert (body["learners"], body["notStarted"], body["finished"], body["elsewhere"]) == (
        5,
        1,
        1,
        0,
    )
    figures = [
        (
            s["id"],
            s["kind"],
            s["module"],
            s["onStep"],
            s["stalled"],
            s["completed"],
            s["completedShare"],
            s["medianSeconds"],
            s["quiz"],
        )
        for s in body["steps"]
    ]
    assert figures == [
        ("lire", "lesson", "M1", 1, 1, 3, 0.6, 60.0, None),  # Dan stalls; 30, 60, 120 s
        ("quiz", "quiz", "M1", 1, 0, 2, 0.4, 75.0, {"tried": 3, "firstTryPassed": 1, "firstTryRate": 0.3333}),
        ("pratique", "lesson", "M2", 1, 0, 1, 0.2, 86520.0, None),
        ("fin", "lesson", "M2", 0, 0, 1, 0.2, 86500.0, None),
    ]  # fmt: skip
    assert [(s["label"], s["learners"]) for s in body["streaks"]] == [
        ("0", 3),  # Bob's one-day streak of two days ago is over; Dan and Eve never learned
        ("1", 1),  # Cyd, again today
        ("2-3", 1),  # Ada, three days in a row
        ("4-6", 0),
        ("7-13", 0),
        ("14-29", 0),
        ("30+", 0),
    ]
    assert [(v["label"], v["current"], v["learners"]) for v in body["versions"]] == [
        ("v1", True, 4)
    ]


def test_insight_teams_are_kept_apart(app: Cohort) -> None:
    scenario(app)
    red = get(app, "/api/admin/insight?teamId=red").json()
    assert red["learners"] == 1
    assert [(s["completed"], s["medianSeconds"], s["quiz"]) for s in red["steps"][:2]] == [
        (1, 1000.0, None),
        (1, 10.0, {"tried": 1, "firstTryPassed": 1, "firstTryRate": 1.0}),
    ]
    assert get(app, "/api/admin/teams").json() == {
        "teams": [{"teamId": "blue", "learners": 5}, {"teamId": "red", "learners": 1}]
    }


def test_insight_completions_record_team_version_and_time(app: Cohort) -> None:
    scenario(app)
    version = get(app, "/api/admin/versions").json()["versions"][0]["version"]
    with sqlite3.connect(app.db) as db:
        rows = db.execute(
            "SELECT l.name, c.step_id, c.team_id, c.course_version, c.seconds FROM completions c "
            "JOIN learners l ON l.id = c.learner_id WHERE l.name = 'Ada' ORDER BY c.completed_at"
        ).fetchall()
    assert rows == [
        ("Ada", "lire", "blue", version, 60.0),
        ("Ada", "quiz", "blue", version, 120.0),
        ("Ada", "pratique", "blue", version, 86520.0),
        ("Ada", "fin", "blue", version, 86500.0),
    ]


def test_insight_reset_leaves_the_funnel(app: Cohort) -> None:
    people = scenario(app)
    response = app.client.post(
        "/api/admin/reset", json={"userId": people["Ada"][0]["userId"]}, headers=app.admin()
    )
    assert response.status_code == 200
    steps = get(app, "/api/admin/insight?teamId=blue").json()["steps"]
    assert [(s["onStep"], s["completed"], s["medianSeconds"]) for s in steps] == [
        (2, 2, 75.0),  # Dan and Ada; Bob 120 s and Cyd 30 s
        (1, 1, 30.0),
        (1, 0, None),
        (0, 0, None),
    ]


LONG = 32  # timed steps: more than a statement's worth of UNION ALL terms ever was
PACES = {"Ada": 0, "Bob": 100, "Cyd": 30, "Dan": 50}  # seconds on step n: n + pace


def make_long_course(root: Path, steps: int) -> Path:
    """One module of `steps` text lessons, l01, l02..."""
    content = root / "content"
    names = [f"l{n:02d}" for n in range(1, steps + 1)]
    write(content / "course.yaml", "title: Long\nlanguage: fr\nmodules: [m1]\n")
    files = ", ".join(f"{name}.md" for name in names)
    write(content / "modules/m1/module.yaml", f"id: M1\ntitle: Un\nsteps: [{files}]\n")
    for name in names:
        write(content / f"modules/m1/{name}.md", f"---\nid: {name}\ntitle: {name}\n---\nTexte.\n")
    return content


def test_insight_medians_of_many_steps_are_exact(tmp_path: Path) -> None:
    """32 timed steps on the local backend, which holds D1's limits (5 terms a compound SELECT,
    100 parameters): Ada, Bob and Cyd finish them all, Dan the first half."""
    with cohort(make_long_course(tmp_path / "course", LONG), tmp_path) as app:
        events: list[tuple[float, TestClient, str]] = []
        at(app, 0)
        for name, pace in PACES.items():
            browser = app.learner(name, "long")[1]
            assert browser.get("/api/learner").status_code == 200  # placed on l01 at 0 s
            done = LONG // 2 if name == "Dan" else LONG
            finished = 0.0
            for n in range(1, done + 1):
                finished += n + pace
                events.append((finished, browser, f"l{n:02d}"))
        for seconds, browser, step in sorted(events, key=lambda e: e[0]):
            at(app, seconds)
            act(browser, step)
        steps = get(app, "/api/admin/insight?teamId=long").json()["steps"]
    assert [(s["id"], s["completed"], s["medianSeconds"]) for s in steps] == [
        (f"l{n:02d}", 4, n + 40.0) if n <= LONG // 2 else (f"l{n:02d}", 3, n + 30.0)
        for n in range(1, LONG + 1)
    ]  # 4 times n, n + 30, n + 50, n + 100: (n + 30 + n + 50) / 2; 3 times: n + 30


# -- course versions ---------------------------------------------------------------------------


def publish_second_version(app: Cohort, tmp_path: Path) -> str:
    """Add a step 'bonus' at the end and publish the result, as `python build.py publish`."""
    edit(
        app.content,
        "modules/m2/module.yaml",
        "[pratique.md, fin.md]",
        "[pratique.md, fin.md, bonus.md]",
    )
    write(app.content / "modules/m2/bonus.md", "---\nid: bonus\ntitle: Bonus\n---\nTexte.\n")
    config = BuildConfig.make(
        content=app.content, out=tmp_path / "v2", private=tmp_path / "v2-private", disk_cache=False
    )
    build(config)
    response = app.client.post(
        "/api/admin/publish",
        content=(config.private / "manifest.json").read_bytes(),
        headers={**app.admin(), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    version: str = response.json()["version"]
    return version


def test_insight_versions_say_which_version_each_learner_followed(
    app: Cohort, tmp_path: Path
) -> None:
    people = scenario(app)
    first = get(app, "/api/admin/versions").json()["versions"][0]["version"]
    app.clock.advance(minutes=5)
    second = publish_second_version(app, tmp_path)
    bob = people["Bob"][1]
    assert bob.get("/api/learner").json()["courseVersion"] == second  # placed on v2
    act(bob, "pratique")
    versions = get(app, "/api/admin/versions").json()["versions"]
    assert versions == [
        {
            "seq": 2,
            "label": "v2",
            "version": second,
            "publishedAt": "2026-11-26T09:15:00.000Z",
            "current": True,
            "learners": 1,  # Bob
        },
        {
            "seq": 1,
            "label": "v1",
            "version": first,
            "publishedAt": "2026-11-24T09:00:00.000Z",
            "current": False,
            "learners": 4,  # Ada, Cyd, Dan (blue) and Rex (red); Eve is not placed
        },
    ]
    body = get(app, "/api/admin/insight?teamId=blue").json()
    assert (body["course"]["label"], body["course"]["steps"]) == ("v2", 5)
    assert [(v["label"], v["learners"]) for v in body["versions"]] == [("v1", 3), ("v2", 1)]
    assert [s["id"] for s in body["steps"]][-1] == "bonus"
    learners = table(get(app, "/api/admin/insight.csv?teamId=blue&table=learners"))
    assert [
        (
            r["name"],
            r["courseVersion"],
            r["courseVersionLabel"],
            r["versionsFollowed"],
            r["currentStep"],
            r["completed"],
            r["streak"],
        )
        for r in learners
    ] == [
        ("Ada", first, "v1", "v1", "(finished)", "4", "3"),
        ("Bob", second, "v2", "v1 v2", "fin", "3", "1"),
        ("Cyd", first, "v1", "v1", "quiz", "1", "1"),
        ("Dan", first, "v1", "", "lire", "0", "0"),
        ("Eve", "", "", "", "(not started)", "0", "0"),
    ]
    listed = get(app, "/api/admin/learners?teamId=blue").json()
    assert listed["teamId"] == "blue"
    assert [{k: str(v) for k, v in r.items()} for r in listed["learners"]] == learners
    assert list(learners[0]) == [
        "userId",
        "name",
        "email",
        "teamId",
        "courseVersion",
        "courseVersionLabel",
        "versionsFollowed",
        "currentStep",
        "completed",
        "xp",
        "streak",
        "openSince",
    ]


def test_insight_cli_export_says_the_versions(
    app: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import build as cli

    people = scenario(app)
    app.clock.advance(minutes=5)
    second = publish_second_version(app, tmp_path)
    act(people["Bob"][1], "pratique")
    assert cli.main(["learners", "export", "--db", str(app.db)]) == 0
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert (rows["Bob"]["courseVersion"], rows["Bob"]["versionsFollowed"]) == (second, "v1 v2")
    assert rows["Ada"]["versionsFollowed"] == "v1"  # the export places everyone on v2 first
    assert rows["Eve"]["versionsFollowed"] == ""


# -- CSV ---------------------------------------------------------------------------------------


def test_insight_csv_tables(app: Cohort) -> None:
    scenario(app)
    steps = table(get(app, "/api/admin/insight.csv?teamId=blue"))
    assert list(steps[0]) == STEPS_HEADER
    assert [list(r.values())[2:] for r in steps] == [
        ["1", "lire", "Lire", "lesson", "M1", "1", "1", "3", "0.6", "60.0", "", "", ""],
        ["2", "quiz", "Le quiz", "quiz", "M1", "1", "0", "2", "0.4", "75.0", "3", "1", "0.3333"],
        ["3", "pratique", "Pratique", "lesson", "M2", "1", "0", "1", "0.2", "86520.0", "", "", ""],
        ["4", "fin", "Fin", "lesson", "M2", "0", "0", "1", "0.2", "86500.0", "", "", ""],
    ]
    assert {r["teamId"] for r in steps} == {"blue"}
    response = get(app, "/api/admin/insight.csv?teamId=blue&table=streaks")
    assert response.headers["content-disposition"] == (
        'attachment; filename="insight-blue-streaks.csv"'
    )
    assert [(r["streak"], r["min"], r["max"], r["learners"]) for r in table(response)] == [
        ("0", "0", "0", "3"),
        ("1", "1", "1", "1"),
        ("2-3", "2", "3", "1"),
        ("4-6", "4", "6", "0"),
        ("7-13", "7", "13", "0"),
        ("14-29", "14", "29", "0"),
        ("30+", "30", "", "0"),
    ]


def test_insight_csv_never_hands_a_spreadsheet_a_formula(app: Cohort) -> None:
    app.enroll('=HYPERLINK("http://evil.example","x")', "x/../y")
    response = get(app, "/api/admin/insight.csv?teamId=x/../y&table=learners")
    assert response.headers["content-disposition"] == (
        'attachment; filename="insight-x_.._y-learners.csv"'
    )
    assert table(response)[0]["name"] == '\'=HYPERLINK("http://evil.example","x")'


# -- access and bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_insight_needs_the_admin_token(app: Cohort, path: str, headers: dict[str, str]) -> None:
    app.enroll("Ada", "blue")
    assert_error(app.client.get(path, headers=headers), 401, "unauthorized")


def test_insight_is_off_without_an_admin_token(tmp_path: Path) -> None:
    with cohort(make_course(tmp_path / "course"), tmp_path, admin_token=None) as running:
        for path in ROUTES:
            response = running.client.get(path, headers={"Authorization": "Bearer x"})
            assert_error(response, 403, "admin_disabled")


@pytest.mark.parametrize(
    "query, status, code",
    [
        ("", 422, "invalid"),
        ("?teamId=", 422, "invalid"),
        ("?teamId=%20%20", 422, "invalid"),
        ("?teamId=" + "b" * 65, 422, "invalid"),
        ("?teamId=nobody", 404, "unknown_team"),
        ("?teamId=blue&table=everything", 422, "invalid"),
    ],
)
def test_insight_refuses_bad_parameters(app: Cohort, query: str, status: int, code: str) -> None:
    app.enroll("Ada", "blue")
    for path in ("/api/admin/insight", "/api/admin/insight.csv", "/api/admin/learners"):
        if "table=" in query and path != "/api/admin/insight.csv":
            continue  # only the CSV has tables
        assert_error(app.client.get(path + query, headers=app.admin()), status, code)


def test_insight_empty_cohort(app: Cohort) -> None:
    assert get(app, "/api/admin/teams").json() == {"teams": []}
    versions = get(app, "/api/admin/versions").json()["versions"]
    assert [(v["label"], v["current"], v["learners"]) for v in versions] == [("v1", True, 0)]


# -- bounded reads -----------------------------------------------------------------------------


def test_insight_queries_read_one_team_through_indexes(app: Cohort) -> None:
    """No statement of a team's insight scans a table: each one SEARCHes by the team."""
    scenario(app)
    statements = [
        sql.team_learners("blue"),
        sql.team_steps("blue"),
        sql.step_times("blue"),
        sql.team_completed_versions("blue"),
    ]
    with sqlite3.connect(app.db) as db:
        for statement in statements:
            plan = [
                row[3]
                for row in db.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.params)
            ]
            tables = [
                line
                for line in plan
                if line.startswith(("SCAN", "SEARCH")) and "(subquery" not in line
            ]
            assert all(line.startswith("SEARCH") for line in tables), plan
            assert any("team_id=?" in line for line in tables), plan
        times = sql.step_times("blue")
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + times.sql, times.params)]
        assert plan == ["SEARCH completions USING COVERING INDEX completions_team (team_id=?)"]
        found = {
            step: sorted(float(s) for s in seconds.split(","))
            for step, seconds in db.execute(times.sql, times.params)
        }
    assert found == {
        "lire": [30.0, 60.0, 120.0],
        "quiz": [30.0, 120.0],
        "pratique": [86520.0],
        "fin": [86500.0],
    }


def test_insight_step_times_give_each_time_back_exactly(tmp_path: Path) -> None:
    """The times travel as text ('%!.17g'): every double comes back bit for bit."""
    seconds = EXACT_SECONDS
    db = SQLiteDatabase(tmp_path / "db.sqlite3")
    writes = timed_completions(seconds)
    asyncio.run(db.batch(writes))
    rows = asyncio.run(db.execute(sql.step_times("blue"))).rows
    db.close()
    assert [row["step_id"] for row in rows] == ["lire"]
    assert sorted(float(s) for s in rows[0]["seconds"].split(",")) == sorted(seconds)


def test_insight_counters_match_the_rows_they_count(app: Cohort) -> None:
    """team_steps, kept by triggers, equals what the completions and attempts say."""
    people = scenario(app)
    app.client.post(
        "/api/admin/reset", json={"userId": people["Bob"][0]["userId"]}, headers=app.admin()
    )
    with sqlite3.connect(app.db) as db:
        kept = db.execute(
            "SELECT team_id, step_id, done, timed, tried, passed FROM team_steps "
            "WHERE done > 0 OR tried > 0 ORDER BY 1, 2"
        ).fetchall()
        counted = db.execute(
            "SELECT team_id, step_id, SUM(done), SUM(timed), SUM(tried), SUM(passed) FROM ("
            "SELECT team_id, step_id, 1 AS done, seconds IS NOT NULL AS timed, 0 AS tried, "
            "0 AS passed FROM completions UNION ALL "
            "SELECT l.team_id, a.step_id, 0, 0, 1, a.passed FROM quiz_attempts a "
            "JOIN learners l ON l.id = a.learner_id WHERE a.id = (SELECT MIN(id) "
            "FROM quiz_attempts b WHERE b.learner_id = a.learner_id AND b.step_id = a.step_id)"
            ") GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    assert kept == counted
    assert ("blue", "quiz", 1, 1, 3, 1) in kept, "Bob's reset took his completion, not his try"


# -- schema ------------------------------------------------------------------------------------


def test_insight_migration_fills_teams_and_counters(tmp_path: Path) -> None:
    """A database from before 0003 with learners and completions: the migration backfills."""
    before = tmp_path / "before"
    before.mkdir()
    for migration in sorted((ROOT / "migrations").glob("*.sql")):
        if migration.name < "0003":
            (before / migration.name).write_text(migration.read_text())
    db = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    migrate(db, before)
    db.executescript(
        """
        INSERT INTO learners (id, name, email, team_id, open_step, course_version, created_at)
          VALUES ('a', 'A', 'a@x', 'blue', 'quiz', 'v1', 't'), ('b', 'B', 'b@x', 'blue', NULL,
          NULL, 't'), ('c', 'C', 'c@x', 'red', 'lire', 'v1', 't');
        INSERT INTO completions (learner_id, step_id, kind, module_id, completed_at)
          VALUES ('a', 'lire', 'lesson', 'M1', 't');
        INSERT INTO quiz_attempts (learner_id, step_id, source, score, passed, perfect, answers,
          created_at) VALUES ('a', 'quiz', 'builtin', 0, 0, 0, '[]', 't'),
          ('a', 'quiz', 'builtin', 1, 1, 1, '[]', 't'),
          ('c', 'lire', 'builtin', 1, 1, 1, '[]', 't');
        """
    )
    assert migrate(db) == ["0003_insight.sql"]
    assert db.execute("SELECT * FROM cohort ORDER BY 1, 2").fetchall() == [
        ("blue", "", 1),
        ("blue", "v1", 1),
        ("red", "v1", 1),
    ]
    assert db.execute(
        "SELECT learner_id, team_id, course_version, seconds FROM completions"
    ).fetchall() == [("a", "blue", None, None)]
    assert db.execute("SELECT * FROM team_steps ORDER BY 1, 2").fetchall() == [
        ("blue", "lire", 1, 0, 0, 0),
        ("blue", "quiz", 0, 0, 1, 0),
        ("red", "lire", 0, 0, 1, 1),
    ]
    db.execute("UPDATE learners SET course_version = 'v2' WHERE id = 'b'")
    db.execute("UPDATE learners SET team_id = 'red' WHERE id = 'a'")
    db.execute("DELETE FROM learners WHERE id = 'c'")
    assert db.execute("SELECT * FROM cohort WHERE learners > 0 ORDER BY 1, 2").fetchall() == [
        ("blue", "v2", 1),
        ("red", "v1", 1),
    ]


# -- the admin page ----------------------------------------------------------------------------


def test_insight_admin_page_is_built_and_linked_from_no_learner_page(tmp_path: Path) -> None:
    config = BuildConfig.make(
        content=make_course(tmp_path / "course"), out=tmp_path / "site", disk_cache=False
    )
    build(config)
    page = (config.out / "admin/index.html").read_text()
    assert '<input id="admin-token" name="token" type="password"' in page
    assert "<script>" not in page and "style=" not in page, "strict CSP: no inline code"
    assert 'src="/static/admin.' in page and "noindex" in page
    for other in config.out.rglob("*.html"):
        if other.name != "index.html" or other.parent.name != "admin":
            assert "/admin" not in other.read_text(), other


def test_insight_admin_page_in_chromium(browser: Any, site: Any) -> None:
    from support.browser import page_errors, screenshot
    from support.launch import ADMIN

    for name in ("Ada", "Bob"):
        created = site.enroll(name, team="blue")
        with httpx.Client(base_url=site.url) as learner:
            learner.post("/api/session", json={"inviteToken": created["inviteToken"]})
            assert learner.get("/api/learner").status_code == 200  # placed on the first step
            if name == "Ada":  # the first video (9 s), reported whole: plausible and complete
                body = {"eventId": event(), "stepId": "som01-bienvenue", "intervals": [[0, 9]]}
                assert learner.post("/api/video-event", json=body).json()["complete"] is True
    site.enroll("Cy", team="red")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems = page_errors(page)
    try:
        page.goto(site.url + "/admin/")
        page.fill("#admin-token", "not-the-token")
        page.click("#admin-login button[type=submit]")
        page.wait_for_selector("#admin-error:not([hidden])", timeout=15_000)
        assert page.text_content("#admin-error") == "Ce jeton n'est pas accepté."
        page.fill("#admin-token", ADMIN)
        page.click("#admin-login button[type=submit]")
        page.wait_for_selector("#admin-steps tbody tr", timeout=15_000)
        assert page.input_value("#admin-team") == "blue"
        assert page.text_content("[data-fill='learners']") == "2"
        first = page.locator("#admin-steps tbody tr[data-step-id='som01-bienvenue'] td")
        cells = [" ".join(t.split()) for t in first.all_text_contents()]
        # position, module, on the step (Bob), stalled, finished by (Ada), median, first try
        assert cells[:4] == ["1", "SOM01", "1", "0"] and cells[4].startswith("1 (50")
        assert page.locator("#admin-steps caption").text_content() == "Le parcours étape par étape"
        screenshot(page, "admin-insight-1280")
        assert page.evaluate("sessionStorage.getItem('sillon-admin-token')") == ADMIN
        assert page.evaluate("localStorage.getItem('sillon-admin-token')") is None
        with page.expect_download() as downloading:
            page.click("[data-csv='steps']")
        download = downloading.value
        assert download.suggested_filename == "insight-blue-steps.csv"
        rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
        assert list(rows[0]) == STEPS_HEADER
        assert (rows[0]["stepId"], rows[0]["completed"], rows[0]["onStep"]) == (
            "som01-bienvenue",
            "1",
            "1",
        )
        page.click("#admin-learners summary")
        page.wait_for_selector("#admin-learners tbody tr", timeout=15_000)
        page.locator("#admin-learners").scroll_into_view_if_needed()
        screenshot(page, "admin-insight-learners-1280")
        ada = page.locator("#admin-learners tbody tr", has_text="Ada").locator("td")
        # open step (its title), version followed, versions of finished steps, finished, streak
        assert [" ".join(t.split()) for t in ada.all_text_contents()] == [
            "Bases de données et tables",
            "v1",
            "v1",
            "1",
            "1",
        ]
        page.select_option("#admin-team", "red")
        page.wait_for_selector("#admin-team-view[data-team='red']", timeout=15_000)
        assert page.text_content("[data-fill='learners']") == "1"
        page.reload()  # the token stays for the tab, the team in the address
        page.wait_for_selector("#admin-team-view[data-team='red']", timeout=15_000)
        page.click("#admin-sign-out")
        assert page.evaluate("sessionStorage.getItem('sillon-admin-token')") is None
        assert page.is_visible("#admin-login")
    finally:
        context.close()
    assert not problems, problems
