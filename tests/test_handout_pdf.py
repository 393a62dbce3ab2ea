"""The handout PDF: built by the real WeasyPrint, read back with pypdf and poppler's pdftoppm.

Also the gate in front of it (the PDF holds every module) on the real app and SQLite file.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader
from support.browser import sign_in
from support.client import Cohort, assert_error, cohort, move_on
from support.course import EXAMPLE, ROOT, config_for, edit, make_course, write
from support.journey import finish_module_one, post_hook, reach_tally_step
from support.launch import Site
from support.tally import tally_payload

from api import gate
from builder import handout_cache, handout_pdf
from builder.cache import Cache
from builder.errors import ContentError, Problems
from builder.pipeline import build as build_site
from builder.pipeline import load

MM = 72 / 25.4  # PDF points in a millimetre


@dataclass
class Built:
    site: Path
    reader: PdfReader
    lines: list[str]  # the build's progress lines
    texts: list[str] = field(default_factory=list)  # each page's text, read once

    def text(self, page: int) -> str:
        """The text of a page (numbered from 1)."""
        if not self.texts:
            self.texts = [p.extract_text() for p in self.reader.pages]
        return self.texts[page - 1]


def build_pdf(content: Path, **options: Any) -> Built:
    lines: list[str] = []
    config = config_for(content, **options)
    build_site(config, progress=lines.append)
    return Built(config.out, PdfReader(config.out / handout_pdf.SITE_PATH), lines)


def outline(reader: PdfReader) -> list[tuple[int, str, int]]:
    """(level, title, page number from 1) of every bookmark, in order."""
    found: list[tuple[int, str, int]] = []

    def walk(items: list[Any], level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            else:
                found.append((level, item.title, reader.get_destination_page_number(item) + 1))

    walk(reader.outline, 1)
    return found


def expected_outline(content: Path) -> list[tuple[int, str]]:
    """What the outline must hold: pages without a module, then each module and its pages."""
    loaded = load(config_for(content), Cache(), Problems())
    assert loaded is not None
    course = loaded.course
    general = [p for p in course.kms_pages if not p.group]
    general.sort(key=lambda p: p.rel != "kms/index.md")
    result = [(1, p.title) for p in general]
    for module in course.modules:
        mine = [p for p in course.kms_pages if p.group == module.id]
        files = [f for f in course.kms_files if f.group == module.id]
        if mine or files:
            result.append((1, f"{module.id} {module.title}"))
            result.extend((2, p.title) for p in mine)
    return result


def toc(built: Built) -> dict[str, int]:
    """Title -> page number, as printed in the table of contents (page 2, maybe more)."""
    entries: dict[str, int] = {}
    for number in range(2, len(built.reader.pages) + 1):
        text = built.text(number)
        if entries and "Sommaire" not in text and "Contents" not in text:
            break
        for line in text.splitlines():
            match = re.fullmatch(r"(.+?)\s*(?:\.\s*)+(\d+)", line.strip())
            if match:
                entries[match.group(1).strip()] = int(match.group(2))
        if entries:
            break
    return entries


def rasterise(pdf: Path, page: int, tmp_path: Path, dpi: int = 50) -> Image.Image:
    """One page as a greyscale image, drawn by poppler's pdftoppm."""
    prefix = tmp_path / f"raster-{page}"
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", str(page), "-l", str(page)]
        + ["-singlefile", str(pdf), str(prefix)],
        check=True,
        timeout=60,
    )
    return Image.open(prefix.with_suffix(".png")).convert("L")


def dark_share(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> float:
    region = image.crop(box) if box else image
    histogram = region.histogram()
    return sum(histogram[:160]) / max(1, sum(histogram))


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests lay PDFs out for real: no PDF from an earlier run or another test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    handout_cache.forget()


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("example-pdf")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(root / "xdg-cache"))
        handout_cache.forget()
        return build_pdf(EXAMPLE, out=root / "site", private=root / "private")


