"""Markdown to HTML, with every relative link and image checked and pointed at the built site.

Rendering is the bulk of a build, so results are cached by text and by the digests of the
files they reference, and a cold build spreads the work over every core.
"""

from __future__ import annotations

import os
import posixpath
import re
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from .cache import Cache, digest
from .errors import Problem, Problems

SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")
EXTENSIONS: list[Any] = [
    "abbr",
    "attr_list",
    "def_list",
    "footnotes",
    "md_in_html",
    "tables",
    "admonition",
    "sane_lists",
    "pymdownx.superfences",
    "pymdownx.highlight",
    "toc",
]
EXTENSION_CONFIGS: dict[str, dict[str, Any]] = {
    "pymdownx.highlight": {"css_class": "highlight", "guess_lang": False},
    "toc": {"permalink": False},
    # align="..." instead of style="text-align: ...": the CSP forbids inline styles.
    "tables": {"use_align_attribute": True},
}
PARALLEL_THRESHOLD = 64


@dataclass(frozen=True)
class LinkMap:
    """What a relative link may point at: handout pages and files, steps, other files."""

    content: Path
    steps: dict[str, str]  # content-relative step file -> step id
    kms_pages: dict[str, str]  # content-relative handout page -> site URL

    def kind(self, rel: str) -> str:
        if rel in self.steps:
            return "step"
        if rel in self.kms_pages:
            return "kms-page"
        if rel.startswith("kms/"):
            return "kms-file"
        return "media"


@dataclass(frozen=True)
class Doc:
    """A piece of Markdown to render: whose it is and where its text starts in the file."""

    rel: str
    path: str  # as shown in messages
    text: str
    first_line: int
    inline: bool = False


@dataclass
class Rendered:
    html: str
    digest: str = ""  # of html: a cheap cache key for the pages that embed it
    refs: dict[str, str] = field(default_factory=dict)  # rel -> "kind:digest" when rendered
    lines: dict[str, int] = field(default_factory=dict)  # rel -> line of its first link
    assets: dict[str, str] = field(default_factory=dict)  # rel -> site URL to copy it to
    problems: list[Problem] = field(default_factory=list)


def media_url(rel: str, file_digest: str) -> str:
    """Return the fingerprinted site URL of a course file (image, video, download)."""
    name = posixpath.basename(rel)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    return f"/media/{stem}.{file_digest[:10]}{'.' + suffix if suffix else ''}"


class _Links(Treeprocessor):
    """Check every relative href/src, rewrite it to its site URL and note what it needs."""

    def __init__(self, md: markdown.Markdown, renderer: Renderer) -> None:
        super().__init__(md)
        self.renderer = renderer

    def run(self, root: ET.Element) -> None:
        for parent in root.iter():
            for index, element in enumerate(list(parent)):
                if element.tag == "a" and element.get("href"):
                    self.renderer.link(parent, index, element, "href")
                elif element.tag == "img" and element.get("src"):
                    if not (element.get("alt") or "").strip():
                        self.renderer.warn(
                            element.get("src", ""),
                            "image has no alt text (write ![what it shows](...))",
                        )
                    element.set("loading", "lazy")
                    self.renderer.link(parent, index, element, "src")


class _LinkExtension(Extension):
    def __init__(self, renderer: Renderer) -> None:
        super().__init__()
        self.renderer = renderer

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Markdown's API
        md.treeprocessors.register(_Links(md, self.renderer), "sillon-links", 0)


