"""The learner's notebook API (issue 17, part 2): a note per reached step, the learner's alone,
never on a step ahead, at most 20 KB, kept after the step closes and after a reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort, assert_error
from support.journey import rows, watch_and_move_on
from support.small_course import small_cohort

from api.notes import NOTE_MAX_BYTES


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path) as running:
        yield running


def put(browser: object, step: str, text: object) -> object:
    return browser.put(f"/api/notes/{step}", json={"text": text})  # type: ignore[attr-defined]


def test_notes_on_the_open_step_and_read_back_in_path_order(app: Cohort) -> None:
    _, ada = app.learner()
    markdown = "# À retenir\n\n  - `SELECT *` lit tout\n\n<script>alert(1)</script>\n"
    saved = put(ada, "intro", markdown)
    assert saved.status_code == 200, saved.text
    assert saved.json()["stepId"] == "intro"
    assert saved.json()["bytes"] == len(markdown.encode())
    watch_and_move_on(app, ada)  # intro closes for good; quiz-1 is open
    assert put(ada, "quiz-1", "Relire les jointures").status_code == 200
    assert put(ada, "intro", markdown + "Ajout après coup.\n").status_code == 200  # closed: ok
    notes = ada.get("/api/notes").json()["notes"]
    assert [n["stepId"] for n in notes] == ["intro", "quiz-1"]
    assert notes[0]["text"] == markdown + "Ajout après coup.\n"  # as typed: spaces, HTML kept
    assert notes[0]["title"] and notes[0]["module"] == "M1"


def test_notes_never_on_a_step_ahead(app: Cohort) -> None:
    _, ada = app.learner()
    assert_error(put(ada, "quiz-1", "la réponse ?"), 403, "step_locked")
    assert_error(put(ada, "final", "x"), 403, "step_locked")
    assert_error(put(ada, "nowhere", "x"), 404, "unknown_step")
    assert rows(app, "SELECT COUNT(*) FROM notes") == [(0,)]


def test_notes_are_the_learners_own(app: Cohort) -> None:
    _, ada = app.learner("Ada")
    _, bob = app.learner("Bob")
    assert put(ada, "intro", "secret d'Ada").status_code == 200
    assert bob.get("/api/notes").json() == {"notes": []}
    assert put(bob, "intro", "celle de Bob").status_code == 200
    assert [n["text"] for n in ada.get("/api/notes").json()["notes"]] == ["secret d'Ada"]
    refused = ada.put("/api/notes/intro", json={"text": "x", "userId": "someone"})
    assert_error(refused, 400, "identity_in_body")
    anonymous = app.client.get("/api/notes")
    assert_error(anonymous, 401, "unauthorized")
    assert_error(app.client.put("/api/notes/intro", json={"text": "x"}), 401, "unauthorized")


def test_notes_size_and_shape_are_checked_and_refusals_write_nothing(app: Cohort) -> None:
    _, ada = app.learner()
    assert put(ada, "intro", "é" * (NOTE_MAX_BYTES // 2)).status_code == 200  # 20 KB exactly
    assert_error(put(ada, "intro", "é" * (NOTE_MAX_BYTES // 2) + "x"), 413, "note_too_long")
    assert_error(put(ada, "intro", 42), 422, "invalid")
    lone = b'{"text": "\\ud800"}'  # a lone surrogate, as JSON allows it to be written
    assert_error(ada.put("/api/notes/intro", content=lone, headers=JSON), 422, "invalid")
    assert_error(ada.put("/api/notes/intro", json={}), 422, "invalid")
    assert_error(ada.put("/api/notes/intro", content=b"{", headers=JSON), 400, "invalid_json")
    assert rows(app, "SELECT length(text) FROM notes") == [(NOTE_MAX_BYTES // 2,)]


def test_notes_empty_text_deletes_and_a_reset_keeps_them_editable(app: Cohort) -> None:
    created, ada = app.learner()
    watch_and_move_on(app, ada)
    assert put(ada, "quiz-1", "à garder").status_code == 200
    assert put(ada, "intro", "à effacer").status_code == 200
    assert put(ada, "intro", "  \n").status_code == 200  # blank: the note goes
    assert [n["stepId"] for n in ada.get("/api/notes").json()["notes"]] == ["quiz-1"]
    reset = app.client.post(
        "/api/admin/reset", json={"userId": created["userId"]}, headers=app.admin()
    )
    assert reset.status_code == 200, reset.text
    # Back on the first step: quiz-1 is ahead again, but the note there is still the learner's.
    assert put(ada, "quiz-1", "à garder, relu").status_code == 200
    assert [n["text"] for n in ada.get("/api/notes").json()["notes"]] == ["à garder, relu"]


JSON = {"Content-Type": "application/json"}


def test_notes_the_teacher_sees_how_many_never_what(app: Cohort) -> None:
    _, ada = app.learner("Ada")
    app.learner("Bob")
    watch_and_move_on(app, ada)
    assert put(ada, "intro", "mon idée secrète").status_code == 200
    assert put(ada, "quiz-1", "une autre").status_code == 200
    listed = app.client.get("/api/admin/learners?teamId=t1", headers=app.admin()).json()
    assert {(r["name"], r["notes"]) for r in listed["learners"]} == {("Ada", 2), ("Bob", 0)}
    sheet = app.client.get(
        "/api/admin/insight.csv?teamId=t1&table=learners", headers=app.admin()
    ).text
    assert sheet.splitlines()[0].rstrip().endswith(",notes,stalled,lastReminded")
    assert "secrète" not in sheet and "une autre" not in sheet


def test_notes_pdf_has_every_note_as_text(app: Cohort) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    _, ada = app.learner("Ada")
    assert put(ada, "intro", "# Titre\n\n<b>pas du HTML</b> & SELECT *").status_code == 200
    pdf = ada.get("/api/notes.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'attachment; filename="mes-notes.pdf"'
    text = PdfReader(BytesIO(pdf.content)).pages[0].extract_text()
    assert "Mon carnet de notes" in text and "Introduction" in text
    assert "<b>pas du HTML</b> & SELECT *" in text  # as typed, never rendered
    assert_error(app.client.get("/api/notes.pdf"), 401, "unauthorized")


def test_notes_are_exported_with_the_learners_data(app: Cohort) -> None:
    _, ada = app.learner("Ada")
    _, bob = app.learner("Bob")
    assert put(ada, "intro", "ma note\n").status_code == 200
    assert put(bob, "intro", "celle de Bob").status_code == 200
    watch_and_move_on(app, ada)
    answer = ada.get("/api/learner/export")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith('attachment; filename="sillon-u_')
    data = answer.json()
    assert data["profile"]["name"] == "Ada" and data["profile"]["email"].startswith("ada-")
    assert [(n["stepId"], n["text"]) for n in data["notes"]] == [("intro", "ma note\n")]
    assert [c["stepId"] for c in data["completions"]] == ["intro"]
    assert data["videoViews"][0]["intervals"] == [[0, 120]]  # JSON, not text
    assert data["sessions"] and "tokenHash" not in data["sessions"][0]
    assert "celle de Bob" not in answer.text and "token" not in answer.text.lower()
    assert_error(app.client.get("/api/learner/export"), 401, "unauthorized")
    statuses = [ada.get("/api/learner/export").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # 5 at once, then one a minute
