"""Stage 2, discover: find the modules, their step files and the handout files."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import schema
from .cache import Cache
from .config import BuildConfig, CourseFile
from .errors import Problems
from .model import Module, Source
from .yamlfile import LineList, YamlSyntaxError, load

STEP_SUFFIXES = (".md", ".yaml", ".yml")


@dataclass
class StepFile:
    rel: str  # content-relative path of the step file
    line: int  # where module.yaml lists it


@dataclass
class Layout:
    """The course's files, in the learner's order, before any step is parsed."""

    modules: list[tuple[Module, list[StepFile]]] = field(default_factory=list)
    kms: list[str] = field(default_factory=list)  # content-relative paths under kms/
    unread: list[str] = field(default_factory=list)  # module dirs whose module.yaml has errors


def discover(
    config: BuildConfig, course_file: CourseFile, cache: Cache, problems: Problems
) -> Layout:
    """Read every module.yaml and list the step and handout files, reporting what is missing."""
    layout = Layout()
    modules_dir = config.content / "modules"
    existing = (
        sorted(p.name for p in modules_dir.iterdir() if p.is_dir()) if modules_dir.is_dir() else []
    )
    for name, line in course_file.module_dirs:
        if name not in existing:
            hint = difflib.get_close_matches(name, existing, n=1)
            suffix = f"; did you mean '{hint[0]}'?" if hint else ""
            problems.error(
                course_file.course.source.path,
                line,
                f"module directory 'modules/{name}' not found{suffix}",
            )
            continue
        found = _module(config, name, cache, problems)
        if found:
            layout.modules.append(found)
        else:
            layout.unread.append(name)
    listed = {name for name, _ in course_file.module_dirs}
    for name in existing:
        if name not in listed:
            problems.warning(
                course_file.course.source.path,
                course_file.module_dirs[0][1] if course_file.module_dirs else 1,
                f"modules/{name} is not listed in 'modules'; it is not part of the course",
            )
    layout.kms = _kms_files(config.content)
    return layout


def _module(
    config: BuildConfig, name: str, cache: Cache, problems: Problems
) -> tuple[Module, list[StepFile]] | None:
    rel_dir = f"modules/{name}"
    path = config.content / rel_dir / "module.yaml"
    if not path.is_file():
        problems.error(config.content / rel_dir, 1, "missing module.yaml (id, title, steps)")
        return None
    text = cache.read_text(path)
    try:
        data = cache.parse("yaml", f"{rel_dir}/module.yaml", text, lambda: load(text))
    except YamlSyntaxError as exc:
        problems.error(path, exc.line, exc.message)
        return None
    values = schema.read_fields(data, schema.MODULE, path, 1, problems)
    if not values or not values["id"]:
        return None
    source = Source(path, f"{rel_dir}/module.yaml", text)
    module = Module(values["id"], values["title"] or "", values["description"], name, source)
    return module, _step_files(config, rel_dir, values["steps"], path, problems)


def _step_files(
    config: BuildConfig, rel_dir: str, steps: object, path: Path, problems: Problems
) -> list[StepFile]:
    if not isinstance(steps, LineList):
        return []
    directory = config.content / rel_dir
    present = sorted(
        n for n in os.listdir(directory) if n.endswith(STEP_SUFFIXES) and n != "module.yaml"
    )
    files: list[StepFile] = []
    seen: set[str] = set()
    for entry, line in zip(steps, steps.lines, strict=True):
        if not isinstance(entry, str) or not entry.strip():
            problems.error(path, line, f"step entry must be a file name, got {entry!r}")
            continue
        if not entry.endswith(STEP_SUFFIXES):
            problems.error(path, line, f"step '{entry}' must be a .md lesson or a .yaml quiz")
            continue
        if entry in seen:
            problems.error(path, line, f"step '{entry}' is listed twice")
            continue
        seen.add(entry)
        if entry not in present:
            hint = difflib.get_close_matches(entry, present, n=1)
            suffix = f"; did you mean '{hint[0]}'?" if hint else ""
            problems.error(path, line, f"step file '{rel_dir}/{entry}' not found{suffix}")
            continue
        files.append(StepFile(f"{rel_dir}/{entry}", line))
    for name in present:
        if name not in seen:
            problems.warning(
                directory / name,
                1,
                f"not listed in {rel_dir}/module.yaml 'steps'; learners will not see it",
            )
    return files


def _kms_files(content: Path) -> list[str]:
    root = content / "kms"
    if not root.is_dir():
        return []
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(content).as_posix()
        found.extend(f"{rel_dir}/{n}" for n in sorted(filenames) if not n.startswith("."))
    return found
