"""Time the handout PDF stage (WeasyPrint) on the example course and on generated handouts.

    python bench/handout_pdf_bench.py [--pages 20 100 400] [--repeat 3] [--workdir bench/out]

For the example course (content/) and for synthetic courses whose handout has N pages (the
generated lessons of bench/generate.py, ~500 words each with code and a table, written as
handout pages, 20 modules), prints: the PDF's pages and size, the first render in a fresh
process (WeasyPrint's import and Pango's start included), the median of --repeat renders
once warm, the cached stage (what every later build and serve edit pays), and the process's
peak memory. Each size runs in its own process so peaks do not mix.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import lessons  # noqa: E402
from builder import handout_cache, handout_pdf  # noqa: E402
from builder.cache import Cache  # noqa: E402
from builder.config import BuildConfig  # noqa: E402
from builder.errors import Problems  # noqa: E402
from builder.pipeline import load  # noqa: E402


def write_course(root: Path, pages: int) -> Path:
    """A course of 20 modules of one lesson each, with `pages` handout pages spread over them."""
    content = root / "content"
    modules = min(20, pages)
    course = lessons(pages, modules=modules)
    names = [f"m{m:02d}" for m in range(1, modules + 1)]
    (content / "kms").mkdir(parents=True)
    (content / "course.yaml").write_text(
        f"title: Banc d'essai du polycopié\nlanguage: fr\nmodules: [{', '.join(names)}]\n",
        encoding="utf-8",
    )
    (content / "kms/index.md").write_text("# Polycopié\n\nLe banc d'essai.\n", encoding="utf-8")
    for name, module in zip(names, course, strict=True):
        number = module[0].module
        (content / "modules" / name).mkdir(parents=True)
        (content / "modules" / name / "module.yaml").write_text(
            f"id: SOM{number:02d}\ntitle: Module {number}\nsteps: [texte.md]\n", encoding="utf-8"
        )
        (content / "modules" / name / "texte.md").write_text(
            f"---\nid: texte-{number}\ntitle: Texte {number}\n---\nDu texte.\n", encoding="utf-8"
        )
        folder = content / "kms" / f"SOM{number:02d}"
        folder.mkdir()
        for lesson in module:
            body = f"# Fiche {number}.{lesson.number}\n\n{lesson.body}"
            (folder / f"fiche-{lesson.number:03d}.md").write_text(body, encoding="utf-8")
    return content


def measure(content: Path, out: Path, repeat: int) -> dict[str, float]:
    """Run in a fresh process: first render, warm renders, cached stage, peak memory."""
    config = BuildConfig.make(
        content=content, out=out / "site", private=out / "private", disk_cache=False
    )
    problems, cache = Problems(), Cache()
    loaded = load(config, cache, problems)
    assert loaded is not None and not problems.errors, problems.sorted()

    def stage() -> handout_pdf.HandoutPdf:
        result = handout_pdf.handout_pdf(
            config, loaded.course, loaded.docs, loaded.handles, loaded.media, cache, problems
        )
        assert result is not None, problems.sorted()
        return result

    started = time.perf_counter()
    first = stage()
    first_s = time.perf_counter() - started
    warm = []
    for _ in range(repeat):
        handout_cache.forget()
        warm.append(stage().seconds)
    cached = min(stage().seconds for _ in range(5))
    return {
        "handout_pages": len(loaded.course.kms_pages),
        "pdf_pages": first.pages,
        "mb": len(first.data) / 1e6,
        "first_s": first_s,
        "warm_s": statistics.median(warm),
        "cached_ms": cached * 1000,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="*", default=[20, 100, 400])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child process: CONTENT OUT
    args = parser.parse_args(argv)
    if args.one:
        content, out = args.one.split("::")
        print(json.dumps(measure(Path(content), Path(out), args.repeat)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="pdf-bench-", dir=args.workdir))
    try:
        cases = [("example course (content/)", ROOT / "content")]
        for pages in args.pages:
            cases.append((f"{pages} generated pages", write_course(work / f"p{pages}", pages)))
        print("| handout | PDF pages | size | first (fresh process) | warm | cached | peak RSS |")
        print("|---|---|---|---|---|---|---|")
        for number, (name, content) in enumerate(cases):
            out = work / f"out-{number}"
            child = subprocess.run(
                [sys.executable, __file__, "--repeat", str(args.repeat), "--one"]
                + [f"{content}::{out}"],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"| {name}: {r['handout_pages']} pages | {r['pdf_pages']} | {r['mb']:.1f} MB "
                f"| {r['first_s']:.2f} s | {r['warm_s']:.2f} s | {r['cached_ms']:.1f} ms "
                f"| {r['peak_mb']:.0f} MB |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
