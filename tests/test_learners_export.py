"""The learners CLI export goes through the one CSV writer: no cell runs as a formula."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from support.course import make_course

import build


def test_learners_export_quotes_formula_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_course(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SILLON_DB", str(tmp_path / "db.sqlite3"))
    assert build.main(["publish", "--content", "content"]) == 0
    name = '=HYPERLINK("https://evil.example","x")'
    args = ["learners", "add", "--name", name, "--email", "e@example.org", "--team", "@team"]
    assert build.main(args) == 0
    capsys.readouterr()
    assert build.main(["learners", "export"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert (rows[0]["name"], rows[0]["teamId"]) == ("'" + name, "'@team")
    assert not out.startswith("\ufeff")  # read by programs, not only spreadsheets