# -- the example course ---------------------------------------------------------------------------


@pytest.mark.slow  # WeasyPrint renders the example course's handout
def test_handout_pdf_example_has_cover_toc_modules_and_metadata(example: Built) -> None:
    reader = example.reader
    assert len(reader.pages) >= 8
    assert reader.metadata is not None
    assert reader.metadata.title == "Les bases de SQL avec SQLite · Polycopié"
    assert reader.metadata.author == "Équipe Sillon"
    assert reader.trailer["/Root"]["/Lang"] == "fr"
    cover = example.text(1)
    assert "Les bases de SQL avec SQLite" in cover and "Langue" in cover
    assert re.search(r"Édition\s+\d{4}-\d\d-\d\d · version [0-9a-f]{10}", cover), cover
    assert example.text(2).startswith("Sommaire")
    assert any(re.fullmatch(r"handout PDF: \d+ pages, \d+\.\d\d s", line) for line in example.lines)


@pytest.mark.slow  # WeasyPrint renders the example course's handout
def test_handout_pdf_outline_is_the_modules_and_their_pages(example: Built) -> None:
    found = outline(example.reader)
    assert [(level, title) for level, title, _ in found] == expected_outline(EXAMPLE)
    assert [title for _, title, _ in found][:3] == [
        "Polycopié — Les bases de SQL avec SQLite",
        "SOM01 Premiers pas",
        "Fiche SOM01 — Lire des données avec SELECT",
    ]


@pytest.mark.slow  # WeasyPrint renders the example course's handout
def test_handout_pdf_every_page_has_its_number(example: Built) -> None:
    total = len(example.reader.pages)
    for number in range(1, total + 1):
        assert f"page {number} / {total}" in example.text(number), number


@pytest.mark.slow  # WeasyPrint renders the example course's handout
def test_handout_pdf_toc_numbers_are_where_sections_start(example: Built) -> None:
    printed = toc(example)
    found = outline(example.reader)
    assert len(printed) == len(found)
    for _, title, page in found:
        assert printed[title] == page, title
        heading = " ".join(title.split())
        assert heading in " ".join(example.text(page).split()), title
    starts = [page for _, _, page in found]
    assert starts == sorted(starts) and starts[0] == 3  # after the cover and the contents


@pytest.mark.slow  # WeasyPrint renders the example course's handout
def test_handout_pdf_links_stay_inside_the_document(example: Built) -> None:
    reader = example.reader
    internal, external = 0, []
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            link = annotation.get_object()
            if "/Dest" in link:
                assert str(link["/Dest"]) in reader.named_destinations
                internal += 1
            elif "/A" in link and "/URI" in link["/A"]:
                external.append(str(link["/A"]["/URI"]))
    assert internal > 10  # the contents, and the index page's links to each sheet
    assert not [uri for uri in external if not uri.startswith(("http://", "https://"))]
    index_text = " ".join(example.text(3).split())
    note = "Fichier à télécharger depuis le polycopié en ligne : /kms/SOM01/bibliotheque.sql"
    assert note in index_text


@pytest.mark.slow  # WeasyPrint renders the example course's handout
def test_handout_pdf_page_renders_ink_inside_the_margins(example: Built, tmp_path: Path) -> None:
    image = rasterise(example.site / handout_pdf.SITE_PATH, 5, tmp_path)
    assert dark_share(image) > 0.01, "page 5 is blank"
    width = image.size[0]
    margin = round(width * 16 / 210)  # 18 mm margins, 2 mm of slack
    assert dark_share(image, (width - margin, 0, width, image.size[1])) == 0


