"""Stage 5b, the handout PDF: every handout page in one printable document, made by WeasyPrint.

The print document is composed from the handout pages' rendered HTML (templates/
handout_print.html and handout_print.css, which never reach a browser): a cover, a table of
contents whose page numbers WeasyPrint reads from the layout (`target-counter`), the pages
without a module as an introduction, then one section per module in the course's order.
Laying out a PDF costs far more than the rest of a small build, so the result is kept by a
digest of everything that shapes it (builder/handout_cache.py: in this process, beside the
private manifest and in a per-user cache); WeasyPrint is imported only when a PDF must be made.
"""

from __future__ import annotations

import datetime
import functools
import html
import importlib
import logging
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from pygments.formatters import HtmlFormatter

from . import handout_cache, i18n
from .cache import Cache, digest
from .config import BuildConfig
from .errors import Problems
from .model import Course, KmsFile, KmsPage
from .render import DocSet, Handles, Page

URL = "/kms/handout.pdf"  # api/gate.py knows it too (the Worker does not ship the builder)
SITE_PATH = URL.lstrip("/")
TEMPLATE = "handout_print.html"
STYLESHEET = "handout_print.css"
PANGO_FIX = "apt install libpango-1.0-0 libpangoft2-1.0-0 (macOS: brew install pango)"
# WeasyPrint logs each layout step and fontTools each font subset at INFO: noise in the
# author's terminal (`build`, `serve`); their warnings and errors still show.
QUIET_LOGGERS = ("weasyprint.progress", "fontTools")
DATE = "\x00edition-date\x00"  # placeholders while the cache key is computed: the date is
VERSION = "\x00edition-version\x00"  # the first render's, the version the key itself
CONTENT = "\x00content\x00"  # the content directory's URI: moving a checkout keeps the key


class Unavailable(Exception):
    """WeasyPrint cannot run here; the message says what to install."""


@dataclass
class HandoutPdf:
    """The handout as a PDF, ready to write at SITE_PATH."""

    data: Page
    pages: int
    seconds: float
    cached: bool
    download_name: str

    def summary(self) -> str:
        how = "cached" if self.cached else f"{self.seconds:.2f} s"
        return f"handout PDF: {self.pages} pages, {how}"

    def link(self) -> dict[str, str]:
        """What the handout pages need to offer the download."""
        return {"url": URL, "name": self.download_name}


def check_reserved(config: BuildConfig, course: Course, problems: Problems) -> None:
    """Refuse an author's file where the build writes the PDF."""
    for item in course.kms_files:  # pages end in .html: only a file can take the name
        if item.url == URL:
            problems.error(
                config.content / item.rel,
                1,
                f"'{item.rel}' is reserved: the build writes the whole handout there as a PDF; "
                "rename this file",
            )


