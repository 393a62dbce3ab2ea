"""The lessons an upload reads and rewrites: a lesson's video and duration, and its front matter
pointed at Stream afterwards (`video: stream:<uid>`, every other byte kept).

Front matter is read by the build's own reader (builder/frontmatter.py), so the uploader and the
build agree on a lesson's fields and report the same `path:line: message` errors.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from builder import frontmatter
from builder.errors import ContentError
from builder.yamlfile import LineDict

from .errors import CommandError

STREAM_PREFIX = "stream:"
VIDEO_LINE = re.compile(
    r"^video[ \t]*:(?P<value>[^\r\n]*?)(?P<comment>[ \t]+#[^\r\n]*)?(?P<eol>\r\n|\n|\r)?\Z"
)
DURATION_LINE = re.compile(r"^duration[ \t]*:")


@dataclass
class Lesson:
    """A lesson's front matter, as far as the upload needs it."""

    path: Path
    title: str
    module_id: str
    video: str | None
    duration: float | None

    @property
    def video_path(self) -> Path:
        """The local video, relative to the module directory."""
        assert self.video is not None
        return self.path.parent / self.video

    @property
    def on_stream(self) -> bool:
        """Whether the video is already `stream:<uid>`."""
        return bool(self.video and self.video.startswith(STREAM_PREFIX))


def read_lesson(path: Path) -> Lesson:
    """Read a lesson and its module's id (from the module.yaml beside it)."""
    if not path.is_file():
        raise CommandError(f"no such lesson: {path}")
    data = _front_matter(path.read_text(encoding="utf-8"), path)
    module_yaml = path.parent / "module.yaml"
    try:
        module = yaml.safe_load(module_yaml.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        message = f"{path}: cannot read its module's {module_yaml.name}: {exc}"
        raise CommandError(message) from exc
    video, duration = data.get("video"), data.get("duration")
    seconds = None
    if isinstance(duration, int | float) and not isinstance(duration, bool) and duration > 0:
        seconds = float(duration)
    return Lesson(
        path=path,
        title=str(data.get("title") or path.stem),
        module_id=str(module.get("id") or path.parent.name) if isinstance(module, dict) else "",
        video=str(video) if video else None,
        duration=seconds,
    )


def format_seconds(seconds: float) -> str:
    """9 -> "9", 9.04 -> "9.04": a duration for the front matter."""
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


def rewrite_front_matter(text: str, uid: str, duration: str | None) -> str:
    """Set `video: stream:<uid>` (and `duration:` if given); every other byte stays."""
    lines = text.splitlines(keepends=True)
    close = frontmatter.split(text).end
    video_at = next((i for i in range(1, close) if VIDEO_LINE.match(lines[i])), None)
    if video_at is None:
        raise CommandError("the front matter has no 'video:' line to rewrite")
    match = VIDEO_LINE.match(lines[video_at])
    assert match is not None
    eol = match["eol"] or "\n"
    lines[video_at] = f"video: {STREAM_PREFIX}{uid}{match['comment'] or ''}{eol}"
    if duration is not None:
        new = f"duration: {duration}{eol}"
        duration_at = next((i for i in range(1, close) if DURATION_LINE.match(lines[i])), None)
        if duration_at is None:
            lines.insert(video_at + 1, new)
        else:
            lines[duration_at] = new
    return "".join(lines)


def probe_duration(video: Path) -> float:
    """The video's length in seconds, measured by ffprobe."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise CommandError(
            f"cannot tell the duration of {video}: the lesson has no 'duration:' and ffprobe "
            "is not installed (add 'duration: <seconds>' or install ffmpeg)",
        )
    command = [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
    result = subprocess.run(
        [*command, str(video)], capture_output=True, text=True, check=False, timeout=120
    )
    try:
        seconds = float(result.stdout.strip())
    except ValueError:
        seconds = 0.0
    if result.returncode != 0 or seconds <= 0:
        raise CommandError(
            f"ffprobe cannot read the duration of {video}: add 'duration: <seconds>' to the lesson",
        )
    return seconds


@dataclass(frozen=True)
class LessonPlan:
    """One lesson to upload: its video, the Stream name and the duration to write (if any)."""

    lesson: Lesson
    name: str
    new_duration: str | None


def plan_lesson(path: Path, name: str | None = None) -> LessonPlan | None:
    """Check a lesson before uploading anything; None if its video is already on Stream."""
    lesson = read_lesson(path)
    if lesson.video is None:
        raise CommandError(f"{path}: the lesson has no 'video:' to upload")
    if lesson.on_stream:
        return None
    if not lesson.video_path.is_file():
        raise CommandError(f"{path}: no such video file: {lesson.video_path}")
    new_duration = None
    if lesson.duration is None:
        new_duration = format_seconds(probe_duration(lesson.video_path))
    return LessonPlan(lesson, name or f"{lesson.module_id} - {lesson.title}", new_duration)


def course_lessons(content: Path) -> Iterator[Path]:
    """Every lesson file of the course, in the learner's order."""
    course_yaml = content / "course.yaml"
    if not course_yaml.is_file():
        raise CommandError(f"no course.yaml in {content}")
    course = yaml.safe_load(course_yaml.read_text(encoding="utf-8")) or {}
    for module_dir in course.get("modules") or []:
        module_yaml = content / "modules" / str(module_dir) / "module.yaml"
        if not module_yaml.is_file():
            raise CommandError(f"no such module: {module_yaml}")
        module = yaml.safe_load(module_yaml.read_text(encoding="utf-8")) or {}
        for step in module.get("steps") or []:
            if str(step).endswith(".md"):
                yield module_yaml.parent / str(step)


def plan_all(content: Path) -> tuple[list[LessonPlan], int]:
    """Plans for every lesson with a local video, and how many are already on Stream."""
    plans, on_stream = [], 0
    for path in course_lessons(content):
        if read_lesson(path).video is None:
            continue
        plan = plan_lesson(path)
        if plan is None:
            on_stream += 1
        else:
            plans.append(plan)
    return plans, on_stream


def _front_matter(text: str, path: Path) -> LineDict:
    """The lesson's fields, or its first `path:line: message` as the command's error."""
    try:
        return frontmatter.read(text, path).meta
    except ContentError as exc:
        raise CommandError(str(exc.problems[0])) from None