class Renderer:
    """One Markdown converter; render() one Doc at a time."""

    def __init__(self, links: LinkMap, cache: Cache) -> None:
        self.links = links
        self.cache = cache
        self.md = markdown.Markdown(
            extensions=[*EXTENSIONS, _LinkExtension(self)],
            extension_configs=EXTENSION_CONFIGS,
            output_format="html",
        )
        self.doc = Doc("", "", "", 1)
        self.current = Rendered("")

    def render(self, doc: Doc) -> Rendered:
        self.doc, self.current = doc, Rendered("")
        self.md.reset()
        html = self.md.convert(doc.text)
        if (
            doc.inline
            and html.startswith("<p>")
            and html.endswith("</p>")
            and html.count("<p>") == 1
        ):
            html = html[3:-4]
        self.current.html = html
        self.current.digest = digest(html.encode())
        return self.current

    def link(self, parent: ET.Element, index: int, element: ET.Element, attr: str) -> None:
        raw = element.get(attr, "")
        if SCHEME.match(raw) or raw.startswith("#"):
            return
        target, _, fragment = raw.partition("#")
        target = target.split("?", 1)[0]
        if raw.startswith("/"):
            self.error(
                raw, f"link '{raw}' must be relative to this file (absolute site paths break)"
            )
            return
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(self.doc.rel), _unquote(target)))
        if rel.startswith("../") or rel == "..":
            self.error(raw, f"link '{raw}' points outside the content directory")
            return
        kind = self.links.kind(rel)
        file_digest = self.cache.file_digest(self.links.content / rel)
        self.current.refs[rel] = f"{kind}:{file_digest}"
        self.current.lines.setdefault(rel, self._line(raw))
        if file_digest is None:
            what = "image" if attr == "src" else "link"
            self.error(raw, f"broken {what} '{raw}': no file {self.links.content / rel}")
            return
        url = self._url(rel, kind, file_digest, raw)
        if url is None:
            span = ET.Element("span", {"class": "closed-link"})
            span.text, span.tail = element.text, element.tail
            span.extend(list(element))
            parent[index] = span
            return
        element.set(attr, url + (f"#{fragment}" if fragment else ""))

    def _url(self, rel: str, kind: str, file_digest: str, raw: str) -> str | None:
        if kind == "step":
            self.warn(
                raw,
                f"link to the step '{self.links.steps[rel]}': learners cannot open other steps; "
                "shown as plain text",
            )
            return None
        if kind == "kms-page":
            return self.links.kms_pages[rel]
        if kind == "kms-file":
            return "/" + rel
        url = media_url(rel, file_digest)
        self.current.assets[rel] = url
        return url

    def error(self, raw: str, message: str) -> None:
        self.current.problems.append(Problem(self.doc.path, self._line(raw), message))

    def warn(self, raw: str, message: str) -> None:
        self.current.problems.append(Problem(self.doc.path, self._line(raw), message, "warning"))

    def _line(self, raw: str) -> int:
        for number, line in enumerate(self.doc.text.splitlines()):
            if raw and raw in line:
                return self.doc.first_line + number
        return self.doc.first_line


def _unquote(target: str) -> str:
    from urllib.parse import unquote

    return unquote(target)


def render_all(
    docs: list[Doc], links: LinkMap, cache: Cache, problems: Problems, jobs: int = 0
) -> list[Rendered]:
    """Render every doc, reusing cached results whose text and referenced files are unchanged."""
    results: list[Rendered | None] = [None] * len(docs)
    todo: list[int] = []
    fresh: dict[tuple[str, int, bool, str], Rendered] = {}
    for index, doc in enumerate(docs):
        key = (doc.rel, doc.first_line, doc.inline, doc.text)
        hit = cache.markdown.get(key)
        if hit is not None and _still_valid(hit, links, cache):
            results[index] = fresh[key] = hit
        else:
            todo.append(index)
    for index, rendered in zip(
        todo, _render([docs[i] for i in todo], links, cache, jobs), strict=True
    ):
        doc = docs[index]
        results[index] = fresh[(doc.rel, doc.first_line, doc.inline, doc.text)] = rendered
    cache.markdown = fresh  # forget what no longer exists, so serve does not grow forever
    cache.rendered_count = len(todo)
    done = [r for r in results if r is not None]
    for rendered in done:
        problems.extend(rendered.problems)
    return done


def _render(todo: list[Doc], links: LinkMap, cache: Cache, jobs: int) -> list[Rendered]:
    workers = jobs or os.cpu_count() or 1
    if workers < 2 or len(todo) < PARALLEL_THRESHOLD:
        renderer = Renderer(links, cache)
        return [renderer.render(doc) for doc in todo]
    size = -(-len(todo) // workers)
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        parts = list(pool.map(_render_chunk, chunks, [links] * len(chunks)))
    return [rendered for part in parts for rendered in part]


def _render_chunk(docs: list[Doc], links: LinkMap) -> list[Rendered]:
    renderer = Renderer(links, Cache())
    return [renderer.render(doc) for doc in docs]


def _still_valid(hit: Rendered, links: LinkMap, cache: Cache) -> bool:
    return all(
        value == f"{links.kind(rel)}:{cache.file_digest(links.content / rel)}"
        for rel, value in hit.refs.items()
    )
