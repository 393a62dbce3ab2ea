"""What several benches share: the machine's load, a percentile, the generated-course arguments.

Imported as `bench.common` (each bench puts the repository root on sys.path first).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_average() -> str:
    """The 1, 5 and 15 minute load averages ("?" where the system has none)."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def course_parser(doc: str, workdir: str, check: str) -> argparse.ArgumentParser:
    """The arguments of a bench on a generated course: --lessons, --workdir and --check."""
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    parser.add_argument(
        "--lessons", type=int, default=2000, help="lessons in the course (default 2000)"
    )
    parser.add_argument("--workdir", type=Path, help=workdir)
    parser.add_argument("--check", action="store_true", help=check)
    return parser
