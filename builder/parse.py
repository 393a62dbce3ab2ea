"""Stage 3, parse: front matter and Markdown of lessons, quiz YAML, handout pages."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from . import frontmatter, schema
from .cache import Cache
from .config import BuildConfig
from .discover import Layout, StepFile
from .errors import ContentError, Problem, Problems
from .model import KmsFile, KmsPage, Module, Question, Source, Step
from .yamlfile import LineDict, LineList, YamlSyntaxError, load

H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$")


def parse_steps(
    config: BuildConfig, layout: Layout, cache: Cache, problems: Problems
) -> list[Module]:
    """Parse every step file listed by the modules; keep the modules in the learner's order."""
    modules: list[Module] = []
    for module, files in layout.modules:
        module.steps = []
        for step_file in files:
            step = _parse_step(config, module, step_file, cache, problems)
            if step is not None:
                module.steps.append(step)
        modules.append(module)
    return modules


def _parse_step(
    config: BuildConfig, module: Module, step_file: StepFile, cache: Cache, problems: Problems
) -> Step | None:
    path = config.content / step_file.rel
    text = cache.read_text(path)
    source = Source(path, step_file.rel, text)
    kind = "lesson" if step_file.rel.endswith(".md") else "quiz"
    parser = parse_lesson if kind == "lesson" else parse_quiz
    step, found = cache.parse(kind, step_file.rel, text, lambda: _collect(parser, source))
    problems.extend(found)
    if step is not None:
        step.module_id = module.id
    return step  # type: ignore[no-any-return]


def _collect(parser: Any, source: Source) -> tuple[Step | None, list[Problem]]:
    problems = Problems()
    step = parser(source, problems)
    return step, problems.items


def parse_lesson(source: Source, problems: Problems) -> Step | None:
    """Parse a lesson: front matter fields, then the Markdown body."""
    try:
        front = frontmatter.read(source.text, source.path)
    except ContentError as exc:
        problems.extend(exc.problems)
        return None
    data, body, body_line = front.meta, front.body, front.body_line
    values = schema.read_fields(data, schema.LESSON, source.path, 1, problems)
    if not values or not values["id"]:
        return None
    lines = data.lines if isinstance(data, LineDict) else {}
    step = Step(
        "lesson", values["id"], values["title"] or "", source, body=body, body_line=body_line
    )
    step.lines = dict(lines)
    _lesson_media(step, values, lines, problems)
    if not body.strip() and step.video is None:
        problems.warning(source.path, body_line - 1, "lesson has neither a video nor any text")
    return step


def _lesson_media(
    step: Step, values: dict[str, Any], lines: dict[str, int], problems: Problems
) -> None:
    path = step.source.path
    video, duration, captions = values["video"], values["duration"], values["captions"]
    if video:
        if video.startswith("stream:"):
            if not schema.STREAM_UID.match(video[len("stream:") :]):
                problems.error(
                    path,
                    lines["video"],
                    f"invalid Stream video '{video}': expected stream:<32 hex digits uid>",
                )
            step.video = video
        else:
            step.video = module_relative(step.source.rel, video)
        if duration is None and "duration" not in lines:
            problems.error(path, lines["video"], "'duration' (seconds) is required with 'video'")
        step.duration = float(duration) if duration is not None else None
    elif duration is not None:
        problems.error(path, lines["duration"], "'duration' is set but there is no 'video'")
    if captions:
        if not video:
            problems.error(path, lines["captions"], "'captions' is set but there is no 'video'")
        elif not captions.lower().endswith(".vtt"):
            problems.error(
                path, lines["captions"], f"captions '{captions}' must be a WebVTT (.vtt) file"
            )
        step.captions = module_relative(step.source.rel, captions)


