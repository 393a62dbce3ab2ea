"""Stage 4, validate: what no single file can tell, checked across the whole course."""

from __future__ import annotations

from .cache import Cache
from .config import BuildConfig
from .errors import Problems
from .model import Course, Step

VIDEO_SUFFIXES = (".mp4", ".m4v", ".webm", ".ogv", ".mov")


def validate(config: BuildConfig, course: Course, cache: Cache, problems: Problems) -> None:
    """Check ids are unique and referenced media exist; report every problem found."""
    if not course.steps and course.modules and not problems.errors:
        # Only when nothing else explains it: steps that did not parse were reported already.
        problems.error(course.source.path, 1, "the course has no steps")
    _unique_modules(course, problems)
    _unique_steps(course, problems)
    for step in course.steps:
        if step.kind == "lesson":
            _media(config, step, cache, problems)


def _unique_modules(course: Course, problems: Problems) -> None:
    seen: dict[str, str] = {}
    for module in course.modules:
        where = f"{module.source.path}:{_line(module.source.text, 'id:')}"
        if module.id in seen:
            problems.error(
                module.source.path,
                _line(module.source.text, "id:"),
                f"duplicate module id '{module.id}' (also in {seen[module.id]})",
            )
        else:
            seen[module.id] = where


def _unique_steps(course: Course, problems: Problems) -> None:
    seen: dict[str, str] = {}
    for step in course.steps:
        line = step.lines.get("id", 1)
        if step.id in seen:
            problems.error(
                step.source.path, line, f"duplicate step id '{step.id}' (also in {seen[step.id]})"
            )
        else:
            seen[step.id] = f"{step.source.path}:{line}"


def _media(config: BuildConfig, step: Step, cache: Cache, problems: Problems) -> None:
    path = step.source.path
    if step.video and not step.is_stream:
        line = step.lines.get("video", 1)
        if not step.video.lower().endswith(VIDEO_SUFFIXES):
            problems.error(
                path,
                line,
                f"video '{step.video}' must be a {', '.join(VIDEO_SUFFIXES)} file or stream:<uid>",
            )
        elif _outside(step.video) or cache.file_digest(config.content / step.video) is None:
            problems.error(path, line, f"video file not found: {config.content / step.video}")
    if step.captions:
        line = step.lines.get("captions", 1)
        if _outside(step.captions) or cache.file_digest(config.content / step.captions) is None:
            problems.error(path, line, f"captions file not found: {config.content / step.captions}")
    elif step.video:
        problems.warning(
            path, step.lines.get("video", 1), "video has no captions (add 'captions: <file>.vtt')"
        )


def _outside(rel: str) -> bool:
    return rel.startswith("../") or rel == ".." or rel.startswith("/")


def _line(text: str, prefix: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(prefix):
            return number
    return 1
