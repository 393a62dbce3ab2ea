"""The teacher's nudge (issue 17, part 3) against a real SMTP server on 127.0.0.1 (aiosmtpd):
only stalled learners are reminded, each at most once a day (also when two teachers click at
once), with a fresh one-time sign-in link that expires; every reminder is logged, a failed one
does not count; the CLI does the same."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.client import Cohort, assert_error, in_flight
from support.journey import rows
from support.launch import free_port
from support.signin import Inbox, body_of, link_in, open_link, smtp_server
from support.small_course import small_cohort

import build as cli
from api.app import Api
from api.mail import SmtpConfig
from api.sqlite import SQLiteDatabase


def smtp_config(port: int) -> SmtpConfig | None:
    return SmtpConfig.from_env(
        {"SILLON_SMTP_URL": f"smtp://127.0.0.1:{port}", "SILLON_SMTP_FROM": "Prof <p@example.org>"}
    )


@pytest.fixture
def mailing(tmp_path: Path) -> Iterator[tuple[Cohort, Inbox, int]]:
    with smtp_server() as (inbox, port), small_cohort(tmp_path, smtp=smtp_config(port)) as app:
        yield app, inbox, port


def stalled_class(app: Cohort) -> dict[str, str]:
    """Ada and Bob on the first step for 8 days (stalled), Cleo there since today, Dan never
    signed in: their ids."""
    ids = {}
    for name in ("Ada", "Bob"):
        created, browser = app.learner(name)
        assert browser.get("/api/learner").status_code == 200  # placed on the first step
        ids[name] = created["userId"]
    app.clock.advance(days=8)
    created, browser = app.learner("Cleo")
    browser.get("/api/learner")
    ids["Cleo"] = created["userId"]
    ids["Dan"] = app.enroll("Dan")["userId"]
    return ids


def remind(app: Cohort, *ids: str) -> dict[str, Any]:
    answer = app.client.post("/api/admin/nudges", json={"userIds": list(ids)}, headers=app.admin())
    assert answer.status_code == 200, answer.text
    return {r["userId"]: (r["status"], r.get("reason")) for r in answer.json()["results"]}


def test_nudges_only_stalled_learners_get_a_working_link(
    mailing: tuple[Cohort, Inbox, int],
) -> None:
    app, inbox, _ = mailing
    ids = stalled_class(app)
    listed = app.client.get("/api/admin/learners?teamId=t1", headers=app.admin()).json()
    assert {r["name"]: r["stalled"] for r in listed["learners"]} == {
        "Ada": True,
        "Bob": True,
        "Cleo": False,
        "Dan": False,
    }
    results = remind(app, ids["Ada"], ids["Cleo"], ids["Dan"], "u_nobody", ids["Ada"])
    assert results == {
        ids["Ada"]: ("sent", None),
        ids["Cleo"]: ("skipped", "not_stalled"),
        ids["Dan"]: ("skipped", "not_stalled"),
        "u_nobody": ("skipped", "unknown_learner"),
    }
    assert inbox.arrived.wait(10)
    (message,) = inbox.messages
    assert message["To"].startswith("ada-") and message["From"] == "Prof <p@example.org>"
    assert "Introduction" in body_of(message)  # the step Ada is stalled on, by its title
    token = link_in(message)
    assert open_link(app, token)[0].status_code == 200
    assert_error(open_link(app, token)[0], 410, "link_used")
    assert rows(
        app, "SELECT kind FROM signin_links WHERE token_hash IS NOT NULL AND kind = 'nudge'"
    ) == [("nudge",)]
    log = app.client.get("/api/admin/nudges?teamId=t1", headers=app.admin()).json()["nudges"]
    assert [(n["name"], n["stepId"], n["sentBy"], n["status"]) for n in log] == [
        ("Ada", "intro", "admin", "sent")
    ]
    listed = app.client.get("/api/admin/learners?teamId=t1", headers=app.admin()).json()
    reminded = {r["name"]: r["lastReminded"] for r in listed["learners"]}
    assert reminded["Ada"] == log[0]["sentAt"] and reminded["Bob"] == ""


def test_nudges_once_a_day_even_when_two_teachers_click(
    mailing: tuple[Cohort, Inbox, int],
) -> None:
    app, inbox, _ = mailing
    ids = stalled_class(app)
    call = ({}, app.admin(), "/api/admin/nudges", {"userIds": [ids["Bob"]]})
    answers = in_flight(app, [call, call], yielding=True)
    statuses = sorted(a.json()["results"][0]["status"] for a in answers)
    assert statuses == ["sent", "skipped"]
    assert len(inbox.messages) == 1
    app.clock.advance(hours=23, minutes=59)
    assert remind(app, ids["Bob"]) == {ids["Bob"]: ("skipped", "reminded_today")}
    app.clock.advance(minutes=2)
    assert remind(app, ids["Bob"]) == {ids["Bob"]: ("sent", None)}
    assert len(inbox.messages) == 2
    early = link_in(inbox.messages[0])
    app.clock.advance(days=7)  # the first link was made 7 days and a minute ago: it ended
    assert_error(open_link(app, early)[0], 410, "link_expired")


def test_nudges_a_failed_send_is_logged_and_does_not_count(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    with small_cohort(tmp_path, smtp=smtp_config(closed)) as app:
        ids = stalled_class(app)
        first = remind(app, ids["Ada"])
        assert first[ids["Ada"]][0] == "failed"
        again = remind(app, ids["Ada"])
        assert again[ids["Ada"]][0] == "failed"  # tried again: a failure is not a reminder
        assert rows(app, "SELECT status FROM nudges") == [("failed",), ("failed",)]


def test_nudges_refusals_write_nothing(tmp_path: Path) -> None:
    with small_cohort(tmp_path) as app:  # no SMTP
        ids = stalled_class(app)
        body = {"userIds": [ids["Ada"]]}
        assert_error(app.client.post("/api/admin/nudges", json=body), 401, "unauthorized")
        assert_error(
            app.client.post("/api/admin/nudges", json=body, headers=app.admin()),
            503,
            "email_unavailable",
        )
        for bad in (
            {},
            {"userIds": []},
            {"userIds": "u_1"},
            {"userIds": [1]},
            {"userIds": ["x"] * 201},
        ):
            assert_error(
                app.client.post("/api/admin/nudges", json=bad, headers=app.admin()), 422, "invalid"
            )
        assert_error(app.client.get("/api/admin/nudges", headers=app.admin()), 422, "invalid")
        assert rows(app, "SELECT COUNT(*) FROM nudges") == [(0,)]
        assert rows(app, "SELECT COUNT(*) FROM signin_links WHERE kind = 'nudge'") == [(0,)]


def test_nudges_cli_reminds_a_teams_stalled_learners(
    mailing: tuple[Cohort, Inbox, int], monkeypatch: Any, capsys: Any
) -> None:
    app, inbox, port = mailing
    stalled_class(app)
    monkeypatch.setenv("SILLON_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("SILLON_SMTP_FROM", "Prof <p@example.org>")
    # The command's API on the cohort's clock (8 days on), as the server's.
    monkeypatch.setattr(
        "ops.learners._api",
        lambda settings: Api(settings, SQLiteDatabase(settings.db_path), app.clock),
    )
    assert cli.main(["learners", "nudge", "--team", "t1", "--db", str(app.db)]) == 0
    printed = capsys.readouterr()
    assert sorted(printed.out.split()) == sorted(["sent", "Ada", "sent", "Bob"])
    assert "2 reminder(s) sent" in printed.err
    assert sorted(m["To"].split("-")[0] for m in inbox.messages) == ["ada", "bob"]
    assert rows(app, "SELECT DISTINCT sent_by FROM nudges") == [("cli",)]
    assert cli.main(["learners", "nudge", "--team", "t1", "--db", str(app.db)]) == 0
    assert "reminded_today" in capsys.readouterr().out
    monkeypatch.delenv("SILLON_SMTP_URL")
    assert cli.main(["learners", "nudge", "--team", "t1", "--db", str(app.db)]) == 2
    assert "SILLON_SMTP_URL" in capsys.readouterr().err


def test_nudges_a_send_abandoned_midway_does_not_block_the_day(
    mailing: tuple[Cohort, Inbox, int],
) -> None:
    """A claim left 'sending' (the process died while mailing) blocks others for 10 minutes,
    not for the day."""
    app, inbox, _ = mailing
    ids = stalled_class(app)
    with sqlite3.connect(app.db) as db:
        now = app.clock().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        db.execute(
            "INSERT INTO nudges (id, learner_id, step_id, sent_at, sent_by, status) "
            "VALUES ('dead', ?, 'intro', ?, 'admin', 'sending')",
            (ids["Ada"], now),
        )
    assert remind(app, ids["Ada"]) == {ids["Ada"]: ("skipped", "reminded_today")}
    app.clock.advance(minutes=11)
    assert remind(app, ids["Ada"]) == {ids["Ada"]: ("sent", None)}
    assert len(inbox.messages) == 1