@pytest.mark.slow  # WeasyPrint renders the example course's handout
def test_handout_pdf_link_on_every_handout_page(example: Built) -> None:
    link = (
        '<a class="button" href="/kms/handout.pdf" '
        'download="les-bases-de-sql-avec-sqlite-handout.pdf" type="application/pdf">'
        "Télécharger le polycopié (PDF)</a>"
    )
    pages = [p for p in (example.site / "kms").rglob("*.html") if p.name != "locked.html"]
    assert len(pages) == 5
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert link in text, page
        assert "tous les modules sont terminés" in text  # the example opens per module


# -- small courses --------------------------------------------------------------------------------


def test_handout_pdf_small_course_in_english(tmp_path: Path) -> None:
    content = make_course(tmp_path, language="en")
    built = build_pdf(content)
    reader = built.reader
    assert [(level, title) for level, title, _ in outline(reader)] == [
        (1, "Polycopié"),
        (1, "M1 Premier"),
        (2, "Fiche un"),
    ]
    assert len(reader.pages) == 4  # cover, contents, introduction, M1
    assert reader.trailer["/Root"]["/Lang"] == "en"
    assert reader.pages[1].extract_text().startswith("Contents")
    last = " ".join(reader.pages[3].extract_text().split())
    assert "File to download from the online handout: /kms/M1/script.sql" in last
    assert "page 4 / 4" in last
    fiche = (built.site / "kms/M1/fiche.html").read_text(encoding="utf-8")
    assert 'download="petit-cours-handout.pdf"' in fiche and "Download the handout (PDF)" in fiche
    assert "once every module" not in fiche  # unlock: end


@pytest.mark.slow  # renders a handout PDF
def test_handout_pdf_long_code_wraps_inside_the_page(tmp_path: Path) -> None:
    content = make_course(tmp_path)
    long_line = "SELECT " + "x" * 400 + " FROM t;"
    write(
        content / "kms/M1/code.md",
        f"# Code\n\n```sql\n{long_line}\n```\n\n| a | b |\n|---|---|\n| {'y' * 300} | z |\n",
    )
    built = build_pdf(content)
    pdf = built.site / handout_pdf.SITE_PATH
    page = next(n for _, title, n in outline(built.reader) if title == "Code")
    text = "".join(built.reader.pages[page - 1].extract_text().split())
    assert long_line.replace(" ", "") in text and "y" * 300 in text
    image = rasterise(pdf, page, tmp_path, dpi=72)
    width = image.size[0]
    assert dark_share(image, (round(width * 194 / 210), 0, width, image.size[1])) == 0


@pytest.mark.slow  # renders a handout PDF
def test_handout_pdf_embeds_local_images_and_never_fetches_remote_ones(tmp_path: Path) -> None:
    content = make_course(tmp_path)
    Image.new("L", (400, 300), 0).save(content / "kms/M1/noir.png")
    write(
        content / "kms/M1/images.md",
        "# Images\n\n![Un carré noir](noir.png)\n\n"
        "![Un schéma distant](https://example.invalid/schema.png)\n",
    )
    built = build_pdf(content)
    page = next(n for _, title, n in outline(built.reader) if title == "Images")
    assert "[Un schéma distant]" in built.reader.pages[page - 1].extract_text()
    image = rasterise(built.site / handout_pdf.SITE_PATH, page, tmp_path)
    assert dark_share(image) > 0.1  # the black square (about 13% of the page) is drawn
    Image.new("L", (400, 300), 255).save(content / "kms/M1/noir.png")  # now white
    again = build_pdf(content)
    assert not any(line.endswith("cached") for line in again.lines)
    assert dark_share(rasterise(again.site / handout_pdf.SITE_PATH, page, tmp_path)) < 0.1


