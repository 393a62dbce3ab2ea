"""Time `serve`'s incremental rebuild after a one-lesson edit, on a 2,000-lesson course.

    python bench/incremental_bench.py [--lessons 2000] [--iterations 30] [--workdir bench/out]

In one process, as `python build.py serve` does: one Cache, a first full build, then
`build(config, cache, incremental=True)` after each edit. Prints median, p90 and max in ms for
a one-lesson body edit (target: median < 150 ms) and, for information, a rebuild with no
change, a lesson title edit and a template edit (in a copy of templates/), with the files
each rebuild wrote.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import course_parser, load_average, percentile  # noqa: E402
from bench.generate import generate  # noqa: E402
from builder.cache import Cache  # noqa: E402
from builder.config import BuildConfig  # noqa: E402
from builder.pipeline import BuildResult, build  # noqa: E402

TARGET_MS = 150.0
TITLE = re.compile(r'^title: "(.*)"$', re.M)


class Scenario:
    """A series of timed incremental rebuilds, each after one edit."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ms: list[float] = []
        self.written: Counter[int] = Counter()
        self.unexpected: list[str] = []

    def run(
        self,
        config: BuildConfig,
        cache: Cache,
        edit: Callable[[int], set[str] | None],
        iterations: int,
    ) -> None:
        """edit(i) changes the content and returns the files it should rewrite (None: unchecked)."""
        for i in range(iterations):
            expected = edit(i)
            started = time.perf_counter()
            result = build(config, cache, incremental=True)
            self.ms.append((time.perf_counter() - started) * 1000)
            self.written[len(result.written)] += 1
            if expected is not None and set(result.written) != expected:
                self.unexpected.append(
                    f"expected {sorted(expected)}, wrote {sorted(result.written)[:5]}"
                )

    def row(self) -> str:
        written = ", ".join(f"{n} files x{count}" for n, count in sorted(self.written.items()))
        return (
            f"{self.name:<22} {len(self.ms):>4} {statistics.median(self.ms):>9.1f} "
            f"{percentile(self.ms, 0.9):>8.1f} {max(self.ms):>8.1f}   {written}"
        )


def lesson_files(content: Path) -> list[Path]:
    return sorted(content.glob("modules/*/*.md"))


def lesson_id(path: Path) -> str:
    """The generator's step id for a lesson file (modules/m03/l042.md -> som03-l042)."""
    return f"som{path.parent.name[1:]}-{path.stem}"


def full_build(config: BuildConfig, cache: Cache) -> BuildResult:
    started = time.perf_counter()
    result = build(config, cache)
    print(
        f"  first full build: {(time.perf_counter() - started) * 1000:.0f} ms, {result.pages} files"
    )
    return result


class Edits:
    """The content edits of the scenarios; each returns the files its rebuild should rewrite."""

    def __init__(self, lessons: list[Path], rng: random.Random) -> None:
        self.lessons, self.rng = lessons, rng
        self.last = lessons[0]

    def body(self, i: int) -> set[str]:
        # mostly a different lesson each time; every fourth edit hits the same one again
        path = self.last if i % 4 == 3 else self.rng.choice(self.lessons)
        self.last = path
        with path.open("a", encoding="utf-8") as f:
            f.write(f"\nUne phrase ajoutée pendant le banc d'essai, numéro {i}.\n")
        return {f"steps/{lesson_id(path)}.html"}

    def nothing(self, i: int) -> set[str]:
        return set()

    def title(self, i: int) -> set[str]:
        path = self.rng.choice(self.lessons)
        text = path.read_text(encoding="utf-8")
        path.write_text(TITLE.sub(lambda m: f'title: "{m[1]} (v{i})"', text, count=1), "utf-8")
        return {
            f"steps/{lesson_id(path)}.html",
            "index.html",
            "outline.json",
            "_sillon/preview.html",
        }


def content_scenarios(
    config: BuildConfig, cache: Cache, edits: Edits, iterations: int
) -> list[Scenario]:
    """A lesson body edit `iterations` times, no change, a lesson title edit."""
    scenarios = []
    for name, edit, runs in (
        ("one-lesson body edit", edits.body, iterations),
        ("no change", edits.nothing, 10),
        ("lesson title edit", edits.title, 5),
    ):
        scenario = Scenario(name)
        scenario.run(config, cache, edit, runs)
        scenarios.append(scenario)
    return scenarios


def template_scenario(work: Path, content: Path) -> Scenario:
    """Edits of step.html in a copy of templates/, with its own site and cache."""
    print("  template edit (copy of templates/, its own cache):")
    templates = work / "templates"
    shutil.copytree(ROOT / "templates", templates)
    config = BuildConfig.make(
        content=content, out=work / "site-templates", dev=True, templates=templates
    )
    cache = Cache()
    full_build(config, cache)

    def edit_template(i: int) -> None:
        with (templates / "step.html").open("a", encoding="utf-8") as f:
            f.write(f"<!-- edit {i} -->\n")
        return None

    scenario = Scenario("template edit step.html")
    scenario.run(config, cache, edit_template, 5)
    return scenario


def report(scenarios: list[Scenario], checked: list[Scenario]) -> bool:
    """Print the table and the target; return True when it is met with no unexpected write."""
    print(f"\n{'scenario':<22} {'runs':>4} {'median ms':>9} {'p90 ms':>8} {'max ms':>8}   written")
    for scenario in scenarios:
        print(scenario.row())
    problems = [f"{s.name}: {u}" for s in checked for u in s.unexpected]
    for problem in problems[:10]:
        print(f"  unexpected writes: {problem}")
    if not problems:
        print("  each lesson edit rewrote only steps/<its id>.html; a no-change rebuild: nothing")
    print(f"  load average at the end: {load_average()}")
    median = statistics.median(scenarios[0].ms)
    met = median < TARGET_MS
    print(
        f"\ntarget one-lesson rebuild median < {TARGET_MS:.0f} ms: {median:.1f} ms -> "
        f"{'MET' if met else 'NOT MET'}"
    )
    return met and not problems


def profile(config: BuildConfig, cache: Cache, edits: Edits, i: int) -> None:
    """cProfile one more lesson body edit's rebuild."""
    profiler = cProfile.Profile()
    edits.body(i)
    profiler.enable()
    build(config, cache, incremental=True)
    profiler.disable()
    print("\ncProfile of one more one-lesson rebuild (top 20 by cumulative time):")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumtime").print_stats(20)


def main(argv: list[str] | None = None) -> int:
    """Generate the course, run the scenarios, print the figures."""
    parser = course_parser(
        __doc__,
        workdir="keep the course and site here (e.g. bench/out)",
        check="exit 1 when the target is not met",
    )
    parser.add_argument("--iterations", type=int, default=30, help="one-lesson edits (default 30)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more lesson edit")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="sillon-incr-") as tmp:
        work = (args.workdir or Path(tmp)).resolve() / "incremental"
        shutil.rmtree(work, ignore_errors=True)
        projects = generate(work, args.lessons, tools=("sillon",))
        assert projects.sillon is not None
        content = projects.sillon
        lessons = lesson_files(content)
        print(
            f"{len(lessons)} lessons under {content}; {os.cpu_count()} cores, "
            f"load average {load_average()}"
        )
        config = BuildConfig.make(content=content, out=work / "site", dev=True)
        cache = Cache()
        full_build(config, cache)
        edits = Edits(lessons, random.Random(7))
        checked = content_scenarios(config, cache, edits, args.iterations)
        ok = report([*checked, template_scenario(work, content)], checked)
        if args.profile:
            profile(config, cache, edits, args.iterations)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
