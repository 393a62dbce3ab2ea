"""What a build remembers for the next one: file texts, digests, parsed and rendered results.

A cold `build` starts empty; `serve` keeps one Cache for its whole life, so an edit re-reads,
re-parses and re-renders only the files that changed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def digest(data: bytes) -> str:
    """Return the content hash used for fingerprints and cache keys."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass
class Cache:
    texts: dict[Path, tuple[int, int, str]] = field(default_factory=dict)
    digests: dict[Path, tuple[int, int, str]] = field(default_factory=dict)
    parsed: dict[tuple[str, str], tuple[str, Any]] = field(default_factory=dict)
    markdown: dict[tuple[str, int, bool, str], Any] = field(default_factory=dict)
    rendered: dict[tuple[str, ...], Any] = field(default_factory=dict)  # -> render.Page
    written: dict[str, str] = field(default_factory=dict)  # site path -> digest last written
    rendered_count: int = 0  # Markdown documents the last build had to render (not cached)

    def read_text(self, path: Path) -> str:
        """Read a UTF-8 file, reusing the last read while its mtime and size are unchanged."""
        st = os.stat(path)
        hit = self.texts.get(path)
        if hit and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
            return hit[2]
        text = path.read_bytes().decode("utf-8")
        self.texts[path] = (st.st_mtime_ns, st.st_size, text)
        return text

    def file_digest(self, path: Path) -> str | None:
        """Return the content hash of a file (None if it is missing), cached by mtime and size."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        hit = self.digests.get(path)
        if hit and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
            return hit[2]
        value = digest(path.read_bytes())
        self.digests[path] = (st.st_mtime_ns, st.st_size, value)
        return value

    def parse(self, kind: str, rel: str, text: str, parse: Any) -> Any:
        """Return parse(text) for this file, reused while its text is unchanged."""
        hit = self.parsed.get((kind, rel))
        if hit and hit[0] == text:
            return hit[1]
        result = parse()
        self.parsed[(kind, rel)] = (text, result)
        return result
