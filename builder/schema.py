"""Declarations of every content field: type, default and help, checked in one place.

The declarations are the reference: the README's authoring tables are generated from them
(`python build.py fields`) and a test checks that every field is documented there.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Problems
from .yamlfile import LineDict

REQUIRED: Any = object()
# As the brief writes them (SOM12.01, PA06.2): an id names a file (steps/<id>.html), a URL
# fragment (/learn/#<id>) and an xAPI IRI, so it holds no space, slash or other punctuation.
STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TALLY_ID = re.compile(r"^[A-Za-z0-9]{3,32}$")
STREAM_UID = re.compile(r"^[0-9a-f]{32}$")

Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Field:
    """One key of a YAML mapping the author writes."""

    name: str
    kinds: tuple[type, ...]
    help: str
    default: Any = REQUIRED
    check: Check | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def type_name(self) -> str:
        if self.kinds == (int, float):
            return "a number"
        if self.kinds == (int, list):
            return "a choice index or a list of indices"
        names = {
            str: "text",
            int: "an integer",
            float: "a number",
            list: "a list",
            dict: "a mapping",
            bool: "true or false",
        }
        return " or ".join(names.get(k, k.__name__) for k in self.kinds)


@dataclass(frozen=True)
class Schema:
    """The fields allowed in one kind of file (or nested mapping)."""

    name: str
    where: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _one_of(*values: str) -> Check:
    def check(value: Any) -> str | None:
        if value in values:
            return None
        return f"must be one of {', '.join(values)} (got {value!r})"

    return check


def _between(low: float, high: float, *, low_open: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if (value > low if low_open else value >= low) and value <= high:
            return None
        bracket = "(" if low_open else "["
        return f"must be in {bracket}{low:g}, {high:g}] (got {value!r})"

    return check


def _step_id(value: Any) -> str | None:
    if STEP_ID.match(value):
        return None
    squeezed = "".join(value.split())
    if squeezed != value and STEP_ID.match(squeezed):
        return (
            f"invalid id {value!r}: ids name files and addresses, so they hold no spaces; "
            f"write '{squeezed}'"
        )
    return (
        f"invalid id {value!r}: use letters, digits, '.', '-' and '_' (at most 64, "
        "starting with a letter or digit)"
    )


def _positive(value: Any) -> str | None:
    return None if value > 0 else f"must be a positive number of seconds (got {value!r})"


def _tally(value: Any) -> str | None:
    return None if TALLY_ID.match(value) else f"invalid Tally form id {value!r}"


def _nonempty(value: Any) -> str | None:
    return None if len(value) else "must not be empty"


def _at_least_one(value: Any) -> str | None:
    return None if value >= 1 else f"must be at least 1 (got {value!r})"


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: Any) -> float | None:
    """A duration the author wrote (`90`, `90s`, `5m`, `2h`, `1d`) in seconds; None if not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    match = DURATION.match(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        return None
    return float(match.group(1)) * UNIT_SECONDS[match.group(2) or "s"]


def _durations(value: Any) -> str | None:
    if not value:
        return "must list at least one duration"
    for item in value:
        if duration_seconds(item) is None:
            return f"must be a list of positive durations such as 30s, 5m, 2h or 1d (got {item!r})"
    return None


KMS = Schema(
    "kms",
    "course.yaml `kms:`",
    (
        Field(
            "unlock",
            (str,),
            "When learners may open the handout: `end` (course finished), `module` (each "
            "module's pages once that module is finished) or `start`.",
            "end",
            _one_of("end", "module", "start"),
        ),
        Field(
            "pdf",
            (bool,),
            "Build the printable handout (`kms/handout.pdf`, WeasyPrint) and offer it for "
            "download; `false` for a very large handout (about 0.2 s a PDF page to lay out).",
            True,
        ),
    ),
)

COURSE = Schema(
    "course",
    "course.yaml",
    (
        Field("title", (str,), "The course title, shown on every page."),
        Field("description", (str,), "One or two sentences under the title (Markdown).", ""),
        Field("author", (str,), "Who teaches the course, shown on the home page.", ""),
        Field(
            "language",
            (str,),
            "Language of the interface: `fr` or `en`.",
            "fr",
            _one_of("fr", "en"),
        ),
        Field(
            "modules",
            (list,),
            "Module directory names under `modules/`, in the learner's order.",
            check=_nonempty,
        ),
        Field(
            "playback_max_rate",
            (int, float),
            "Highest playback speed learners may choose.",
            2.0,
            _between(1.0, 4.0),
        ),
        Field(
            "completion",
            (int, float),
            "Share of a video that must be watched for the step to complete.",
            0.95,
            _between(0.0, 1.0, low_open=True),
        ),
        Field("kms", (dict,), "Handout settings (see `kms.unlock`).", {}),
    ),
)

MODULE = Schema(
    "module",
    "modules/<dir>/module.yaml",
    (
        Field(
            "id",
            (str,),
            "Stable module id, e.g. `SOM01`; names its handout folder (same characters as a step "
            "id).",
            check=_step_id,
        ),
        Field("title", (str,), "Module title."),
        Field("description", (str,), "One sentence shown in the outline (Markdown).", ""),
        Field(
            "steps",
            (list,),
            "File names in this directory, in order: `.md` lessons and `.yaml` quizzes.",
            check=_nonempty,
        ),
    ),
)

LESSON = Schema(
    "lesson",
    "modules/<dir>/<name>.md front matter",
    (
        Field(
            "id",
            (str,),
            "Stable id, unique in the course: progress and XP follow it; letters, digits, `.`, `-` "
            "and `_`, e.g. `SOM01.02` (no spaces: it names a file and an address).",
            check=_step_id,
        ),
        Field("title", (str,), "Step title."),
        Field(
            "video",
            (str,),
            "A video file relative to the module directory, or `stream:<uid>` for Cloudflare "
            "Stream.",
            None,
        ),
        Field(
            "duration",
            (int, float),
            "Video length in seconds; required with `video`.",
            None,
            _positive,
        ),
        Field(
            "captions",
            (str,),
            "A WebVTT (.vtt) captions file, relative to the module directory.",
            None,
        ),
    ),
)

QUIZ = Schema(
    "quiz",
    "modules/<dir>/<name>.yaml",
    (
        Field("id", (str,), "Stable id, unique in the course.", check=_step_id),
        Field("title", (str,), "Step title."),
        Field(
            "pass",
            (int, float),
            "Share of points needed to pass.",
            0.8,
            _between(0.0, 1.0, low_open=True),
        ),
        Field("intro", (str,), "Text shown above the questions (Markdown).", ""),
        Field(
            "questions",
            (list,),
            "Built-in questions (see `question`); or use `tally`.",
            None,
            _nonempty,
        ),
        Field("tally", (str,), "A Tally form id; the score arrives by webhook.", None, _tally),
        Field(
            "feedback",
            (str,),
            "What a failed attempt tells the learner: `score` (pass/fail and the score), `none` "
            "(pass/fail only) or `questions` (also which questions were right: for a formative "
            "quiz, it lets a learner find the answers by trying). A passed attempt always shows "
            "the score and the explanations. Built-in questions only.",
            "score",
            _one_of("none", "score", "questions"),
        ),
        Field(
            "attempts",
            (int,),
            "Failed attempts allowed before the learner must wait between attempts (see "
            "`cooldown`).",
            3,
            _at_least_one,
        ),
        Field(
            "cooldown",
            (list,),
            "The waits after each further failure, growing (`30s`, `5m`, `2h`, `1d` or seconds); "
            "the last one repeats.",
            ["1m", "5m", "30m", "2h"],
            _durations,
        ),
        Field(
            "draw",
            (int,),
            "Show this many questions drawn from `questions` (the pool), in a new draw and a "
            "shuffled choice order at each attempt, decided by the server. Built-in questions "
            "only.",
            None,
            _at_least_one,
        ),
    ),
)

QUESTION = Schema(
    "question",
    "quiz `questions:` item",
    (
        Field("prompt", (str,), "The question (Markdown, inline)."),
        Field("choices", (list,), "At least two answers to choose from (Markdown, inline)."),
        Field(
            "answer",
            (int, list),
            "Index of the right choice, counting from 0; a list of indices when several are "
            "right. Never published in the site.",
        ),
        Field("explain", (str,), "Explanation shown after grading (Markdown).", ""),
    ),
)

ALL_SCHEMAS = (COURSE, KMS, MODULE, LESSON, QUIZ, QUESTION)


def read_fields(
    data: Any, schema: Schema, path: Path, line: int, problems: Problems
) -> dict[str, Any]:
    """Check `data` against `schema`; return known fields with defaults, reporting problems."""
    if not isinstance(data, dict):
        got = "nothing" if data is None else type(data).__name__
        problems.error(path, line, f"expected a mapping of {schema.name} fields, got {got}")
        return {}
    lines = data.lines if isinstance(data, LineDict) else {}
    for key, key_line in getattr(data, "duplicates", []):
        problems.error(path, key_line, f"duplicate key '{key}'")
    known = {f.name for f in schema.fields}
    for key in data:
        if key not in known:
            problems.error(path, lines.get(key, line), _unknown_key(key, schema))
    values: dict[str, Any] = {}
    for f in schema.fields:
        values[f.name] = _read_field(data, f, schema, path, lines.get(f.name, line), problems)
    return values


def _read_field(
    data: dict[str, Any], f: Field, schema: Schema, path: Path, line: int, problems: Problems
) -> Any:
    if f.name not in data or data[f.name] is None:
        if f.required:
            problems.error(path, line, f"missing required key '{f.name}' ({f.help})")
        return None if f.required else f.default
    value = data[f.name]
    if isinstance(value, bool) is not (bool in f.kinds) or not isinstance(value, f.kinds):
        problems.error(path, line, f"'{f.name}' must be {f.type_name()}, got {_kind(value)}")
        return None if f.required else f.default
    if isinstance(value, str):
        value = value.strip()
    if f.check is not None:
        message = f.check(value)
        if message:
            problems.error(
                path,
                line,
                f"'{f.name}' {message}" if not message.startswith("invalid") else message,
            )
            return None if f.required else f.default
    return value


def _unknown_key(key: str, schema: Schema) -> str:
    names = [f.name for f in schema.fields]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else f" (allowed: {', '.join(names)})"
    return f"unknown key '{key}' in {schema.where}{hint}"


def _kind(value: Any) -> str:
    if value is True or value is False:
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return {str: "text", int: "an integer", float: "a number"}.get(
        type(value), type(value).__name__
    )
