"""The README's Quick start, run as written on a copy of the repository (issue 15, point 2).

Its first command line creates (or reuses) a virtual environment, installs the project into it
(pip, from PyPI: PEP 668 forbids installing into a distribution's own Python) and serves the
example course at http://127.0.0.1:8000; it must work twice in a row (the second run reuses the
environment) and be one line. The second line (tests) is what `.ci/run` runs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from support.course import ROOT
from support.launch import poll

pytestmark = [pytest.mark.live, pytest.mark.slow]

URL = "http://127.0.0.1:8000"


def quick_start() -> list[str]:
    """The command lines of the README's Quick start section, in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def copy_of_repository(to: Path) -> Path:
    """The files git knows or would add (no .venv, site/, node_modules): a fresh clone's."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
    return to


def test_quickstart_has_two_one_line_commands_and_ci_runs_the_second() -> None:
    commands = quick_start()
    assert len(commands) == 2, commands
    serve, tests = commands
    assert ".venv" in serve and serve.endswith("build.py serve"), serve
    assert tests in (ROOT / ".ci/run").read_text(), "CI runs the README's test command"


def test_quickstart_first_command_serves_the_example_course_in_a_venv(tmp_path: Path) -> None:
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", 8000)) != 0, "port 8000 is taken: stop that server"
    repo = copy_of_repository(tmp_path / "sillon")
    serve = quick_start()[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    for attempt in ("creates the environment", "reuses it"):
        process = subprocess.Popen(
            ["bash", "-c", serve],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            waited = poll(
                lambda: httpx.get(URL + "/api/health").status_code == 200,
                timeout=600,
                alive=lambda running=process: running.poll() is None,
            )
            assert waited >= 0, f"{attempt}: serve did not answer (exit {process.poll()})"
            assert "Les bases de SQL" in httpx.get(URL + "/").text, attempt
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            output = process.communicate(timeout=60)[0].decode()
        assert (repo / ".venv/bin/python").is_file(), output
        assert "127.0.0.1:8000" in output, output
