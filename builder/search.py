"""Stage 5b, search: a Pagefind index of the handout, one per module, gated like its pages.

Pagefind (the binary the `pagefind[bin]` package ships) indexes the rendered handout pages of
each module into `kms/<module>/_search/`, and the general pages (`kms/index.html` among them)
into `kms/_search/`. The gate protects every index exactly like the pages it was made from, so
a learner's browser can only merge the indexes of the parts of the handout it may open.

Each index is kept beside the private manifest, in a folder named by a digest of its inputs
(the pages' bytes, the course language, the binary), so a build whose handout pages did not
change runs nothing and reuses the files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .assets import Output
from .cache import digest
from .config import BuildConfig
from .errors import ConfigError, Problem
from .model import Course

SEARCH_DIR = "_search"  # module ids start with a letter or digit: no handout folder clashes
GENERAL = "_general"  # the cache folder of the general index
FORMAT = "1"  # bump when what an index holds changes: every cached index is rebuilt
# What the browser needs: the general index also carries the script and its web worker.
INDEX_FILES = ("pagefind-entry.json", "pagefind.{lang}_*.pf_meta", "wasm.{lang}.pagefind")
SCRIPT_FILES = ("pagefind.js", "pagefind-worker.js")
CHUNK_DIRS = ("index", "fragment", "filter")


class SearchError(ConfigError):
    """Pagefind is missing or failed: an installation problem, not the author's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.problems = [_Unplaced("pagefind", 1, message)]  # what serve logs and shows


class _Unplaced(Problem):
    """A problem with no file and line in the course: shown as its message alone."""

    def __str__(self) -> str:
        return self.message


@dataclass
class Index:
    """One search index: the handout pages it covers and where it goes in the site."""

    name: str  # module id, or GENERAL
    site_dir: str  # e.g. kms/SOM01/_search
    pages: dict[str, bytes] = field(default_factory=dict)  # site path -> rendered page

    @property
    def url(self) -> str:
        return f"/{self.site_dir}/"


@dataclass
class SearchResult:
    outputs: dict[str, Output] = field(default_factory=dict)
    indexed: int = 0  # indexes Pagefind had to build (the others were reused)
    total: int = 0


def index_urls(course: Course) -> dict[str, object]:
    """The index URLs a handout page lists: the general one and one per module with pages."""
    modules = {p.group for p in course.kms_pages if p.group}
    return {
        "root": f"/kms/{SEARCH_DIR}/",
        "modules": [f"/kms/{m.id}/{SEARCH_DIR}/" for m in course.modules if m.id in modules],
    }


def plan(course: Course, outputs: dict[str, Output]) -> list[Index]:
    """Group the rendered handout pages by index (never kms/locked.html, never downloads)."""
    general = Index(GENERAL, f"kms/{SEARCH_DIR}")
    by_module = {m.id: Index(m.id, f"kms/{m.id}/{SEARCH_DIR}") for m in course.modules}
    paths = [(p.group, page_path(p.url)) for p in course.kms_pages]
    if "kms/index.md" not in {p.rel for p in course.kms_pages}:
        paths.append(("", "kms/index.html"))  # the handout's generated front page
    for group, path in paths:
        page = outputs[path]
        assert isinstance(page, bytes)
        (by_module[group] if group else general).pages[path] = page
    return [general, *(i for i in by_module.values() if i.pages)]


def page_path(url: str) -> str:
    """The site path of a handout page URL: /kms/ -> kms/index.html."""
    return url.lstrip("/") + ("index.html" if url.endswith("/") else "")


def build_indexes(
    config: BuildConfig, course: Course, outputs: dict[str, Output], *, reuse: bool
) -> SearchResult:
    """Index the handout pages; reuse a cached index whose inputs are unchanged if `reuse`."""
    binary = executable()
    stat = binary.stat()
    tool = f"{binary}:{stat.st_size}:{stat.st_mtime_ns}"
    cache_root = config.private / "search"
    indexes = plan(course, outputs)
    targets: dict[str, Path] = {}
    todo: list[tuple[Index, Path]] = []
    for index in indexes:
        key = _key(index, course.language, tool)
        target = cache_root / index.name / key
        targets[index.name] = target
        if not (reuse and target.is_dir()):
            todo.append((index, target))
    if todo:
        workers = min(len(todo), config.jobs or os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda job: _run(binary, course.language, *job), todo))
    _forget_others(cache_root, targets)
    result = SearchResult(indexed=len(todo), total=len(indexes))
    for index in indexes:
        for name, path in _files(targets[index.name]):
            result.outputs[f"{index.site_dir}/{name}"] = path
    return result


def executable() -> Path:
    """Find Pagefind's binary (PAGEFIND_BINARY_PATH, else the one `pagefind[bin]` installed)."""
    from pagefind.service import get_executable

    found = get_executable()
    if found is None or not found.is_file():
        raise SearchError(
            "Pagefind's binary was not found, so the handout cannot be indexed: "
            "python3 -m pip install 'pagefind[bin]' (or set PAGEFIND_BINARY_PATH)"
        )
    return found


def _key(index: Index, language: str, tool: str) -> str:
    parts = [FORMAT, language, tool, index.site_dir]
    for path in sorted(index.pages):
        page = index.pages[path]
        parts.append(f"{path}={getattr(page, 'digest', None) or digest(page)}")
    return digest("\n".join(parts).encode())


def _run(binary: Path, language: str, index: Index, target: Path) -> None:
    """Run Pagefind on the index's pages; keep only what the browser loads, then swap it in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pagefind-", dir=target.parent) as tmp:
        source, bundle = Path(tmp) / "site", Path(tmp) / "bundle"
        for path, page in index.pages.items():
            file = source / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(page)
        command = [str(binary), "--site", str(source), "--output-path", str(bundle)]
        command += ["--force-language", language, "--silent"]
        done = subprocess.run(command, cwd=tmp, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not (bundle / "pagefind-entry.json").is_file():
            output = (done.stderr or done.stdout).strip()
            raise SearchError(f"Pagefind failed to index {index.url} ({done.returncode}): {output}")
        _prune(bundle, language, general=index.name == GENERAL)
        shutil.rmtree(target, ignore_errors=True)  # a stale copy (a cold build redoes it)
        bundle.rename(target)


def _prune(bundle: Path, language: str, general: bool) -> None:
    """Drop Pagefind's UI kits and other languages: the site has its own search box."""
    keep = {n for pattern in INDEX_FILES for n in _glob(bundle, pattern.format(lang=language))}
    if general:
        keep.update(SCRIPT_FILES)
    for entry in bundle.iterdir():
        if entry.is_dir() and entry.name not in CHUNK_DIRS:
            shutil.rmtree(entry)
        elif entry.is_file() and entry.name not in keep:
            entry.unlink()


def _glob(folder: Path, pattern: str) -> list[str]:
    return [p.name for p in folder.glob(pattern)]


def _files(folder: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        rel = os.path.relpath(dirpath, folder)
        for name in sorted(filenames):
            found.append((name if rel == "." else f"{rel}/{name}", Path(dirpath) / name))
    return found


def _forget_others(cache_root: Path, keep: dict[str, Path]) -> None:
    """Remove cached indexes of older inputs and of modules that no longer have pages."""
    if not cache_root.is_dir():
        return
    wanted = set(keep.values())
    for group in cache_root.iterdir():
        if not group.is_dir():
            continue
        for entry in group.iterdir():
            if entry not in wanted:  # builds take turns: no other build's work is in here
                shutil.rmtree(entry, ignore_errors=True)
        if group.name not in keep and not any(group.iterdir()):
            group.rmdir()
