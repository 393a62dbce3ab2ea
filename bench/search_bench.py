"""Time what the handout search (Pagefind) adds to a build, and what it adds to site/.

    python bench/search_bench.py [--repeat 5] [--lessons 2000] [--handout-pages 200]
                                 [--workdir bench/out]

Three courses: the example course (content/), the generated 2,000-lesson course of
bench/build_bench.py (it has no handout pages: only the handout's generated front page is
indexed) and the same course with --handout-pages generated handout pages spread over its
modules. For each, in this process: cold builds (`--no-cache`: every index is built again) and
warm builds (nothing changed: the indexes of the last build are reused), median of --repeat
runs of the search stage and of the whole build, with the indexes, files and bytes it adds.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import TOPICS, generate, lesson_body  # noqa: E402
from builder import pipeline  # noqa: E402
from builder.config import BuildConfig  # noqa: E402
from builder.search import SearchResult  # noqa: E402


@dataclass
class Run:
    search: float
    total: float
    indexed: int
    indexes: int


def timed_stage() -> list[tuple[float, SearchResult]]:
    """Wrap the pipeline's search stage so each build records its own time."""
    seen: list[tuple[float, SearchResult]] = []
    stage: Callable[..., SearchResult] = pipeline.build_indexes

    def measured(*args: Any, **kwargs: Any) -> SearchResult:
        started = time.perf_counter()
        result = stage(*args, **kwargs)
        seen.append((time.perf_counter() - started, result))
        return result

    pipeline.build_indexes = measured
    return seen


def add_handout(content: Path, pages: int) -> None:
    """Write `pages` handout pages of ~500 words, spread evenly over the course's modules."""
    modules = sorted(p.name for p in (content / "modules").iterdir())
    for n in range(pages):
        module = f"SOM{n % len(modules) + 1:02d}"
        rng = random.Random(f"handout:{n}")
        body = lesson_body(rng, rng.choice(TOPICS))
        path = content / "kms" / module / f"fiche-{n:03d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Fiche {n} : {rng.choice(TOPICS)}\n\n{body}", encoding="utf-8")


def measure(content: Path, out: Path, repeat: int, seen: list[tuple[float, SearchResult]]) -> None:
    runs: dict[str, list[Run]] = {"cold": [], "warm": []}
    for _ in range(repeat):
        for kind in ("cold", "warm"):
            if kind == "cold":
                shutil.rmtree(out.parent, ignore_errors=True)
            config = BuildConfig.make(content=content, out=out, disk_cache=kind == "warm")
            started = time.perf_counter()
            pipeline.build(config)
            total = time.perf_counter() - started
            seconds, result = seen[-1]
            runs[kind].append(Run(seconds, total, result.indexed, result.total))
    files = [p for p in out.glob("kms/**/_search/**/*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    cold, warm = runs["cold"], runs["warm"]
    search = statistics.median(r.search for r in cold) * 1000
    total = statistics.median(r.total for r in cold) * 1000
    print(
        f"  cold: search {search:7.1f} ms of a {total:6.0f} ms build ({search / total:5.1%}); "
        f"indexed {cold[-1].indexed} of {cold[-1].indexes} indexes"
    )
    reuse = statistics.median(r.search for r in warm) * 1000
    print(f"  warm: search {reuse:7.1f} ms; indexed {warm[-1].indexed} (all reused)")
    print(f"  adds {len(files)} files, {size / 1024:.0f} KB to site/ ({size} bytes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lessons", type=int, default=2000)
    parser.add_argument("--handout-pages", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sillon-search-bench-"))
    seen = timed_stage()
    print(f"example course (content/), median of {args.repeat}:")
    measure(ROOT / "content", workdir / "example" / "site", args.repeat, seen)
    projects = generate(workdir / "generated", args.lessons, tools=("sillon",))
    assert projects.sillon is not None
    print(f"{args.lessons} generated lessons, no handout pages:")
    measure(projects.sillon, workdir / "bench" / "site", args.repeat, seen)
    add_handout(projects.sillon, args.handout_pages)
    print(f"{args.lessons} generated lessons + {args.handout_pages} handout pages:")
    measure(projects.sillon, workdir / "handout" / "site", args.repeat, seen)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
