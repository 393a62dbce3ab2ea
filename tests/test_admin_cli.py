"""The operator commands, run as `python build.py ...` would, on a real SQLite file."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest
from support.course import make_course, write

import build


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_course(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SILLON_DB", str(tmp_path / "db.sqlite3"))
    monkeypatch.setenv("SILLON_BASE_URL", "https://learn.example.org")
    assert build.main(["publish", "--content", "content"]) == 0
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = build.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_admin_cli_publish_makes_the_course_current(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    with sqlite3.connect(workdir / "db.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM course_versions").fetchone() == (1,)
    (workdir / "content/modules/m2/texte.md").write_text(
        "---\nid: texte\ntitle: Changé\n---\nTexte.\n"
    )
    code, _, err = run(capsys, "publish", "--content", "content")
    assert code == 0 and "Published course version" in err
    with sqlite3.connect(workdir / "db.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM course_versions").fetchone() == (2,)


def test_admin_cli_add_import_list_export_reset(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "learners", "add", "--name", "Ada", "--email", "Ada@Example.org", "--team", "blue"
    )
    assert code == 0 and out.startswith("https://learn.example.org/join/#")
    write(
        workdir / "people.csv",
        "name,email,teamId,tz\nBob,bob@example.org,blue,\nCyd,cyd@example.org,red,America/New_York\n",
    )
    code, out, err = run(capsys, "learners", "import", "people.csv", "--invites", "invites.csv")
    assert code == 0 and "Enrolled 2 learner(s)" in err
    invites = list(csv.DictReader((workdir / "invites.csv").open()))
    assert [(r["name"], r["teamId"]) for r in invites] == [("Bob", "blue"), ("Cyd", "red")]
    code, out, _ = run(capsys, "learners", "list")
    assert out.splitlines()[0].split() == [
        "name",
        "teamId",
        "xp",
        "completed",
        "currentStep",
        "streak",
        "userId",
    ]
    assert len(out.splitlines()) == 4 and "0/4" in out and "intro" in out
    code, out, _ = run(capsys, "learners", "export")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["name"] for r in rows] == ["Ada", "Bob", "Cyd"] and rows[0]["currentStep"] == "intro"
    code, out, _ = run(capsys, "learners", "reset", rows[0]["userId"])
    assert (code, out) == (0, f"{rows[0]['userId']} starts again at intro\n")


def test_admin_cli_bad_csv_enrolls_nobody(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        workdir / "people.csv",
        "name,email,teamId\nBob,bob@example.org,blue\nCyd,not-an-email,red\n",
    )
    code, _, err = run(capsys, "learners", "import", "people.csv")
    assert code == 2 and err.startswith("error: row 2: name, email and teamId are required")
    write(
        workdir / "dupes.csv",
        "name,email,teamId\nBob,bob@example.org,blue\nBob2,BOB@example.org,blue\n",
    )
    code, _, err = run(capsys, "learners", "import", "dupes.csv")
    assert (code, err) == (
        2,
        "error: row 2: bob@example.org is already enrolled "
        "(a lost link: `python build.py learners invite bob@example.org`)\n",
    )
    write(workdir / "header.csv", "nom,email\n")
    code, _, err = run(capsys, "learners", "import", "header.csv")
    assert (code, err) == (
        2,
        "error: header.csv:1: missing column(s) name, teamId (header: name,email,teamId[,tz])\n",
    )
    with sqlite3.connect(workdir / "db.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM learners").fetchone() == (0,)


def test_admin_cli_errors(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "learners", "reset", "u_nobody")[2] == "error: no learner 'u_nobody'\n"
    code, _, err = run(
        capsys,
        "learners",
        "add",
        "--name",
        "A",
        "--email",
        "a@b.c",
        "--team",
        "t",
        "--tz",
        "Nowhere",
    )
    assert (code, err) == (2, "error: learner: unknown time zone 'Nowhere'\n")
    code, _, err = run(capsys, "learners", "list", "--db", str(workdir / "empty.sqlite3"))
    assert code == 2 and "No course is published yet" in err
