"""Stage 5, render: Jinja2 templates turn the course and its HTML into site files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from . import i18n
from .assets import Assets, Output
from .cache import Cache, digest
from .config import BuildConfig
from .headers import headers_file
from .markdown_html import Doc, media_url
from .model import Course, KmsFile, KmsPage, Module, Step
from .search import index_urls


@dataclass
class DocSet:
    """The Markdown pieces of a course, gathered so they can be rendered in one pass."""

    docs: list[Doc] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    assets: list[dict[str, str]] = field(default_factory=list)  # per doc: rel -> /media/ URL

    def add(self, rel: str, path: Path, text: str, first_line: int, inline: bool = False) -> int:
        self.docs.append(Doc(rel, str(path), text, first_line, inline))
        return len(self.docs) - 1

    def get(self, handle: int) -> str:
        return self.html[handle]

    def key(self, handle: int) -> str:
        """A short stand-in for the doc's HTML in cache keys."""
        return self.digests[handle]


class Page(bytes):
    """A rendered page that knows its own digest, so unchanged pages are never hashed again."""

    digest: str

    @classmethod
    def of(cls, data: bytes) -> Page:
        page = cls(data)
        page.digest = digest(data)
        return page


@dataclass
class Handles:
    """Which rendered doc belongs to which part of the course."""

    course_description: int = -1
    modules: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    questions: dict[tuple[str, int], tuple[int, list[int]]] = field(default_factory=dict)
    kms: dict[str, int] = field(default_factory=dict)
    explains: dict[tuple[str, int], int] = field(default_factory=dict)


def gather_docs(course: Course) -> tuple[DocSet, Handles]:
    """List every piece of Markdown in the course: descriptions, bodies, prompts, handout."""
    docs, handles = DocSet(), Handles()
    src = course.source
    handles.course_description = docs.add(src.rel, src.path, course.description, 1, inline=True)
    for module in course.modules:
        handles.modules[module.id] = docs.add(
            module.source.rel, module.source.path, module.description, 1, inline=True
        )
        for step in module.steps:
            s = step.source
            handles.steps[step.id] = docs.add(s.rel, s.path, step.body, step.body_line)
            for number, question in enumerate(step.questions):
                prompt = docs.add(s.rel, s.path, question.prompt, question.line, inline=True)
                choices = [
                    docs.add(s.rel, s.path, c, question.line, inline=True) for c in question.choices
                ]
                handles.questions[(step.id, number)] = (prompt, choices)
                if question.explain:
                    handles.explains[(step.id, number)] = docs.add(
                        s.rel, s.path, question.explain, question.line
                    )
    for page in course.kms_pages:
        handles.kms[page.rel] = docs.add(page.rel, page.source.path, page.body, page.body_line)
    return docs, handles


