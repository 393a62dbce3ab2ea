"""The quiz gate's course: a text lesson, then `probe`, a five-question quiz of four choices
each (one right answer each, pass 0.8), whose gate fields (feedback, attempts, cooldown, draw)
the test chooses, then a closing lesson. Served in-process like the small course; the learner
helpers answer it as someone who knows nothing would (tests/test_quiz_gate.py, and
bench/quiz_probe_bench.py's prober)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from support.client import Cohort, cohort, event, move_on
from support.course import write

KEYS = (2, 0, 3, 1, 2)  # the right choice of each question
CHOICES = 4
QUIZ = "probe"


def write_gate_course(root: Path, **gate: object) -> Path:
    """The course under root/content, `probe` with these gate fields (YAML flow values)."""
    content = root / "content"
    write(content / "course.yaml", "title: Gate\nlanguage: en\nmodules: [m1]\n")
    steps = "[read.md, probe.yaml, end.md]"
    write(content / "modules/m1/module.yaml", f"id: G1\ntitle: Gate\nsteps: {steps}\n")
    write(content / "modules/m1/read.md", "---\nid: read\ntitle: Read\n---\n## Text\n\nRead.\n")
    write(content / "modules/m1/end.md", "---\nid: end\ntitle: End\n---\n## Text\n\nDone.\n")
    lines = [f"id: {QUIZ}", "title: Probe", "pass: 0.8"]
    lines += [f"{key}: {json.dumps(value)}" for key, value in gate.items()]
    lines.append("questions:")
    for number, key in enumerate(KEYS):
        lines.append(f"  - prompt: Question {number + 1}?")
        lines.append(f"    choices: {json.dumps([f'q{number + 1} c{c}' for c in range(CHOICES)])}")
        lines.append(f"    answer: {key}")
        lines.append(f"    explain: Because {key}.")
    write(content / "modules/m1/probe.yaml", "\n".join(lines) + "\n")
    return content


@contextmanager
def gate_cohort(tmp_path: Path, **gate: object) -> Iterator[Cohort]:
    """The gate course with these fields, built and served on tmp_path/sillon.sqlite3."""
    content = write_gate_course(tmp_path / "course", **gate)
    with cohort(content, tmp_path) as running:
        yield running


def at_the_quiz(app: Cohort, name: str = "Ada") -> TestClient:
    """A new learner past the first lesson: `probe` is their open step."""
    app.clock.advance(seconds=6)  # sign-ins: 10 a minute per address
    _, browser = app.learner(name)
    done = browser.post("/api/lesson-done", json={"eventId": event(), "stepId": "read"})
    assert done.status_code == 200, done.text
    assert move_on(browser, "read").status_code == 200
    return browser


def submit(browser: TestClient, answers: object) -> Any:
    """One attempt at `probe`: the response."""
    body = {"eventId": event(), "stepId": QUIZ, "answers": answers}
    return browser.post("/api/quiz-submission", json=body)


def right_count(answers: list[int]) -> int:
    return sum(a == k for a, k in zip(answers, KEYS, strict=True))


def state(browser: TestClient) -> dict[str, Any]:
    """GET /api/quiz-attempt for `probe`."""
    answer = browser.get(f"/api/quiz-attempt?stepId={QUIZ}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def shown_right(drawn: list[dict[str, Any]]) -> list[int]:
    """The right answers of a draw, in shown positions."""
    return [d["choices"].index(KEYS[d["question"]]) for d in drawn]
