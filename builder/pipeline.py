"""The build in stages: load config -> discover -> parse -> validate -> render -> search -> write"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import diskcache, handout_pdf
from .assets import Output, collect
from .cache import Cache
from .config import BuildConfig, load_course
from .discover import discover
from .errors import ContentError, Problem, Problems
from .handout_links import check_handout_links
from .manifest import dumps, manifest
from .markdown_html import LinkMap, render_all
from .model import Course
from .parse import parse_kms, parse_steps
from .render import DocSet, Handles, gather_docs, render_site, step_media
from .search import build_indexes
from .validate import validate
from .write import output_digests, write_atomic, write_changed


@dataclass
class Loaded:
    """The course, parsed, validated and with its Markdown rendered: ready to write."""

    course: Course
    docs: DocSet
    handles: Handles
    media: dict[str, str]


@dataclass
class BuildResult:
    pages: int
    written: list[str]
    seconds: float
    warnings: list[Problem] = field(default_factory=list)
    version: str = ""


def load(config: BuildConfig, cache: Cache, problems: Problems) -> Loaded | None:
    """Run every stage up to writing; None when the course cannot be read at all."""
    course_file = load_course(config, cache, problems)
    if course_file is None:
        return None
    course = course_file.course
    layout = discover(config, course_file, cache, problems)
    course.modules = parse_steps(config, layout, cache, problems)
    course.kms_pages, course.kms_files = parse_kms(config, layout, course.modules, cache, problems)
    handout_pdf.check_reserved(config, course, problems)
    validate(config, course, cache, problems)
    docs, handles = gather_docs(course)
    links = LinkMap(
        content=config.content,
        steps={s.source.rel: s.id for s in course.steps},
        kms_pages={p.rel: p.url for p in course.kms_pages},
    )
    rendered = render_all(docs.docs, links, cache, problems, config.jobs)
    check_handout_links(course, docs, handles, rendered, problems)
    docs.html = [r.html for r in rendered]
    docs.digests = [r.digest for r in rendered]
    docs.assets = [r.assets for r in rendered]
    media = step_media(course, config.content, cache)
    for result in rendered:
        media.update(result.assets)
    return Loaded(course, docs, handles, media)


def check(config: BuildConfig, cache: Cache | None = None) -> Problems:
    """Validate the course without writing anything; return what was found."""
    problems = Problems()
    load(config, cache or Cache(), problems)
    return problems


def build(
    config: BuildConfig,
    cache: Cache | None = None,
    *,
    incremental: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build the site; raise ContentError (writing nothing) when the content has errors.

    With `incremental`, only files that changed since this cache's last build are rewritten,
    in place; otherwise the whole site is written aside and swapped in.
    """
    started = time.perf_counter()
    cache = cache if cache is not None else Cache()
    say = progress or _quiet
    problems = Problems()
    loaded = _load_checked(config, cache, problems, say)
    outputs = _render(config, loaded, cache, problems, say)
    _search(config, loaded, outputs, incremental, say)
    private = manifest(loaded.course, loaded.docs, loaded.handles, loaded.media)
    written = _write(config, outputs, cache, incremental)
    _write_private(config, dumps(private))
    if config.disk_cache and not incremental:  # serve's edits stay in memory: saving costs more
        diskcache.save(config.private, cache)
    return BuildResult(
        pages=len(outputs),
        written=written,
        seconds=time.perf_counter() - started,
        warnings=problems.sorted(),
        version=private["version"],
    )


def _quiet(_message: str) -> None:
    pass


def _load_checked(
    config: BuildConfig, cache: Cache, problems: Problems, say: Callable[[str], None]
) -> Loaded:
    """Stages load -> discover -> parse -> validate; stop here (writing nothing) on errors."""
    started = time.perf_counter()
    if config.disk_cache:
        diskcache.load(config.private, cache)
    loaded = load(config, cache, problems)
    if loaded is None or problems.fatal(config.strict):
        raise ContentError(problems.sorted())
    course = loaded.course
    say(
        f"read {len(course.steps)} steps in {len(course.modules)} modules and "
        f"{len(course.kms_pages)} handout pages; rendered {cache.rendered_count} of "
        f"{len(loaded.docs.docs)} Markdown documents in {time.perf_counter() - started:.2f} s"
    )
    return loaded


def _render(
    config: BuildConfig,
    loaded: Loaded,
    cache: Cache,
    problems: Problems,
    say: Callable[[str], None],
) -> dict[str, Output]:
    """Stage render: the handout PDF, then every page and asset of the site, in memory."""
    pdf = handout_pdf.handout_pdf(
        config, loaded.course, loaded.docs, loaded.handles, loaded.media, cache, problems
    )
    if problems.fatal(config.strict):  # no PDF (WeasyPrint missing) is a warning
        raise ContentError(problems.sorted())
    if pdf:
        say(pdf.summary())
    assets = collect(config.static, cache)
    outputs: dict[str, Output] = render_site(
        config,
        loaded.course,
        loaded.docs,
        loaded.handles,
        assets,
        loaded.media,
        cache,
        handout=pdf.link() if pdf else None,
    )
    if pdf:
        outputs[handout_pdf.SITE_PATH] = pdf.data
    return outputs


def _search(
    config: BuildConfig,
    loaded: Loaded,
    outputs: dict[str, Output],
    incremental: bool,
    say: Callable[[str], None],
) -> None:
    """Stage search: the handout's indexes, added to the outputs."""
    started = time.perf_counter()
    search = build_indexes(config, loaded.course, outputs, reuse=config.disk_cache or incremental)
    outputs.update(search.outputs)
    say(
        f"search: indexed {search.indexed} of {search.total} handout indexes in "
        f"{time.perf_counter() - started:.2f} s"
    )


def _write(
    config: BuildConfig, outputs: dict[str, Output], cache: Cache, incremental: bool
) -> list[str]:
    """Stage write: changed files in place (incremental), else the whole site swapped in."""
    digests = output_digests(outputs, cache)
    if incremental and cache.written and config.out.is_dir():
        written = write_changed(config.out, outputs, cache.written, digests)
    else:
        write_atomic(config.out, outputs)
        written = list(outputs)
    cache.written = digests
    return written


def _write_private(config: BuildConfig, data: bytes) -> None:
    config.private.mkdir(parents=True, exist_ok=True)
    target = config.private / "manifest.json"
    if target.is_file() and target.read_bytes() == data:
        return
    tmp = target.with_name(".manifest.json.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
