"""What probing buys a learner who knows nothing, under each quiz feedback mode (issue 14).

    python bench/quiz_probe_bench.py [--runs 30] [--seed 14]

The real app (serve's create_app, the API on a real SQLite file) is driven in-process with the
tests' clock (tests/support/client.py), on the five-question quiz of
tests/support/quiz_course.py: four choices each, one right answer each, pass 0.8 (4 of 5), the
default pacing (3 failures free, then 1 min, 5 min, 30 min, then 2 h after every failure).
Before each attempt the learner asks the API for the attempt (GET /api/quiz-attempt) and the
clock is moved on by the `retryAfter` it answers, so the course time reported is the sum of
the cooldowns waited: what a patient learner spends, not what this machine does.

Two learners who know nothing, each in --runs new learners per feedback mode:

- **blind**: a random answer to every question at every attempt;
- **probe**: the best the answers allow. With `correct` flags (feedback `questions`) it keeps
  the questions said right and moves the others to their next choice (the attack of the
  issue, without the blanks it used, which are now refused); with the score only (`score`)
  it changes one question at a time and reads the score's move (up: the new choice is right;
  down: the old one was); with pass/fail only (`none`) there is nothing to read and it tries
  untried combinations at random.

Printed per mode and learner: attempts to pass (median, mean), course time to pass (median,
mean), and how many runs earned the perfect bonus (a perfect first attempt only: 1/1024 for a
learner who knows nothing, whatever the strategy). Blind guessing's expectation: p(pass) =
16/1024 an attempt (4 or 5 of 5 right), so 64 attempts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
from starlette.testclient import TestClient  # noqa: E402
from support.client import Cohort  # noqa: E402
from support.quiz_course import (  # noqa: E402
    CHOICES,
    KEYS,
    at_the_quiz,
    gate_cohort,
    state,
    submit,
)

MODES = ("questions", "score", "none")
MAX_ATTEMPTS = 3000


class Learner:
    """A strategy: the next answers, from what the previous answers told."""

    def next(self) -> list[int]:
        raise NotImplementedError

    def told(self, answers: list[int], answer: dict[str, Any]) -> None:
        """What the server answered to `answers`."""


class Blind(Learner):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def next(self) -> list[int]:
        return [self.rng.randrange(CHOICES) for _ in KEYS]


@dataclass
class Probe(Learner):
    """Reads `correct` flags, else score moves, else nothing (untried combinations)."""

    rng: random.Random
    current: list[int] = field(default_factory=list)
    known: list[bool] = field(default_factory=lambda: [False] * len(KEYS))
    base: float | None = None  # the score of `current` (score feedback)
    trying: tuple[int, int] | None = None  # (question, its previous choice) under test
    tried: set[tuple[int, ...]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.current = [self.rng.randrange(CHOICES) for _ in KEYS]

    def next(self) -> list[int]:
        if self.base is not None:  # score feedback: move one unknown question on
            question = self.known.index(False)
            self.trying = (question, self.current[question])
            self.current[question] = (self.current[question] + 1) % CHOICES
        else:  # first attempt, flags, or pass/fail only: a combination not tried yet
            while tuple(self.current) in self.tried:
                self.current = [self.rng.randrange(CHOICES) for _ in KEYS]
        self.tried.add(tuple(self.current))
        return list(self.current)

    def told(self, answers: list[int], answer: dict[str, Any]) -> None:
        if answer["correct"] is not None:  # flags: keep the right ones, move the wrong ones
            self.current = [
                a if ok else (a + 1) % CHOICES
                for a, ok in zip(answers, answer["correct"], strict=True)
            ]
            self.tried.clear()
            return
        score = answer["score"]
        if score is None:
            return  # pass/fail only: nothing to read
        if self.trying is None or self.base is None:
            self.base = score
            return
        question, before = self.trying
        if score > self.base:  # the new choice is right
            self.known[question], self.base = True, score
        elif score < self.base:  # the old one was
            self.current[question], self.known[question] = before, True
        # equal: both wrong; keep moving this question on


@dataclass
class Run:
    attempts: int
    waited: float  # course seconds spent in cooldowns
    bonus: bool


def play(app: Cohort, browser: TestClient, learner: Learner) -> Run:
    """Attempts until passed, waiting out each cooldown on the app's clock."""
    waited = 0.0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        wait = state(browser)["retryAfter"]
        app.clock.advance(seconds=wait)
        waited += wait
        answers = learner.next()
        response = submit(browser, answers)
        assert response.status_code == 200, response.text
        answer = response.json()
        if answer["passed"]:
            bonus = any(a["cause"].startswith("quiz-perfect:") for a in answer["xp"])
            return Run(attempt, waited, bonus)
        learner.told(answers, answer)
    raise RuntimeError(f"not passed in {MAX_ATTEMPTS} attempts")


def measure(mode: str, runs: int, seed: int, workdir: Path) -> dict[str, list[Run]]:
    results: dict[str, list[Run]] = {"probe": [], "blind": []}
    rng = random.Random(f"{seed}-{mode}")
    with gate_cohort(workdir / mode, feedback=mode) as app:
        for n in range(runs):
            for name, make in (("probe", Probe), ("blind", Blind)):
                browser = at_the_quiz(app, f"{name}{n}")
                results[name].append(play(app, browser, make(rng)))
    return results


def hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def report(mode: str, results: dict[str, list[Run]]) -> None:
    for name, found in results.items():
        attempts = [r.attempts for r in found]
        waited = [r.waited for r in found]
        bonus = sum(r.bonus for r in found)
        print(
            f"| `{mode}` | {name} | {statistics.median(attempts):g} "
            f"({statistics.mean(attempts):.1f}) | {hours(statistics.median(waited))} "
            f"({hours(statistics.mean(waited))}) | {bonus} of {len(found)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=30, help="learners per mode and strategy")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    print(f"5 questions x {CHOICES} choices, pass 4/5, default pacing; {args.runs} learners each")
    print(
        "| feedback | learner | attempts to pass: median (mean) | course time to pass: "
        "median (mean) | perfect bonus |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in MODES:
            report(mode, measure(mode, args.runs, args.seed, Path(tmp)))
    print(
        "blind guessing, expected: 64 attempts to pass (p = 16/1024); perfect first attempt: 1/1024"
    )


if __name__ == "__main__":
    main()
