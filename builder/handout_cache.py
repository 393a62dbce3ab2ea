"""Where handout PDFs are kept between builds, by the digest of everything that shapes them.

Three places, nearest first: this process (serve's edits, a test run's many small builds), the
private directory beside the manifest (this site's next build), and a per-user cache shared by
every build on the machine (`$XDG_CACHE_HOME/sillon/handout-pdf`, the newest few PDFs), so a
fresh checkout, another output directory or another process with the same handout does not lay
it out again. An entry is `<key>.pdf` and `<key>.json` (page count and the PDF's digest, checked
on the way in); an unreadable or damaged entry is a miss.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .cache import digest
from .render import Page

PRIVATE = "handout-pdf"  # folder in the private directory: the last PDF only
KEEP_SHARED = 16
MEMO_SIZE = 4

Entry = tuple[Page, int]  # the PDF and its page count

_memo: dict[str, Entry] = {}  # newest last


def shared_dir() -> Path:
    """The per-user cache folder (XDG_CACHE_HOME, else ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sillon" / "handout-pdf"


def load(key: str, private: Path | None) -> Entry | None:
    """Find the PDF for `key`; `private` None (--no-cache) looks in this process only."""
    hit = _memo.get(key)
    if hit is None and private is not None:
        hit = _read(private / PRIVATE, key) or _read(shared_dir(), key)
    if hit is not None:
        remember(key, hit)
    return hit


def save(key: str, entry: Entry, private: Path | None) -> None:
    """Keep a new PDF in this process and, unless --no-cache, on disk."""
    remember(key, entry)
    if private is None:
        return
    _write(private / PRIVATE, key, entry, keep=1)
    _write(shared_dir(), key, entry, keep=KEEP_SHARED)


def remember(key: str, entry: Entry) -> None:
    _memo.pop(key, None)
    _memo[key] = entry
    while len(_memo) > MEMO_SIZE:
        del _memo[next(iter(_memo))]


def forget() -> None:
    """Empty this process's memory (the disk caches stay)."""
    _memo.clear()


def _read(folder: Path, key: str) -> Entry | None:
    try:
        meta = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
        data = (folder / f"{key}.pdf").read_bytes()
        pages = int(meta["pages"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if digest(data) != meta.get("digest"):
        return None
    try:
        os.utime(folder / f"{key}.json")  # recently used: kept longest
    except OSError:
        pass
    return Page.of(data), pages


def _write(folder: Path, key: str, entry: Entry, keep: int) -> None:
    """Write one entry (each file atomically), then drop the oldest beyond `keep`."""
    data, pages = entry
    meta = json.dumps({"pages": pages, "digest": data.digest}).encode()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in ((f"{key}.pdf", bytes(data)), (f"{key}.json", meta)):
            tmp = folder / f".{name}.{os.getpid()}.tmp"
            tmp.write_bytes(content)
            tmp.replace(folder / name)
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[keep:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".pdf").unlink(missing_ok=True)
    except OSError:
        return  # a read-only home or a full disk costs a re-render next time, nothing more
