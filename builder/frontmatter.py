"""Front matter: the `---` YAML block that opens a lesson, read here and only here.

The build's parse stage and the operator's uploader (ops/) read lessons through `read`, so both
see the same fields at the same lines and report the same `path:line: message` errors. An
unclosed block runs to the end of the file (the YAML then says what is wrong).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ContentError, Problem
from .yamlfile import LineDict, YamlSyntaxError, load

FENCE = re.compile(r"^(---|\.\.\.)\s*$")
MISSING = "missing front matter: start the file with '---', id and title, then '---'"


@dataclass(frozen=True)
class Split:
    """A text cut at its front matter, before any YAML is read."""

    yaml: str | None  # None: the text does not open with '---'
    body: str
    body_line: int  # the body's first line in the file (1-based)
    end: int  # the closing fence's index in text.splitlines() (the line count if unclosed)


@dataclass(frozen=True)
class FrontMatter:
    """A lesson's fields, each with its line (`meta.lines`), and the Markdown body below them."""

    meta: LineDict
    body: str
    body_line: int
    end: int  # the closing fence's index in text.splitlines(): lines 1 to end-1 are the YAML


def split(text: str) -> Split:
    """Cut `---` front matter from the body, without reading it."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return Split(None, text, 1, 0)
    for index in range(1, len(lines)):
        if FENCE.match(lines[index]):
            return Split("".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2, index)
    return Split("".join(lines[1:]), "", len(lines) + 1, len(lines))


def read(text: str, path: Path) -> FrontMatter:
    """Read a lesson's front matter; raise ContentError (`path:line: message`) if it is wrong."""
    cut = split(text)
    if cut.yaml is None:
        raise _error(path, 1, MISSING)
    try:
        meta = load(cut.yaml, first_line=2)
    except YamlSyntaxError as exc:
        raise _error(path, exc.line, exc.message) from None
    if not isinstance(meta, LineDict):
        got = "nothing" if meta is None else type(meta).__name__
        raise _error(path, 1, f"expected a mapping of lesson fields, got {got}")
    return FrontMatter(meta, cut.body, cut.body_line, cut.end)


def _error(path: Path, line: int, message: str) -> ContentError:
    return ContentError([Problem(str(path), max(line, 1), message)])
