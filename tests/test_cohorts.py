"""Cohorts on databases of their own (SILLON_COHORTS; api/cohorts.py), through the public HTTP
API on two real SQLite files: a token names its cohort and opens nothing in another, each
learner's rows are in their cohort's file alone, admin calls name their cohort, publishing and
health reach every cohort."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.certificates import finish
from support.certified import issuer_key
from support.client import assert_error, event
from support.clock import ADMIN
from support.cohorts import CohortOf, column, contents, two_cohorts
from support.journey import finish_module_one
from support.signin import Inbox, body_of, smtp_server

from api.mail import SmtpConfig
from api.settings import Settings

Pair = tuple[CohortOf, CohortOf]
BEARER = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    with two_cohorts(tmp_path, issuer_key=issuer_key()) as running:
        yield running


def stranger(app: CohortOf, cookie: str) -> TestClient:
    """A browser holding a session cookie of its own making."""
    browser = TestClient(app.client.app, base_url="http://testserver")
    browser.cookies.set("sillon_session", cookie)
    return browser


def learner_ids(db: Path) -> set[str]:
    """Every learner id any table of the file holds."""
    with sqlite3.connect(db) as connection:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master")]
        found: set[str] = set()
        for table in tables:
            names = [r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')]
            if "learner_id" in names:
                found |= {r[0] for r in connection.execute(f'SELECT learner_id FROM "{table}"')}
        return found | {r[0] for r in connection.execute("SELECT id FROM learners")}


def test_cohorts_refuse_a_session_renamed_to_another_cohort(pair: Pair) -> None:
    spring, autumn = pair
    autumn.learner("Bob")  # autumn has learners and sessions of its own
    _, browser = spring.learner("Ada")
    cookie = browser.cookies["sillon_session"]
    assert cookie.startswith("spring.")
    random = cookie.removeprefix("spring.")
    before = contents(spring.db), contents(autumn.db)
    for forged in ("autumn." + random, "winter." + random, random):
        thief = stranger(spring, forged)
        assert_error(thief.get("/api/learner"), 401, "unauthorized")
        lesson = {"eventId": event(), "stepId": "intro", "intervals": [[0, 10]]}
        assert_error(thief.post("/api/video-event", json=lesson), 401, "unauthorized")
        assert_error(thief.get("/api/gate?path=steps/intro.html"), 401, "unauthorized")
    invite = spring.enroll("Cy")["inviteToken"]
    before = contents(spring.db), contents(autumn.db)
    renamed = "autumn." + invite.removeprefix("spring.")
    assert_error(thief.post("/api/session", json={"inviteToken": renamed}), 401, "bad_invite")
    assert (contents(spring.db), contents(autumn.db)) == before  # nothing written anywhere
    assert browser.get("/api/learner").json()["name"] == "Ada"  # the real one still works
    assert thief.post("/api/session", json={"inviteToken": invite}).status_code == 200


def test_cohorts_keep_each_learner_in_their_own_database(pair: Pair) -> None:
    spring, autumn = pair
    ada, ada_browser = spring.learner("Ada", team="t1")
    bob, bob_browser = autumn.learner("Bob", team="t1")
    assert ada["inviteToken"].startswith("spring.") and bob["inviteToken"].startswith("autumn.")
    assert ada["inviteUrl"].endswith("/join/#" + ada["inviteToken"])
    finish_module_one(spring, ada_browser)
    finish_module_one(autumn, bob_browser)
    assert learner_ids(spring.db) == {ada["userId"]}
    assert learner_ids(autumn.db) == {bob["userId"]}
    assert not (spring.db.parent / "sillon.sqlite3").exists()  # SILLON_DB only names the folder
    for app, who, browser in ((spring, ada, ada_browser), (autumn, bob, bob_browser)):
        mine = browser.get("/api/learner").json()
        assert (mine["userId"], mine["currentStep"]["id"]) == (who["userId"], "texte")
        board = browser.get("/api/leaderboard").json()["entries"]
        assert [(e["userId"], e["me"]) for e in board] == [(who["userId"], True)]
        admin_board = app.client.get("/api/leaderboard?teamId=t1", headers=app.admin()).json()
        assert [e["userId"] for e in admin_board["entries"]] == [who["userId"]]
        insight = app.client.get("/api/admin/insight?teamId=t1", headers=app.admin()).json()
        assert insight["learners"] == 1
        assert {s["id"]: s["completed"] for s in insight["steps"]}["quiz-1"] == 1


def test_cohorts_admin_calls_name_their_cohort(pair: Pair) -> None:
    spring, autumn = pair
    before = contents(spring.db), contents(autumn.db)
    body = {"name": "Ada", "email": "ada@example.org", "teamId": "t1"}
    refused = spring.client.post("/api/admin/learners", json=body, headers=BEARER)
    assert_error(refused, 422, "cohort_required")
    assert refused.json()["error"]["message"] == (
        "Name the cohort: the X-Sillon-Cohort header or ?cohort= (one of spring, autumn)."
    )
    unknown = {**BEARER, "X-Sillon-Cohort": "winter"}
    assert_error(
        spring.client.post("/api/admin/learners", json=body, headers=unknown), 422, "unknown_cohort"
    )
    for path in ("/api/admin/teams", "/api/xapi/statements", "/api/leaderboard?teamId=t1"):
        assert_error(spring.client.get(path, headers=BEARER), 422, "cohort_required")
    assert (contents(spring.db), contents(autumn.db)) == before
    query = spring.client.post("/api/admin/learners?cohort=autumn", json=body, headers=BEARER)
    assert query.status_code == 201 and query.json()["inviteToken"].startswith("autumn.")
    assert column(autumn.db, "SELECT email FROM learners") == ["ada@example.org"]
    assert column(spring.db, "SELECT email FROM learners") == []
    # The same address may be enrolled in another cohort: each database is its own.
    assert (
        spring.client.post("/api/admin/learners", json=body, headers=spring.admin()).status_code
        == 201
    )


def test_cohorts_publish_reaches_every_database(pair: Pair, tmp_path: Path) -> None:
    spring, autumn = pair
    built = json.loads((tmp_path / "private/manifest.json").read_text(encoding="utf-8"))
    versions = "SELECT version FROM course_versions ORDER BY seq"
    assert column(spring.db, versions) == column(autumn.db, versions) == [built["version"]]
    manifest = json.dumps({**built, "version": "republished"})
    published = spring.client.post("/api/admin/publish", content=manifest, headers=BEARER)
    assert published.status_code == 201, published.text
    assert published.json() == {"version": "republished", "cohorts": ["spring", "autumn"]}
    assert (
        column(spring.db, versions)
        == column(autumn.db, versions)
        == [built["version"], "republished"]
    )
    one = json.dumps({**built, "version": "spring-only"})
    assert (
        spring.client.post("/api/admin/publish", content=one, headers=spring.admin()).status_code
        == 201
    )
    assert column(spring.db, versions)[-1] == "spring-only"
    assert column(autumn.db, versions)[-1] == "republished"
    bad = spring.client.post("/api/admin/publish", content=b"{}", headers=BEARER)
    assert_error(bad, 422, "invalid_manifest")


def test_cohorts_health_answers_for_every_cohort(pair: Pair) -> None:
    spring, _ = pair
    answer = spring.client.get("/api/health")
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "database": "sqlite", "cohorts": ["spring", "autumn"]}


def test_cohorts_tally_and_certificates_stay_in_their_cohort(pair: Pair) -> None:
    spring, autumn = pair
    _, ada_browser = spring.learner("Ada")
    bob, bob_browser = autumn.learner("Bob")
    finish(spring, ada_browser)  # the Tally webhook finds each learner's cohort by its field
    finish(autumn, bob_browser)
    assert ada_browser.get("/api/certificate").status_code == 200
    certificate = bob_browser.get("/api/certificate").json()
    status = certificate["document"]["credentialStatus"]
    assert (
        status["statusListCredential"]
        == "http://testserver/api/certificates/status/1?cohort=autumn"
    )
    public = TestClient(spring.client.app, base_url="http://testserver")
    found = public.get(f"/api/certificates/{certificate['id']}")
    assert found.status_code == 200 and found.json()["credential"] == certificate["credential"]
    assert_error(public.get("/api/certificates/no-such-id"), 404, "unknown_certificate")
    assert public.get("/api/certificates/status/1?cohort=autumn").status_code == 200
    assert column(autumn.db, "SELECT learner_id FROM certificates") == [bob["userId"]]
    assert len(column(spring.db, "SELECT learner_id FROM certificates")) == 1


def test_cohorts_email_sign_in_finds_the_learners_cohort(tmp_path: Path) -> None:
    with smtp_server() as (inbox, port):
        smtp = SmtpConfig.from_env(
            {"SILLON_SMTP_URL": f"smtp://127.0.0.1:{port}", "SILLON_SMTP_FROM": "s@example.org"}
        )
        with two_cohorts(tmp_path, smtp=smtp) as (spring, autumn):
            autumn.enroll("Bob", email="bob@example.org")
            asked = spring.client.post("/api/email-link", json={"email": "bob@example.org"})
            unknown = spring.client.post("/api/email-link", json={"email": "no@example.org"})
            assert (asked.status_code, asked.json()) == (unknown.status_code, unknown.json())
            assert inbox.arrived.wait(10)
            token = only_link(inbox)
            assert token.startswith("autumn.")
            browser = TestClient(spring.client.app, base_url="http://testserver")
            opened = browser.post("/api/session", json={"inviteToken": token})
            assert opened.status_code == 200 and opened.json()["name"] == "Bob"


def only_link(inbox: Inbox) -> str:
    """The one message's link token, its cohort's name and dot included."""
    (message,) = inbox.messages
    found = re.search(r"/join/#([a-z0-9-]+\.[A-Za-z0-9_-]+)", body_of(message))
    assert found, body_of(message)
    return found.group(1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "Spring=a.db",
            "SILLON_COHORTS: 'Spring' is not a cohort name (a-z, 0-9 and -, "
            "starting with a letter, 20 characters at most)",
        ),
        ("spring=a.db,spring=b.db", "SILLON_COHORTS: cohort 'spring' is named twice"),
        ("spring=a.db,autumn=a.db", "SILLON_COHORTS: database 'a.db' is named twice"),
        ("spring=", "SILLON_COHORTS: cohort 'spring' names no database after '='"),
        (",,", "SILLON_COHORTS: no cohort in ',,'"),
        (
            "spring.x",
            "SILLON_COHORTS: 'spring.x' is not a cohort name (a-z, 0-9 and -, "
            "starting with a letter, 20 characters at most)",
        ),
    ],
)
def test_cohorts_setting_refuses_bad_values(value: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        Settings.from_env({"SILLON_COHORTS": value})
    assert str(refused.value) == message


def test_cohorts_setting_reads_databases_per_runtime() -> None:
    settings = Settings.from_env(
        {"SILLON_COHORTS": "spring=/data/s.sqlite3, autumn", "SILLON_DB": "/data/x.sqlite3"}
    )
    assert [(s.cohort, s.db_path) for s in settings.per_cohort()] == [
        ("spring", "/data/s.sqlite3"),
        ("autumn", "/data/autumn.sqlite3"),
    ]
    worker = Settings.from_env(
        {"SILLON_COHORTS": "spring=DB_A,late-autumn"}, "worker", db_path="d1:DB"
    )
    assert [s.db_path for s in worker.per_cohort()] == ["d1:DB_A", "d1:DB_LATE_AUTUMN"]
    single = Settings.from_env({})
    assert single.cohorts == () and single.per_cohort() == [single]
