"""Cohort insight in the database: each team's statements read through indexes, step times
come back bit for bit, the trigger-kept counters match the rows, and migration 0003 backfills
an older database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort
from support.conformance import EXACT_SECONDS, timed_completions
from support.course import ROOT
from support.insight import insight_cohort, scenario

from api import sql
from api.sqlite import SQLiteDatabase, migrate
from api.storage import Statement

# Learners, completions and quiz attempts as a database from before 0003 held them.
BEFORE_0003 = """
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


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with insight_cohort(tmp_path) as running:
        yield running


def query_plan(db: sqlite3.Connection, statement: Statement) -> list[str]:
    """What SQLite's EXPLAIN QUERY PLAN says of the statement."""
    return [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.params)]


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
            plan = query_plan(db, statement)
            tables = [
                line
                for line in plan
                if line.startswith(("SCAN", "SEARCH")) and "(subquery" not in line
            ]
            assert all(line.startswith("SEARCH") for line in tables), plan
            assert any("team_id=?" in line for line in tables), plan
        times = sql.step_times("blue")
        plan = query_plan(db, times)
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
    db.executescript(BEFORE_0003)
    assert migrate(db)[0] == "0003_insight.sql"  # and the later ones
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