@pytest.mark.slow  # renders a handout PDF
def test_handout_pdf_cached_by_its_inputs(tmp_path: Path) -> None:
    content = make_course(tmp_path)
    first = build_pdf(content)
    assert not any(line.endswith("cached") for line in first.lines)
    data = (first.site / handout_pdf.SITE_PATH).read_bytes()
    handout_cache.forget()  # a new process: the next build finds it beside the private manifest
    edit(content, "modules/m2/texte.md", "Du texte.", "Un autre texte.")
    again = build_pdf(content)
    assert "handout PDF: 4 pages, cached" in again.lines
    assert (again.site / handout_pdf.SITE_PATH).read_bytes() == data
    handout_cache.forget()  # another output and private directory: the per-user cache has it
    elsewhere = build_pdf(content, out=tmp_path / "other", private=tmp_path / "other-private")
    assert "handout PDF: 4 pages, cached" in elsewhere.lines
    assert sorted(p.name for p in (tmp_path / "xdg-cache/sillon/handout-pdf").iterdir()) == [
        p.name for p in sorted((tmp_path / "site-private/handout-pdf").iterdir())
    ]
    handout_cache.forget()  # --no-cache: laid out afresh, same bytes but the date
    fresh = build_pdf(content, out=tmp_path / "cold", disk_cache=False)
    assert not any(line.endswith("cached") for line in fresh.lines)
    edit(content, "kms/M1/fiche.md", "# Fiche un", "# Fiche une")
    changed = build_pdf(content)
    assert not any(line.endswith("cached") for line in changed.lines)
    assert [title for _, title, _ in outline(changed.reader)][-1] == "Fiche une"
    assert len(list((tmp_path / "site-private/handout-pdf").glob("*.pdf"))) == 1


def test_handout_pdf_none_without_handout(tmp_path: Path) -> None:
    content = make_course(tmp_path)
    shutil.rmtree(content / "kms")
    config = config_for(content)
    build_site(config)
    assert not (config.out / handout_pdf.SITE_PATH).exists()
    assert "handout.pdf" not in (config.out / "kms/index.html").read_text(encoding="utf-8")


def test_handout_pdf_turned_off_by_the_course(tmp_path: Path) -> None:
    """`kms: {pdf: false}`: no PDF, no download button; a non-boolean is the author's error."""
    content = make_course(tmp_path)
    edit(content, "course.yaml", "kms: {unlock: end}", "kms: {unlock: end, pdf: false}")
    config = config_for(content)
    build_site(config)
    assert not (config.out / handout_pdf.SITE_PATH).exists()
    assert "handout.pdf" not in (config.out / "kms/index.html").read_text(encoding="utf-8")
    edit(content, "course.yaml", "pdf: false", "pdf: maybe")
    with pytest.raises(ContentError) as failed:
        build_site(config_for(content))
    assert any("course.yaml" in str(p) and "pdf" in str(p) for p in failed.value.problems)


def test_handout_pdf_name_is_reserved(tmp_path: Path) -> None:
    content = make_course(tmp_path)
    write(content / "kms/handout.pdf", "%PDF-1.4 an author's own file\n")
    with pytest.raises(ContentError) as raised:
        build_site(config_for(content))
    assert [str(p) for p in raised.value.problems] == [
        f"{content}/kms/handout.pdf:1: 'kms/handout.pdf' is reserved: the build writes the "
        "whole handout there as a PDF; rename this file"
    ]


NO_PANGO = textwrap.dedent(
    """
    import sys
    class NoPango:  # what cffi raises when WeasyPrint cannot dlopen Pango
        def find_spec(self, name, path=None, target=None):
            if name == "weasyprint":
                raise OSError("cannot load library 'libpango-1.0-0': not found")
    sys.meta_path.insert(0, NoPango())
    sys.path.insert(0, sys.argv[1])
    import build
    sys.exit(build.main(sys.argv[2:]))
    """
)


