"""The operator commands over several cohort databases (SILLON_COHORTS; ops/cohorts.py):
publish reaches every cohort's file, learners act on the cohort named (and refuse to guess),
and `cohorts --cloudflare` says how to create and migrate one D1 database per cohort."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support.course import make_course

import build


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_course(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SILLON_DB", str(tmp_path / "db.sqlite3"))
    monkeypatch.setenv("SILLON_COHORTS", f"spring={tmp_path / 'one.sqlite3'},autumn")
    monkeypatch.setenv("SILLON_BASE_URL", "https://learn.example.org")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = build.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def emails(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT email FROM learners")]


def test_cohorts_cli_publishes_everywhere_and_enrolls_where_told(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "publish", "--content", "content")
    assert code == 0, err
    assert f"to {workdir / 'one.sqlite3'}" in err and f"to {workdir / 'autumn.sqlite3'}" in err
    for db in (workdir / "one.sqlite3", workdir / "autumn.sqlite3"):
        with sqlite3.connect(db) as connection:
            assert connection.execute("SELECT COUNT(*) FROM course_versions").fetchone() == (1,)
    add = ("learners", "add", "--name", "Ada", "--email", "ada@example.org", "--team", "t1")
    code, out, err = run(capsys, *add)
    assert (code, err) == (2, "error: name the cohort with --cohort (one of spring, autumn)\n")
    code, out, err = run(capsys, *add, "--cohort", "winter")
    assert code == 2 and "no cohort 'winter' in SILLON_COHORTS (spring, autumn)" in err
    code, out, _ = run(capsys, *add, "--cohort", "autumn")
    assert code == 0 and out.startswith("https://learn.example.org/join/#autumn.")
    assert emails(workdir / "autumn.sqlite3") == ["ada@example.org"]
    assert emails(workdir / "one.sqlite3") == []
    assert not (workdir / "db.sqlite3").exists()


def test_cohorts_cli_refuses_a_bad_setting_in_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SILLON_COHORTS", "Spring")
    code, _, err = run(capsys, "learners", "list")
    assert code == 2
    assert err == (
        "error: SILLON_COHORTS: 'Spring' is not a cohort name (a-z, 0-9 and -, starting with "
        "a letter, 20 characters at most)\n"
    )


def test_cohorts_cli_prints_the_cloudflare_steps(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SILLON_COHORTS", "spring=DB_SPRING,late-autumn")
    code, out, _ = run(capsys, "cohorts", "--cloudflare")
    assert code == 0
    for line in (
        "npx wrangler d1 create sillon-spring",
        "npx wrangler d1 create sillon-late-autumn",
        'binding = "DB_LATE_AUTUMN"',
        "npx wrangler d1 migrations apply sillon-late-autumn --remote",
        'SILLON_COHORTS = "spring=DB_SPRING,late-autumn=DB_LATE_AUTUMN"',
    ):
        assert line in out.splitlines(), out
    code, out, _ = run(capsys, "cohorts")
    name, path, *rest = out.splitlines()[1].split()
    assert (code, name, rest) == (0, "late-autumn", ["(serve)", "DB_LATE_AUTUMN", "(Worker)"])
    assert path == str(workdir / "late-autumn.sqlite3")
