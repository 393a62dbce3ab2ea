"""The author's side (issue 15): step ids as the brief writes them, one error for one mistake,
links into a handout that is still locked, and a quiet terminal."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import httpx
import pytest
from support.client import assert_error, cohort
from support.course import ENGLISH, EXAMPLE, config_for, edit, run_check, write
from support.launch import Site

from api.tally import hidden_token, read_hidden_token
from builder import handout_cache
from builder.pipeline import build as run_build

DOTTED = {"intro": "SOM01.01", "quiz-1": "SOM01.02", "texte": "SOM02.01", "final": "SOM02.02"}


def dotted(content: Path) -> Path:
    """The small course with the brief's ids: SOM01.01 ... SOM02.02."""
    for rel, old in [
        ("modules/m1/intro.md", "intro"),
        ("modules/m1/quiz.yaml", "quiz-1"),
        ("modules/m2/texte.md", "texte"),
        ("modules/m2/tally.yaml", "final"),
    ]:
        edit(content, rel, f"id: {old}\n", f"id: {DOTTED[old]}\n")
    return content


# -- 1. step ids as the brief writes them ---------------------------------------------------------


def test_authoring_dotted_ids_build_clean(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dotted(course)
    assert run_check(course, monkeypatch, capsys, "--strict") == (0, ["content: OK"])
    config = config_for(course)
    run_build(config)
    assert sorted(p.name for p in (config.out / "steps").iterdir()) == [
        "SOM01.01.html",
        "SOM01.02.html",
        "SOM02.01.html",
        "SOM02.02.html",
    ]


def test_authoring_dotted_ids_through_the_gate(course: Path, tmp_path: Path) -> None:
    """The gate reads `SOM01.01` out of `steps/SOM01.01.html` (strips only `.html`)."""
    with cohort(dotted(course), tmp_path / "run") as app:
        _, ada = app.learner("Ada")
        assert ada.get("/api/learner").json()["currentStep"]["id"] == "SOM01.01"
        assert ada.get("/steps/SOM01.01.html").status_code == 200
        assert_error(ada.get("/steps/SOM02.01.html"), 403, "step_locked")
        link = ada.get("/api/tally-link?stepId=SOM02.02")
        assert_error(link, 403, "step_locked")


def test_authoring_tally_hidden_field_carries_a_dotted_step_id() -> None:
    token = hidden_token("k" * 32, "u_0123456789abcdef", "SOM02.02", now=1_000.0)
    assert read_hidden_token("k" * 32, token, now=2_000.0) == ("u_0123456789abcdef", "SOM02.02")
    with pytest.raises(Exception, match="malformed"):
        read_hidden_token("k" * 32, "u_1..99.mac", now=2_000.0)


def test_authoring_id_with_spaces_is_one_error_with_the_dotted_form(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(course, "modules/m1/intro.md", "id: intro\n", "id: SOM 12.01\n")
    assert run_check(course, monkeypatch, capsys) == (
        1,
        [
            "content/modules/m1/intro.md:2: invalid id 'SOM 12.01': ids name files and "
            "addresses, so they hold no spaces; write 'SOM12.01'",
            "1 error(s), 0 warning(s)",
        ],
    )


def test_authoring_every_step_id_bad_is_no_cascade(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four bad ids are four errors, not also "the course has no steps"."""
    for rel, old in [
        ("modules/m1/intro.md", "intro"),
        ("modules/m1/quiz.yaml", "quiz-1"),
        ("modules/m2/texte.md", "texte"),
        ("modules/m2/tally.yaml", "final"),
    ]:
        edit(course, rel, f"id: {old}\n", f"id: {old}/1\n")
    code, lines = run_check(course, monkeypatch, capsys)
    assert code == 1 and lines[-1] == "4 error(s), 0 warning(s)", lines
    assert all("invalid id" in line for line in lines[:-1]), lines


@pytest.mark.parametrize(
    "module_yaml, expected",
    [
        (
            "id: M1\ntitle: [Premier\nsteps: [intro.md, quiz.yaml]\n",
            "content/modules/m1/module.yaml:3: invalid YAML: did not find expected ',' or ']'",
        ),
        (
            "id: M 1\ntitle: Premier\nsteps: [intro.md, quiz.yaml]\n",
            "content/modules/m1/module.yaml:1: invalid id 'M 1': ids name files and addresses, "
            "so they hold no spaces; write 'M1'",
        ),
    ],
    ids=["yaml_error", "bad_module_id"],
)
def test_authoring_unreadable_module_yaml_does_not_blame_the_handout(
    course: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    module_yaml: str,
    expected: str,
) -> None:
    """kms/M1/ belongs to the module whose module.yaml cannot be read: one error, its own."""
    write(course / "modules/m1/module.yaml", module_yaml)
    code, lines = run_check(course, monkeypatch, capsys)
    assert (code, lines) == (1, [expected, "1 error(s), 0 warning(s)"])


# -- 6. links into a handout that is still locked -------------------------------------------------

FICHE_LINK = "Voir [la fiche](../../kms/M1/fiche.md)."
INDEX_LINK = "Voir [le polycopié](../../kms/index.md)."
SCRIPT_LINK = "Voir [le script](../../kms/M1/script.sql)."


def link_warnings(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    code, lines = run_check(course, monkeypatch, capsys)
    assert code == 0, lines
    return [line for line in lines if "link to the handout" in line]


def test_authoring_link_into_handout_locked_until_the_end(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(course, "modules/m2/texte.md", "Du texte.", f"{FICHE_LINK}\n\n{SCRIPT_LINK}")
    assert link_warnings(course, monkeypatch, capsys) == [
        "content/modules/m2/texte.md:7: warning: link to the handout page 'kms/M1/fiche.md', "
        "still locked at this step: it opens at the end of the course (kms.unlock: end); "
        "link it from a later step, or name it without a link",
        "content/modules/m2/texte.md:9: warning: link to the handout file 'kms/M1/script.sql', "
        "still locked at this step: it opens at the end of the course (kms.unlock: end); "
        "attach the file to the step instead (link a copy beside the lesson)",
    ]


def test_authoring_link_into_handout_by_module(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under `unlock: module`, a module's pages open once it is finished, the general pages
    with the first module: from M2, M1's fiche and the index are open; from M1, neither."""
    edit(course, "course.yaml", "unlock: end", "unlock: module")
    edit(course, "modules/m1/intro.md", "Bonjour **tout le monde**.", f"{FICHE_LINK} {INDEX_LINK}")
    edit(course, "modules/m2/texte.md", "Du texte.", f"{FICHE_LINK} {INDEX_LINK}")
    assert link_warnings(course, monkeypatch, capsys) == [
        "content/modules/m1/intro.md:8: warning: link to the handout page 'kms/M1/fiche.md', "
        "still locked at this step: it opens once module M1 is finished (kms.unlock: module); "
        "link it from a later step, or name it without a link",
        "content/modules/m1/intro.md:8: warning: link to the handout page 'kms/index.md', "
        "still locked at this step: it opens once the first module is finished "
        "(kms.unlock: module); link it from a later step, or name it without a link",
    ]


def test_authoring_link_into_handout_open_from_the_start(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(course, "course.yaml", "unlock: end", "unlock: start")
    edit(course, "modules/m1/intro.md", "Bonjour **tout le monde**.", f"{FICHE_LINK}")
    assert link_warnings(course, monkeypatch, capsys) == []


def test_authoring_example_first_lesson_attaches_its_setup_file(tmp_path: Path) -> None:
    """The example's first lesson offers bibliotheque.sql as a file of the step (a download
    that works while the step is open), not as a link into the handout, locked until the end
    of module 1."""
    with cohort(EXAMPLE, tmp_path / "run") as app:
        _, ada = app.learner("Ada")
        fragment = ada.get("/steps/som01-bienvenue.html").text
        found = re.search(r'<a download="bibliotheque.sql" href="(/media/[^"]+\.sql)">', fragment)
        assert found is not None and "/kms/" not in fragment, fragment
        script = ada.get(found.group(1))
        assert script.status_code == 200 and "CREATE TABLE" in script.text


# -- 7. a quiet terminal --------------------------------------------------------------------------


def test_authoring_weasyprint_layout_is_not_logged(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Laying out the handout PDF logs nothing at INFO (serve logs at INFO)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    handout_cache.forget()
    caplog.set_level(logging.INFO)
    run_build(config_for(course, disk_cache=False))
    assert (course.parent / "site/kms/handout.pdf").is_file()
    noisy = [r for r in caplog.records if r.name.startswith(("weasyprint", "fontTools"))]
    assert [f"{r.name}: {r.getMessage()}" for r in noisy if r.levelno < logging.WARNING] == []


class QuietSite(Site):
    """serve without SILLON_SECRET (as an author first runs it)."""

    environment = {"SILLON_SECRET": ""}


@pytest.mark.live
@pytest.mark.parametrize("which, warned", [("english", False), ("small", True)])
def test_authoring_secret_warning_only_for_a_course_with_tally(
    course: Path, tmp_path: Path, which: str, warned: bool
) -> None:
    """The English example has no Tally quiz: no word about Tally's secrets; the small course
    has one: serve says SILLON_SECRET is missing, once."""
    content = course
    if which == "english":
        content = tmp_path / "english"
        shutil.copytree(ENGLISH, content)
    site = QuietSite(tmp_path, content)  # started: the course is built, published and loaded
    try:
        log = site.log_text()
    finally:
        site.stop()
    said = log.count("SILLON_SECRET is not set: Tally quiz links signed now stop working")
    assert said == (1 if warned else 0), log
    assert "TALLY_SIGNING_SECRET" not in log, log  # the launcher sets it


@pytest.mark.worker
def test_authoring_dotted_ids_on_the_workers_assets(tmp_path: Path) -> None:
    """Cloudflare's asset worker (html_handling auto-trailing-slash) serves steps/SOM01.01.html
    as /steps/SOM01.01, and the gate still reads the id: a dot is not taken for an extension."""
    from support.launch import ADMIN
    from support.worker import WorkerSite

    on_worker = WorkerSite(tmp_path, ENGLISH)
    try:
        admin = {"Authorization": f"Bearer {ADMIN}"}  # the gate lets the teacher see any step
        step = httpx.get(
            on_worker.url + "/steps/SOM01.01.html", headers=admin, follow_redirects=True
        )
    finally:
        on_worker.stop()
    assert step.status_code == 200 and 'data-step-id="SOM01.01"' in step.text, step.text


@pytest.mark.parametrize(
    "which, pattern",
    [("english", r"Pass mark: \d+%"), ("example", "Seuil de réussite\u202f: \\d+\u202f%")],
)
def test_authoring_quiz_typography_follows_the_course_language(
    tmp_path: Path, which: str, pattern: str
) -> None:
    """English writes "Pass mark: 80%", French "Seuil de réussite : 80 %" with narrow no-break
    spaces (the walk-through of the English course found French spacing in English pages)."""
    content = tmp_path / "content"
    shutil.copytree(ENGLISH if which == "english" else EXAMPLE, content)
    config = config_for(content)
    run_build(config)
    marks = [
        found[1]
        for page in (config.out / "steps").glob("*.html")
        if (found := re.search(r'<p class="quiz-pass">([^<]+)</p>', page.read_text()))
    ]
    assert marks and all(re.fullmatch(pattern, mark) for mark in marks), marks