@pytest.mark.slow  # renders a handout PDF
def test_handout_pdf_without_pango_warns_and_strict_fails(tmp_path: Path) -> None:
    # Stand-in: an import hook raises the OSError a machine without Pango gives (real Pango is
    # installed here, so its absence can only be played).
    make_course(tmp_path)

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", NO_PANGO, str(ROOT), "build", "--content", "content"]
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache")}
        return subprocess.run(
            command + list(extra),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    warned = run("--out", "site")
    assert warned.returncode == 0, warned.stderr
    assert (
        "content/kms:1: warning: no handout PDF: WeasyPrint cannot load Pango (cannot load library "
        "'libpango-1.0-0': not found); install it: apt install libpango-1.0-0 libpangoft2-1.0-0 "
        "(macOS: brew install pango)"
    ) in warned.stderr.splitlines()
    assert not (tmp_path / "site/kms/handout.pdf").exists()
    assert "handout.pdf" not in (tmp_path / "site/kms/index.html").read_text(encoding="utf-8")
    strict = run("--out", "site2", "--strict")
    assert strict.returncode == 1 and "no handout PDF" in strict.stderr
    assert not (tmp_path / "site2").exists()


def test_handout_pdf_url_is_the_gates() -> None:
    assert gate.HANDOUT_PDF == handout_pdf.URL


# -- the gate: the PDF holds every module ---------------------------------------------------------


@pytest.fixture(params=["start", "end", "module"])
def policy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Cohort]]:
    content = make_course(tmp_path / "course", duration=120, unlock=request.param)
    with cohort(content, tmp_path) as running:
        yield request.param, running


def assert_pdf(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(response.content)).pages) == 4


def test_handout_pdf_gate_opens_with_the_whole_handout(policy: tuple[str, Cohort]) -> None:
    unlock, app = policy
    _, browser = app.learner()
    if unlock == "start":
        assert_pdf(browser.get("/kms/handout.pdf"))
        return
    assert_error(browser.get("/kms/handout.pdf"), 403, "kms_locked")
    token = reach_tally_step(app, browser)  # module M1 finished, M2's last step open
    if unlock == "module":
        assert browser.get("/kms/M1/fiche.html").status_code == 200
        locked = assert_error(browser.get("/kms/handout.pdf"), 403, "kms_locked")
        assert locked["error"]["message"] == "The handout PDF opens once every module is finished."
    else:
        assert_error(browser.get("/kms/handout.pdf"), 403, "kms_locked")
    assert post_hook(app, tally_payload(token, 90)).json()["passed"]
    assert move_on(browser, "final").status_code == 200  # the end of the course
    assert_pdf(browser.get("/kms/handout.pdf"))
    assert_error(app.client.get("/kms/handout.pdf"), 401, "unauthorized")


def test_handout_pdf_gate_module_policy_after_module_one(tmp_path: Path) -> None:
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    with cohort(content, tmp_path) as app:
        _, browser = app.learner()
        finish_module_one(app, browser)
        assert browser.get("/kms/").status_code == 200
        assert_error(browser.get("/kms/handout.pdf"), 403, "kms_locked")
        admin = app.client.get("/kms/handout.pdf", headers=app.admin())
        assert admin.status_code == 200 and admin.content.startswith(b"%PDF-")


# -- one click in real Chromium, against `python build.py serve` ---------------------------------


def test_handout_pdf_downloads_in_one_click(browser: Any, tmp_path: Path) -> None:
    content = make_course(tmp_path, unlock="start")
    site = Site(tmp_path, content)
    try:
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        sign_in(page, site)
        page.goto(site.url + "/kms/")
        fetched = page.request.get(site.url + "/kms/handout.pdf")  # the learner's cookies
        assert fetched.status == 200, fetched.text()
        link = page.get_by_role("link", name="Télécharger le polycopié (PDF)")
        with page.expect_download(timeout=60_000) as download_info:
            link.click()
        download = download_info.value
        assert download.suggested_filename == "petit-cours-handout.pdf"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        reader = PdfReader(saved)
        assert reader.metadata is not None
        assert reader.metadata.title == "Petit cours · Polycopié"
        assert len(reader.pages) == 4
        assert "tous les modules" not in page.content()  # unlock: start, no waiting note
        context.close()
    finally:
        site.stop()
