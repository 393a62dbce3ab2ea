"""Rendered Markdown kept between runs, so a full build re-renders only what changed.

The cache lives beside the private manifest (never in site/). Its entries are keyed by each
document's text and checked against the digests of the files they reference, exactly like the
in-memory cache serve keeps; any change to the Markdown stack or to our renderer starts afresh.
"""

from __future__ import annotations

import pickle
from importlib.metadata import version
from pathlib import Path
from typing import Any

from . import markdown_html
from .cache import Cache, digest

FILE = "markdown-cache.pickle"


def renderer_version() -> str:
    """Identify everything that shapes rendered HTML: libraries and our own renderer."""
    parts = [version(name) for name in ("markdown", "pymdown-extensions", "pygments")]
    parts.append(Path(markdown_html.__file__).read_text(encoding="utf-8"))
    return digest("\n".join(parts).encode())


def load(directory: Path, cache: Cache) -> None:
    """Fill an empty cache from disk; a missing, stale or unreadable file is simply ignored."""
    path = directory / FILE
    if cache.markdown or not path.is_file():
        return
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = pickle.load(handle)  # noqa: S301 - our own file
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return
    if data.get("version") == renderer_version():
        cache.markdown = data["entries"]


def save(directory: Path, cache: Cache) -> None:
    """Write the cache when this build rendered anything new."""
    if not cache.rendered_count:
        return
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{FILE}.tmp"
    with tmp.open("wb") as handle:
        pickle.dump({"version": renderer_version(), "entries": cache.markdown}, handle, protocol=5)
    tmp.replace(directory / FILE)
