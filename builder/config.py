"""Stage 1, load config: the build's settings and the course's own course.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import schema
from .cache import Cache
from .errors import ConfigError, Problems
from .model import Course, Source
from .yamlfile import LineList, YamlSyntaxError, load


@dataclass(frozen=True)
class BuildConfig:
    """Where to read and write, and how strictly: everything the command line sets."""

    content: Path
    out: Path
    private: Path  # the API's course manifest goes here, never inside `out`
    strict: bool = False
    dev: bool = False  # serve mode: also write the author preview page
    templates: Path = Path(__file__).resolve().parent.parent / "templates"
    static: Path = Path(__file__).resolve().parent.parent / "static"
    jobs: int = 0  # worker processes for Markdown; 0 = one per core
    disk_cache: bool = True  # keep rendered Markdown between runs (beside the private manifest)

    @classmethod
    def make(
        cls,
        content: str | Path = "content",
        out: str | Path = "site",
        private: str | Path | None = None,
        **options: Any,
    ) -> BuildConfig:
        """Build a config from command-line style values, checking the paths exist."""
        content_path = Path(content)
        out_path = Path(out)
        if not (content_path / "course.yaml").is_file():
            raise ConfigError(f"{content_path}: no course.yaml here (is --content right?)")
        out_abs = out_path.resolve()
        if private:
            private_path = Path(private)
        else:
            private_path = out_abs.with_name(out_abs.name + "-private") if out_abs.name else out_abs
        private_abs = private_path.resolve()
        if private_abs == out_abs or out_abs in private_abs.parents:
            raise ConfigError(f"{private_path}: the private manifest must be outside {out_path}")
        content_abs = content_path.resolve()
        if (
            out_abs == content_abs
            or out_abs in content_abs.parents
            or content_abs in out_abs.parents
        ):
            raise ConfigError(f"{out_path}: the output and content directories must be apart")
        return cls(content=content_path, out=out_path, private=private_path, **options)


@dataclass
class CourseFile:
    """course.yaml read and checked: the course (without modules yet) and its module list."""

    course: Course
    module_dirs: list[tuple[str, int]]  # (directory name, line in course.yaml)


def load_course(config: BuildConfig, cache: Cache, problems: Problems) -> CourseFile | None:
    """Read course.yaml; report every problem in it; None if it cannot be used at all."""
    path = config.content / "course.yaml"
    text = cache.read_text(path)
    source = Source(path, "course.yaml", text)
    try:
        data = load(text)
    except YamlSyntaxError as exc:
        problems.error(path, exc.line, exc.message)
        return None
    values = schema.read_fields(data, schema.COURSE, path, 1, problems)
    if not values:
        return None
    kms_line = data.lines.get("kms", 1) if hasattr(data, "lines") else 1
    kms = schema.read_fields(values["kms"] or {}, schema.KMS, path, kms_line, problems)
    course = Course(
        title=values["title"] or "",
        description=values["description"],
        author=values["author"],
        language=values["language"],
        playback_max_rate=float(values["playback_max_rate"]),
        completion=float(values["completion"]),
        kms_unlock=kms.get("unlock", "end"),
        kms_pdf=bool(kms.get("pdf", True)),
        source=source,
    )
    return CourseFile(course, _module_dirs(values["modules"], path, problems))


def _module_dirs(modules: Any, path: Path, problems: Problems) -> list[tuple[str, int]]:
    if not isinstance(modules, LineList):
        return []
    result: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    for name, line in zip(modules, modules.lines, strict=True):
        if not isinstance(name, str) or not name.strip():
            problems.error(path, line, f"module entry must be a directory name, got {name!r}")
            continue
        if "/" in name or "\\" in name or name.startswith("."):
            problems.error(
                path, line, f"module '{name}' must be a plain directory name under modules/"
            )
            continue
        if name in seen:
            problems.error(
                path, line, f"module '{name}' is listed twice (first at line {seen[name]})"
            )
            continue
        seen[name] = line
        result.append((name, line))
    return result