class CompiledTemplates(jinja2.BytecodeCache):
    """Jinja2's compiled templates kept for the process: Jinja keys each by the template's name
    and checks its source's checksum, so a rebuild (serve's, or a test's next course) compiles
    only the templates that changed, instead of every template on every build."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self.store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)  # a stale checksum leaves the bucket empty

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


COMPILED = CompiledTemplates()  # for Site's environment only: its options shape the code


class Site:
    """Renders pages with one Jinja2 environment and remembers unchanged results."""

    def __init__(self, config: BuildConfig, course: Course, assets: Assets, cache: Cache) -> None:
        self.config, self.course, self.assets, self.cache = config, course, assets, cache
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(config.templates),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=True,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            bytecode_cache=COMPILED,
        )
        self.t = i18n.strings(course.language)
        self.env.globals.update(
            t=self.t,
            asset=assets.url,
            course=course,
            lang=course.language,
            minutes=_minutes,
            badges=i18n.BADGES[course.language],
            # French "Seuil : 80 %" (narrow no-break spaces), English "Pass mark: 80%"
            colon="\u202f: " if course.language == "fr" else ": ",
            percent_sign="\u202f%" if course.language == "fr" else "%",
        )
        template_digests = [cache.file_digest(p) for p in sorted(config.templates.rglob("*.html"))]
        self.used: dict[tuple[str, ...], Page] = {}
        self.signature = digest(
            repr(
                (
                    template_digests,
                    assets.signature,
                    course.language,
                    config.dev,
                    _course_head(course),
                )
            ).encode()
        )

    def page(self, template: str, key: str, **context: Any) -> Page:
        """Render a template, reusing the last result for the same inputs."""
        cache_key = (template, self.signature, key)
        hit = self.cache.rendered.get(cache_key)
        if hit is None:
            hit = Page.of(self.env.get_template(template).render(**context).encode())
        self.used[cache_key] = hit
        return hit


# Pages that depend on nothing but the course's language and title: the API fills them in.
FIXED_PAGES = (
    ("learn/index.html", "learn.html"),
    ("board/index.html", "board.html"),
    ("me/index.html", "me.html"),
    ("me/notes/index.html", "me_notes.html"),
    ("verify/index.html", "verify.html"),  # certificates, checked in the browser
    ("404.html", "404.html"),
    ("join/index.html", "join.html"),
    ("admin/index.html", "admin.html"),  # teachers; no learner page links it
    ("kms/locked.html", "kms_locked.html"),
)


def render_site(
    config: BuildConfig,
    course: Course,
    docs: DocSet,
    handles: Handles,
    assets: Assets,
    media: dict[str, str],
    cache: Cache,
    handout: dict[str, str] | None = None,
) -> dict[str, Output]:
    """Return every file of the site, by its path inside site/.

    `handout` is the handout PDF's link ({url, name}) when the build made one.
    """
    site = Site(config, course, assets, cache)
    out: dict[str, Output] = dict(assets.outputs)
    outline = public_outline(course)
    outline_json = json.dumps(outline, ensure_ascii=False, sort_keys=True).encode()
    outline_key = digest(outline_json)
    modules = [_module_view(m, docs, handles) for m in course.modules]
    course_html = docs.get(handles.course_description)
    out["outline.json"] = outline_json
    out["index.html"] = site.page(
        "home.html",
        outline_key + docs.key(handles.course_description),
        modules=modules,
        description=course_html,
    )
    for path, template in FIXED_PAGES:
        out[path] = site.page(template, "")
    for module in course.modules:
        for step in module.steps:
            view, key = _step_view(step, docs, handles, media)
            out[f"steps/{step.id}.html"] = site.page("step.html", key, step=view)
    _kms(site, course, docs, handles, out, handout)
    if config.dev:
        out["_sillon/preview.html"] = site.page("preview.html", outline_key, modules=modules)
    out["_headers"] = headers_file().encode()
    for rel, url in media.items():
        out[url.lstrip("/")] = config.content / rel
    for kms_file in course.kms_files:
        out[kms_file.url.lstrip("/")] = config.content / kms_file.rel
    cache.rendered = site.used  # forget pages that no longer exist
    return out


def public_outline(course: Course) -> dict[str, Any]:
    """The outline the player and pages share: order and titles, never answers."""
    return {
        "title": course.title,
        "language": course.language,
        "playbackMaxRate": course.playback_max_rate,
        "kmsUnlock": course.kms_unlock,
        "modules": [
            {
                "id": m.id,
                "title": m.title,
                "steps": [
                    {"id": s.id, "title": s.title, "kind": _kind(s), "duration": s.duration}
                    for s in m.steps
                ],
            }
            for m in course.modules
        ],
    }


def step_media(course: Course, content: Path, cache: Cache) -> dict[str, str]:
    """Map each local video and captions file to its fingerprinted URL under /media/."""
    media: dict[str, str] = {}
    for step in course.steps:
        for rel in (step.video, step.captions):
            if rel and not rel.startswith("stream:"):
                file_digest = cache.file_digest(content / rel)
                if file_digest:
                    media[rel] = media_url(rel, file_digest)
    return media


def _kind(step: Step) -> str:
    if step.kind == "quiz":
        return "quiz"
    return "video" if step.video else "lesson"


def _minutes(seconds: float | None) -> int:
    return max(1, round((seconds or 0) / 60))


def _course_head(course: Course) -> tuple[str, ...]:
    return (course.title, course.author, str(course.playback_max_rate), course.kms_unlock)


def _module_view(module: Module, docs: DocSet, handles: Handles) -> dict[str, Any]:
    return {
        "id": module.id,
        "title": module.title,
        "description": docs.get(handles.modules[module.id]),
        "steps": [
            {"id": s.id, "title": s.title, "kind": _kind(s), "duration": s.duration}
            for s in module.steps
        ],
    }


def _step_view(
    step: Step, docs: DocSet, handles: Handles, media: dict[str, str]
) -> tuple[dict[str, Any], str]:
    """Return what step.html needs, and a cache key standing in for it (digests, not HTML)."""
    body = handles.steps[step.id]
    view: dict[str, Any] = {
        "id": step.id,
        "title": step.title,
        "kind": _kind(step),
        "module": step.module_id,
        "html": docs.get(body),
        "video": None,
        "questions": [],
        "tally": step.tally,
        "pass_mark": step.pass_mark,
        "draw": step.draw,  # the fragment holds the pool; the API says what an attempt shows
    }
    keys = [docs.key(body)]
    if step.video:
        view["video"] = {
            "stream": step.video[len("stream:") :] if step.is_stream else None,
            "src": None if step.is_stream else media.get(step.video),
            "duration": step.duration,
            "captions": media.get(step.captions) if step.captions else None,
        }
    for number, question in enumerate(step.questions):
        prompt, choices = handles.questions[(step.id, number)]
        view["questions"].append(
            {
                "prompt": docs.get(prompt),
                "choices": [docs.get(c) for c in choices],
                "multiple": question.multiple,
            }
        )
        keys.extend(docs.key(h) for h in (prompt, *choices))
    plain = {k: v for k, v in view.items() if k not in ("html", "questions")}
    multiple = [q.multiple for q in step.questions]
    return view, repr((plain, keys, multiple))


def _kms(
    site: Site,
    course: Course,
    docs: DocSet,
    handles: Handles,
    out: dict[str, Output],
    handout: dict[str, str] | None = None,
) -> None:
    nav = _kms_nav(course)
    nav_key = digest(repr((nav, handout)).encode())  # the search indexes follow the nav's modules
    search = index_urls(course)
    index_page = next((p for p in course.kms_pages if p.rel == "kms/index.md"), None)
    for page in course.kms_pages:
        html = docs.get(handles.kms[page.rel])
        key = nav_key + page.url + docs.key(handles.kms[page.rel])
        target = page.url.lstrip("/") + ("index.html" if page.url.endswith("/") else "")
        out[target] = site.page(
            "kms_page.html",
            key,
            nav=nav,
            search=search,
            handout=handout,
            page={"url": page.url, "title": page.title, "html": html},
        )
    if index_page is None:
        out["kms/index.html"] = site.page(
            "kms_page.html",
            nav_key + "/kms/",
            nav=nav,
            search=search,
            handout=handout,
            page={"url": "/kms/", "title": site.t["kms_title"], "html": ""},
        )


def _kms_nav(course: Course) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    general = [p for p in course.kms_pages if not p.group and p.rel != "kms/index.md"]
    general_files = [f for f in course.kms_files if not f.group]
    if general or general_files:
        groups.append(_group("", "", general, general_files))
    for module in course.modules:
        pages = [p for p in course.kms_pages if p.group == module.id]
        files = [f for f in course.kms_files if f.group == module.id]
        if pages or files:
            groups.append(_group(module.id, module.title, pages, files))
    return groups


def _group(
    module_id: str, title: str, pages: list[KmsPage], files: list[KmsFile]
) -> dict[str, Any]:
    return {
        "id": module_id,
        "title": title,
        "pages": [{"url": p.url, "title": p.title} for p in pages],
        "files": [
            {"url": f.url, "name": f.url.rsplit("/", 1)[-1], "kb": max(1, round(f.size / 1024))}
            for f in files
        ],
    }
