"""The build's exception family and the problems it reports as `path:line: message`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the content, at a file and a line."""

    path: str
    line: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}: {prefix}{self.message}"


@dataclass
class Problems:
    """Collects every problem of a run so all of them are reported at once."""

    items: list[Problem] = field(default_factory=list)

    def error(self, path: Path | str, line: int, message: str) -> None:
        """Record an error at `path:line`."""
        self.items.append(Problem(str(path), max(line, 1), message, "error"))

    def warning(self, path: Path | str, line: int, message: str) -> None:
        """Record a warning at `path:line`."""
        self.items.append(Problem(str(path), max(line, 1), message, "warning"))

    def extend(self, problems: list[Problem]) -> None:
        """Add problems found elsewhere (a worker process, a cache)."""
        self.items.extend(problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]

    def fatal(self, strict: bool) -> bool:
        """Tell whether the build must stop: errors, or warnings under --strict."""
        return bool(self.errors) or (strict and bool(self.warnings))

    def sorted(self) -> list[Problem]:
        """Return the problems in file and line order, without repeats."""
        return sorted(set(self.items), key=lambda p: (p.path, p.line, p.message))


class BuildError(Exception):
    """The build cannot go on; carries the problems to show the author."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class ConfigError(BuildError):
    """The command line or the build settings are wrong (not the course content)."""

    def __init__(self, message: str) -> None:
        super().__init__([])
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


class ContentError(BuildError):
    """The course content has errors (or warnings under --strict)."""