def download_name(title: str) -> str:
    """The file name a browser saves the PDF under, e.g. les-bases-de-sql-handout.pdf."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].strip("-")
    return f"{slug or 'course'}-handout.pdf"


def handout_pdf(
    config: BuildConfig,
    course: Course,
    docs: DocSet,
    handles: Handles,
    media: dict[str, str],
    cache: Cache,
    problems: Problems,
) -> HandoutPdf | None:
    """Make the handout PDF (None when the course has no handout, or WeasyPrint cannot run)."""
    if not course.kms_pdf or not course.kms_pages and not course.kms_files:
        return None
    started = time.perf_counter()
    links = _links(config, course, media, cache)
    document = compose(config, course, docs, handles, links)
    css = [_read_css(config), _footer_css(i18n.strings(course.language)), _pygments_css()]
    key = digest(repr((_code_version(), document, css)).encode())
    name = download_name(course.title)
    disk = config.private if config.disk_cache else None
    hit = handout_cache.load(key, disk)
    if hit is not None:
        return HandoutPdf(hit[0], hit[1], time.perf_counter() - started, True, name)
    try:
        final = document.replace(DATE, _today()).replace(VERSION, key[:10])
        final = final.replace(CONTENT, config.content.resolve().as_uri())
        data, pages = _render(final, css, config.content)
    except Unavailable as exc:
        problems.warning(config.content / "kms", 1, f"no handout PDF: {exc}")
        return None
    pdf = Page.of(data)
    handout_cache.save(key, (pdf, pages), disk)
    return HandoutPdf(pdf, pages, time.perf_counter() - started, False, name)


def compose(
    config: BuildConfig, course: Course, docs: DocSet, handles: Handles, links: _Links
) -> str:
    """Return the print document's HTML, with the DATE, VERSION and CONTENT placeholders."""

    def view(page: KmsPage) -> dict[str, Any]:
        anchor = links.anchors[page.url]
        return _page_view(page, anchor, links.localise(docs.get(handles.kms[page.rel]), anchor))

    general = [p for p in course.kms_pages if not p.group]
    general.sort(key=lambda p: p.rel != "kms/index.md")  # the handout's first page first
    modules: list[dict[str, Any]] = []
    for number, module in enumerate(course.modules, 1):
        pages = [view(p) for p in course.kms_pages if p.group == module.id]
        module_files = _files(course.kms_files, module.id)
        if pages or module_files:
            modules.append(
                {
                    "anchor": f"module-{number}",
                    "id": module.id,
                    "title": module.title,
                    "pages": pages,
                    "files": module_files,
                }
            )
    return (
        _environment(config.templates)
        .get_template(TEMPLATE)
        .render(
            t=i18n.strings(course.language),
            lang=course.language,
            course=course,
            description=docs.get(handles.course_description),
            keywords=", ".join(m["title"] for m in modules),
            edition_date=DATE,
            version=VERSION,
            intro=[view(p) for p in general],
            intro_files=_files(course.kms_files, ""),
            modules=modules,
        )
    )


def _links(config: BuildConfig, course: Course, media: dict[str, str], cache: Cache) -> _Links:
    """Where each handout link points inside the one document, or to the file it names."""
    local = {url: rel for rel, url in media.items()}
    local.update({f.url: f.rel for f in course.kms_files})
    return _Links(
        {page.url: f"doc-{n}" for n, page in enumerate(course.kms_pages, 1)},
        {f.url for f in course.kms_files},
        local,
        i18n.strings(course.language)["pdf_file_note"],
        lambda rel: cache.file_digest(config.content / rel) or "",
    )


class _Links:
    """Point a page's ids and links into the one document: ids get the page's prefix."""

    TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*)?>")
    ATTR = re.compile(r'(\s)(id|href|src)="([^"]*)"')
    FILE_LINK = re.compile(r'(<a\s[^<>]*data-file="([^"]*)"[^<>]*>.*?</a>)', re.DOTALL)
    IMAGE = re.compile(r'<img\s[^<>]*data-remote="1"[^<>]*>')
    ALT = re.compile(r'\salt="([^"]*)"')

    def __init__(
        self,
        anchors: dict[str, str],  # handout page URL -> its anchor in the document
        files: set[str],  # handout file URLs
        local: dict[str, str],  # image URL -> content-relative file
        note: str,  # the footnote's words before a file's address
        stamp: Callable[[str], str],  # content-relative file -> its digest
    ) -> None:
        self.anchors, self.files, self.local, self.note = anchors, files, local, note
        self.stamp = stamp

    def localise(self, text: str, anchor: str) -> str:
        text = self.TAG.sub(lambda m: self._tag(m, anchor), text)
        text = self.FILE_LINK.sub(self._file_note, text)
        return self.IMAGE.sub(self._missing_image, text)

    def _tag(self, match: re.Match[str], anchor: str) -> str:
        name, attrs = match.group(1).lower(), match.group(2)
        if not attrs:
            return match.group(0)
        attrs = self.ATTR.sub(lambda m: self._attr(name, m, anchor), attrs)
        return f"<{match.group(1)}{attrs}>"

    def _attr(self, tag: str, match: re.Match[str], anchor: str) -> str:
        space, attr, value = match.groups()
        if attr == "id":
            return f'{space}id="{anchor}-{value}"'
        if attr == "src":
            if tag != "img" or value.startswith("data:"):
                return match.group(0)
            if value in self.local:  # the file's digest is in the key: an edited image shows
                rel = self.local[value]
                stamp = self.stamp(rel)
                return f'{space}src="{CONTENT}/{quote(rel)}" data-digest="{stamp}"'
            return f'{space}src="" data-remote="1"'  # never fetched: the build stays offline
        if value.startswith("#"):
            return f'{space}href="#{anchor}-{value[1:]}"'
        url, _, fragment = value.partition("#")
        if url in self.anchors:
            target = self.anchors[url] + (f"-{fragment}" if fragment else "")
            return f'{space}href="#{target}"'
        if url in self.files or url.startswith(("/kms/", "/media/")):
            return f'{space}data-file="{url}"'
        return match.group(0)

    def _file_note(self, match: re.Match[str]) -> str:
        note = f"{html.escape(self.note)} {match.group(2)}"
        return f'{match.group(1)}<span class="file-note">{note}</span>'

    def _missing_image(self, match: re.Match[str]) -> str:
        alt = self.ALT.search(match.group(0))
        return f'<span class="missing-image">[{alt.group(1) if alt else ""}]</span>'


