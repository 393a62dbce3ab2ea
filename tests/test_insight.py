"""Cohort insight and course versions: exact figures of a hand-made cohort (support.insight)
through the real API on a real SQLite file, and the CSV exports. Access and bad input:
test_insight_access.py; the statements and the schema: test_insight_storage.py; the admin page:
test_insight_page.py."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.client import Cohort, cohort
from support.course import write
from support.insight import (
    STEPS_HEADER,
    act,
    at,
    get,
    insight_cohort,
    publish_second_version,
    scenario,
    table,
)

LEARNERS_HEADER = [
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
    "lastActive",
    "notes",
    "stalled",
    "lastReminded",
]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with insight_cohort(tmp_path) as running:
        yield running


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
    assert (body["learners"], body["neverSignedIn"], body["notStarted"], body["finished"]) == (
        5,
        1,  # Eve (test_insight_day.py: never signed in is not "not started")
        0,
        1,
    )
    assert body["elsewhere"] == 0
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


@pytest.mark.slow
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


def assert_versions(app: Cohort, first: str, second: str) -> None:
    """Both versions listed, newest first, with the learners placed on each."""
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


def followed(learners: list[dict[str, str]]) -> list[tuple[str, ...]]:
    """Each learner's name, version, versions followed, open step, completions and streak."""
    keys = (
        "name",
        "courseVersion",
        "courseVersionLabel",
        "versionsFollowed",
        "currentStep",
        "completed",
        "streak",
    )
    return [tuple(row[key] for key in keys) for row in learners]


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
    assert_versions(app, first, second)
    body = get(app, "/api/admin/insight?teamId=blue").json()
    assert (body["course"]["label"], body["course"]["steps"]) == ("v2", 5)
    assert [(v["label"], v["learners"]) for v in body["versions"]] == [("v1", 3), ("v2", 1)]
    assert [s["id"] for s in body["steps"]][-1] == "bonus"
    learners = table(get(app, "/api/admin/insight.csv?teamId=blue&table=learners"))
    assert followed(learners) == [
        ("Ada", first, "v1", "v1", "(finished)", "4", "3"),
        ("Bob", second, "v2", "v1 v2", "fin", "3", "1"),
        ("Cyd", first, "v1", "v1", "quiz", "1", "1"),
        ("Dan", first, "v1", "", "lire", "0", "0"),
        ("Eve", "", "", "", "(never signed in)", "0", "0"),
    ]
    listed = get(app, "/api/admin/learners?teamId=blue").json()
    assert listed["teamId"] == "blue"
    assert [{k: str(v) for k, v in r.items()} for r in listed["learners"]] == learners
    assert list(learners[0]) == LEARNERS_HEADER


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