def module_relative(step_rel: str, target: str) -> str:
    """Resolve a path written in a step file to a content-relative path."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(step_rel), target))


def parse_quiz(source: Source, problems: Problems) -> Step | None:
    """Parse a quiz: built-in questions with answer keys, or a Tally form id."""
    try:
        data = load(source.text)
    except YamlSyntaxError as exc:
        problems.error(source.path, exc.line, exc.message)
        return None
    values = schema.read_fields(data, schema.QUIZ, source.path, 1, problems)
    if not values or not values["id"]:
        return None
    step = Step("quiz", values["id"], values["title"] or "", source, body=values["intro"])
    step.pass_mark = float(values["pass"])
    step.tally = values["tally"]
    lines = data.lines
    step.lines = dict(lines)
    step.body_line = lines.get("intro", 1)
    if values["questions"] and step.tally:
        problems.error(
            source.path, lines["tally"], "a quiz has either 'questions' or 'tally', not both"
        )
    elif values["questions"] is None and step.tally is None:
        problems.error(
            source.path, 1, "a quiz needs 'questions' (built-in) or 'tally' (a Tally form id)"
        )
    questions = values["questions"]
    if isinstance(questions, LineList):
        for item, line in zip(questions, questions.lines, strict=True):
            question = _question(item, line, source.path, problems)
            if question:
                step.questions.append(question)
    _quiz_gate(step, values, problems)
    return step


def _quiz_gate(step: Step, values: dict[str, Any], problems: Problems) -> None:
    """The quiz's gate: feedback, pacing and draw, checked against its questions."""
    path, lines = step.source.path, step.lines
    step.feedback, step.attempts, step.draw = values["feedback"], values["attempts"], values["draw"]
    step.cooldown = tuple(schema.duration_seconds(v) or 0.0 for v in values["cooldown"])
    if step.tally:
        for key in ("feedback", "draw"):
            if key in lines:
                problems.error(
                    path,
                    lines[key],
                    f"'{key}' applies to built-in questions; a Tally form shows its own "
                    "feedback and questions (set them in Tally)",
                )
        step.draw = None
        return
    pool = len(values["questions"] or [])
    if step.draw is not None and pool and step.draw > pool:
        problems.error(
            path,
            lines["draw"],
            f"'draw' must be at most the number of questions in the pool ({pool}), got {step.draw}",
        )


def _question(data: Any, line: int, path: Path, problems: Problems) -> Question | None:
    values = schema.read_fields(data, schema.QUESTION, path, line, problems)
    if (
        not values
        or values["prompt"] is None
        or values["choices"] is None
        or values["answer"] is None
    ):
        return None
    choices = values["choices"]
    choice_line = data.lines.get("choices", line)
    if len(choices) < 2:
        problems.error(path, choice_line, "a question needs at least two choices")
        return None
    if any(not isinstance(c, str | int | float) or isinstance(c, bool) for c in choices):
        problems.error(path, choice_line, "every choice must be text")
        return None
    answer = values["answer"]
    answers = list(answer) if isinstance(answer, list) else [answer]
    answer_line = data.lines.get("answer", line)
    if not answers:
        problems.error(path, answer_line, "'answer' must name at least one choice")
        return None
    for index in answers:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(choices):
            problems.error(
                path,
                answer_line,
                f"answer {index!r} is not a choice index (0 to {len(choices) - 1})",
            )
            return None
    if len(set(answers)) != len(answers):
        problems.error(path, answer_line, "'answer' lists the same choice twice")
        return None
    text_choices = [str(c) for c in choices]
    multiple = isinstance(answer, list)
    return Question(
        values["prompt"], text_choices, sorted(answers), values["explain"], line, multiple
    )


def parse_kms(
    config: BuildConfig, layout: Layout, modules: list[Module], cache: Cache, problems: Problems
) -> tuple[list[KmsPage], list[KmsFile]]:
    """Sort handout files into pages and downloads, grouped by module id."""
    module_ids = {m.id for m in modules}
    pages: list[KmsPage] = []
    files: list[KmsFile] = []
    for rel in layout.kms:
        parts = rel.split("/")
        group = parts[1] if len(parts) > 2 else ""
        path = config.content / rel
        if group and group not in module_ids:
            if layout.unread:  # its module.yaml has errors of its own: the folder may be fine
                continue
            problems.error(
                path,
                1,
                f"handout folder 'kms/{group}' does not match any module id "
                f"({', '.join(sorted(module_ids))})",
            )
            continue
        if rel.endswith(".md"):
            text = cache.read_text(path)
            source = Source(path, rel, text)
            page, found = cache.parse("kms", rel, text, lambda s=source, g=group: _kms_page(s, g))
            problems.extend(found)
            pages.append(page)
        else:
            files.append(KmsFile(rel, "/" + rel, group, path.stat().st_size))
    return pages, files


def _kms_page(source: Source, group: str) -> tuple[KmsPage, list[Problem]]:
    found = Problems()
    cut = frontmatter.split(source.text)
    body, body_line = cut.body, cut.body_line
    if cut.yaml is not None:
        found.error(source.path, 1, "handout pages take no front matter: start with '# Title'")
    title = ""
    for line in body.splitlines():
        match = H1.match(line)
        if match:
            title = match.group(1)
            break
        if line.strip():
            break
    if not title:
        title = Path(source.rel).stem.replace("-", " ").replace("_", " ").capitalize()
    url = "/" + source.rel[: -len(".md")] + ".html"
    if url.endswith("/index.html"):
        url = url[: -len("index.html")]
    return KmsPage(source.rel, url, group, title, source, body, body_line), found.items
