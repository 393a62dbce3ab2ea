"""The code's own bars: ruff, ruff format and mypy (strict), and docs that match the code."""

from __future__ import annotations

import subprocess
import sys

from support.course import ROOT

from api.settings import markdown_table
from builder.reference import markdown_tables
from builder.schema import ALL_SCHEMAS

PATHS = ["build.py", "stream_upload.py", "builder", "api", "serve", "ops", "tests", "bench"]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_quality_ruff_lint() -> None:
    result = run(sys.executable, "-m", "ruff", "check", *PATHS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_quality_ruff_format() -> None:
    result = run(sys.executable, "-m", "ruff", "format", "--check", *PATHS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_quality_mypy_strict() -> None:
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_quality_readme_documents_every_field() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- fields:start -->\n", "<!-- fields:end -->"
    assert start in readme and end in readme
    documented = readme.split(start, 1)[1].split(end, 1)[0]
    assert documented.strip() == markdown_tables().strip(), (
        "README field reference is stale: paste `python build.py fields` between the markers"
    )
    for schema in ALL_SCHEMAS:
        for field in schema.fields:
            assert f"| `{field.name}` |" in documented
            assert field.help.strip(), f"{schema.name}.{field.name} has no help text"


def test_quality_readme_configuration_is_the_settings_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- settings:start -->\n", "<!-- settings:end -->"
    documented = readme.split(start, 1)[1].split(end, 1)[0]
    assert documented.strip() == markdown_table().strip(), (
        "README Configuration is stale: paste api.settings.markdown_table() between the markers"
    )