def _page_view(page: KmsPage, anchor: str, body: str) -> dict[str, Any]:
    """Split the page's own `# Title` from its body (or give it one from its title)."""
    found = re.match(r"\s*<h1([^<>]*)>(.*?)</h1>", body, re.DOTALL)
    if found is None:
        return {
            "anchor": anchor,
            "title": page.title,
            "title_id": None,
            "title_html": html.escape(page.title),
            "body": body,
        }
    title_id = re.search(r'\sid="([^"]*)"', found.group(1))
    return {
        "anchor": anchor,
        "title": page.title,
        "title_id": title_id.group(1) if title_id else None,
        "title_html": found.group(2),
        "body": body[found.end() :],
    }


def _files(files: list[KmsFile], group: str) -> list[dict[str, Any]]:
    return [
        {"url": f.url, "name": f.url.rsplit("/", 1)[-1], "kb": max(1, round(f.size / 1024))}
        for f in files
        if f.group == group
    ]


@functools.cache
def _environment(templates: Path) -> jinja2.Environment:
    """One environment per templates directory: it recompiles a template only when it changes."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _read_css(config: BuildConfig) -> str:
    return (config.templates / STYLESHEET).read_text(encoding="utf-8")


def _footer_css(t: dict[str, str]) -> str:
    label = '"' + t["pdf_page"].replace("\\", "\\\\").replace('"', '\\"') + ' "'
    return f'@page {{ @bottom-center {{ content: {label} counter(page) " / " counter(pages); }} }}'


def _pygments_css() -> str:
    css: str = HtmlFormatter(style="friendly").get_style_defs(".highlight")
    return css


def _today() -> str:
    return datetime.date.today().isoformat()


@functools.cache
def _code_version() -> str:
    """Identify what turns the document into a PDF: WeasyPrint's version and this module."""
    try:
        weasyprint = version("weasyprint")
    except PackageNotFoundError:  # the render says what to install
        weasyprint = ""
    return digest(weasyprint.encode() + Path(__file__).read_bytes())


def _weasyprint() -> Any:
    """Import WeasyPrint now (it loads Pango, ~0.4 s), or say what to install."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return importlib.import_module("weasyprint")
    except ImportError as exc:
        raise Unavailable(
            f"WeasyPrint is not installed ({exc}); install it: python3 -m pip install weasyprint"
        ) from None
    except OSError as exc:
        raise Unavailable(
            f"WeasyPrint cannot load Pango ({exc}); install it: {PANGO_FIX}"
        ) from None


def _render(document: str, css: list[str], content: Path) -> tuple[bytes, int]:
    weasyprint = _weasyprint()
    stylesheets = [weasyprint.CSS(string=text) for text in css]
    base = content.resolve().as_uri() + "/"
    rendered = weasyprint.HTML(string=document, base_url=base).render(stylesheets=stylesheets)
    data: bytes = rendered.write_pdf(pdf_tags=True)
    return data, len(rendered.pages)
