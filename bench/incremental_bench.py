"""Time `serve`'s incremental rebuild after a one-lesson edit, on a 2,000-lesson course.

    python bench/incremental_bench.py [--lessons 2000] [--iterations 30] [--workdir bench/out]

In one process, as `python build.py serve` does: one Cache, a first full build, then
`build(config, cache, incremental=True)` after each edit. Prints median, p90 and max in ms for
a one-lesson body edit (target: median < 150 ms) and, for information, a rebuild with no
change, a lesson title edit and a template edit (in a copy of templates/), with the files
each rebuild wrote.
"""

from __future__ import annotations

import argparse
import cProfile
import math
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

from bench.generate import generate  # noqa: E402
from builder.cache import Cache  # noqa: E402
from builder.config import BuildConfig  # noqa: E402
from builder.pipeline import BuildResult, build  # noqa: E402

TARGET_MS = 150.0
TITLE = re.compile(r'^title: "(.*)"$', re.M)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


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


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


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


def main(argv: list[str] | None = None) -> int:
    """Generate the course, run the scenarios, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--lessons", type=int, default=2000, help="lessons in the course (default 2000)"
    )
    parser.add_argument("--iterations", type=int, default=30, help="one-lesson edits (default 30)")
    parser.add_argument(
        "--workdir", type=Path, help="keep the course and site here (e.g. bench/out)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one more lesson edit")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is not met")
    args = parser.parse_args(argv)
    rng = random.Random(7)

    with tempfile.TemporaryDirectory(prefix="sillon-incr-") as tmp:
        work = (args.workdir or Path(tmp)).resolve() / "incremental"
        shutil.rmtree(work, ignore_errors=True)
        projects = generate(work, args.lessons, tools=("sillon",))
        assert projects.sillon is not None
        content = projects.sillon
        lessons = lesson_files(content)
        print(
            f"{len(lessons)} lessons under {content}; {os.cpu_count()} cores, "
            f"load average {_load()}"
        )

        config = BuildConfig.make(content=content, out=work / "site", dev=True)
        cache = Cache()
        full_build(config, cache)

        last: list[Path] = [lessons[0]]

        def edit_body(i: int) -> set[str]:
            # mostly a different lesson each time; every fourth edit hits the same one again
            path = last[0] if i % 4 == 3 else rng.choice(lessons)
            last[0] = path
            with path.open("a", encoding="utf-8") as f:
                f.write(f"\nUne phrase ajoutée pendant le banc d'essai, numéro {i}.\n")
            return {f"steps/{lesson_id(path)}.html"}

        def no_change(i: int) -> set[str]:
            return set()

        def edit_title(i: int) -> set[str]:
            path = rng.choice(lessons)
            text = path.read_text(encoding="utf-8")
            path.write_text(TITLE.sub(lambda m: f'title: "{m[1]} (v{i})"', text, count=1), "utf-8")
            return {
                f"steps/{lesson_id(path)}.html",
                "index.html",
                "outline.json",
                "_sillon/preview.html",
            }

        lesson_edit = Scenario("one-lesson body edit")
        lesson_edit.run(config, cache, edit_body, args.iterations)
        unchanged = Scenario("no change")
        unchanged.run(config, cache, no_change, 10)
        title = Scenario("lesson title edit")
        title.run(config, cache, edit_title, 5)

        print("  template edit (copy of templates/, its own cache):")
        templates = work / "templates"
        shutil.copytree(ROOT / "templates", templates)
        template_config = BuildConfig.make(
            content=content, out=work / "site-templates", dev=True, templates=templates
        )
        template_cache = Cache()
        full_build(template_config, template_cache)

        def edit_template(i: int) -> None:
            with (templates / "step.html").open("a", encoding="utf-8") as f:
                f.write(f"<!-- edit {i} -->\n")
            return None

        template = Scenario("template edit step.html")
        template.run(template_config, template_cache, edit_template, 5)

        print(
            f"\n{'scenario':<22} {'runs':>4} {'median ms':>9} {'p90 ms':>8} {'max ms':>8}   written"
        )
        for scenario in (lesson_edit, unchanged, title, template):
            print(scenario.row())
        problems = [f"{s.name}: {u}" for s in (lesson_edit, unchanged, title) for u in s.unexpected]
        for problem in problems[:10]:
            print(f"  unexpected writes: {problem}")
        if not problems:
            print(
                "  each lesson edit rewrote only steps/<its id>.html; a no-change rebuild: nothing"
            )

        print(f"  load average at the end: {_load()}")
        median = statistics.median(lesson_edit.ms)
        met = median < TARGET_MS
        print(
            f"\ntarget one-lesson rebuild median < {TARGET_MS:.0f} ms: {median:.1f} ms -> "
            f"{'MET' if met else 'NOT MET'}"
        )

        if args.profile:
            profiler = cProfile.Profile()
            edit_body(args.iterations)
            profiler.enable()
            build(config, cache, incremental=True)
            profiler.disable()
            print("\ncProfile of one more one-lesson rebuild (top 20 by cumulative time):")
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumtime").print_stats(20)
    return 1 if args.check and not (met and not problems) else 0


if __name__ == "__main__":
    sys.exit(main())
