"""Handout search: Pagefind indexes per module, built by the real build, gated like the pages.

Build tests read the real index files; gate tests fetch them as learners through the real app.
The browser tests, which type queries into the handout page in real Chromium, are in
test_search_browser.py.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.client import Cohort, assert_error, cohort, event, move_on
from support.course import config_for, edit, write
from support.search import entry, fragments, handout_course

import build as cli
from api import gate
from api.course import parse_manifest
from builder import search
from builder.cache import Cache
from builder.headers import headers_for, parse_headers
from builder.pipeline import build

# -- the build ---------------------------------------------------------------------------------


def test_search_build_writes_one_index_per_module(tmp_path: Path) -> None:
    config = config_for(handout_course(tmp_path))
    build(config)
    kms = config.out / "kms"
    general, m1, m2 = kms / "_search", kms / "M1/_search", kms / "M2/_search"
    for name in ("pagefind.js", "pagefind-worker.js", "pagefind-entry.json", "wasm.fr.pagefind"):
        assert (general / name).is_file(), name
    for folder in (m1, m2):
        assert (folder / "pagefind-entry.json").is_file()
        assert (folder / "wasm.fr.pagefind").is_file()
        assert not (folder / "pagefind.js").exists(), "the general index brings the script"
    assert not (kms / "M3/_search").exists(), "a module with downloads only has no pages to index"
    assert not list(config.out.rglob("pagefind-ui*")), "Pagefind's UI kits are not shipped"
    assert not list(config.out.rglob("wasm.unknown.pagefind"))
    assert [entry(f)["languages"]["fr"]["page_count"] for f in (general, m1, m2)] == [2, 1, 1]
    assert {r["url"] for r in fragments(general)} == {"/kms/", "/kms/guide.html"}
    assert [r["url"] for r in fragments(m1)] == ["/kms/M1/fiche.html"]
    assert [r["url"] for r in fragments(m2)] == ["/kms/M2/secret.html"]
    page = (kms / "M1/fiche.html").read_text()
    assert 'data-search-root="/kms/_search/"' in page
    assert 'data-search-indexes="/kms/M1/_search/ /kms/M2/_search/"' in page


def test_search_index_holds_only_the_article_never_nav_or_locked_page(tmp_path: Path) -> None:
    config = config_for(handout_course(tmp_path))
    build(config)
    records = [
        record for folder in config.out.glob("kms/**/_search") for record in fragments(folder)
    ]
    assert "/kms/locked.html" not in {r["url"] for r in records}
    fiche = next(r for r in records if r["url"] == "/kms/M1/fiche.html")
    assert fiche["content"] == "Fiche un. Une requête simple lit la table des livres."
    assert fiche["meta"]["title"] == "Fiche un"
    # Not the nav (downloads, the other pages' titles), the header, the print button or search.
    outside = ("Téléchargements", "Guide", "Classement", "Imprimer", "Rechercher")
    for record in records:
        if record["url"] != "/kms/guide.html":
            assert not [word for word in outside if word in record["content"]], record


def test_search_author_excludes_a_block_with_data_pagefind_ignore(tmp_path: Path) -> None:
    content = handout_course(tmp_path)
    write(
        content / "kms/M1/fiche.md",
        "# Fiche un\n\nÀ chercher.\n\n<div data-pagefind-ignore markdown>\n\n"
        "Le **corrigé** caché.\n\n</div>\n\nFin.\n",
    )
    config = config_for(content)
    build(config)
    (record,) = fragments(config.out / "kms/M1/_search")
    assert record["content"] == "Fiche un. À chercher. Fin."
    assert "corrigé" in (config.out / "kms/M1/fiche.html").read_text(), "still on the page"


def test_search_title_is_the_page_title_even_without_a_heading(tmp_path: Path) -> None:
    content = handout_course(tmp_path)
    write(content / "kms/M1/sans-titre.md", "Du texte, sans titre, avec une virgule.\n")
    config = config_for(content)
    build(config)
    titles = {r["url"]: r["meta"]["title"] for r in fragments(config.out / "kms/M1/_search")}
    assert titles["/kms/M1/sans-titre.html"] == "Sans titre"


@pytest.mark.parametrize("language", ["fr", "en"])
def test_search_index_is_in_the_course_language(tmp_path: Path, language: str) -> None:
    config = config_for(handout_course(tmp_path, language=language))
    build(config)
    for folder in config.out.glob("kms/**/_search"):
        assert set(entry(folder)["languages"]) == {language}, folder
        assert (folder / f"wasm.{language}.pagefind").is_file()
    assert f'<html lang="{language}">' in (config.out / "kms/M1/fiche.html").read_text()


@pytest.fixture
def counted_pagefind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real Pagefind behind a wrapper that logs each run (PAGEFIND_BINARY_PATH)."""
    real = search.executable()
    log = tmp_path / "pagefind-runs.log"
    wrapper = tmp_path / "bin" / "pagefind"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho run >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(wrapper))
    return log


def runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.is_file() else 0


def test_search_rebuild_without_changes_runs_no_pagefind(
    tmp_path: Path, counted_pagefind: Path
) -> None:
    content = handout_course(tmp_path)
    config = config_for(content)
    build(config)
    assert runs(counted_pagefind) == 3  # general, M1, M2
    before = {p: p.read_bytes() for p in config.out.glob("kms/**/_search/**/*") if p.is_file()}
    build(config)  # a new process would have an empty Cache: the indexes are on disk
    assert runs(counted_pagefind) == 3
    after = {p: p.read_bytes() for p in config.out.glob("kms/**/_search/**/*") if p.is_file()}
    assert after == before
    cache = Cache()
    build(config, cache)
    edit(content, "modules/m2/lecon.md", "Du texte.", "Un autre texte.")  # not the handout
    result = build(config, cache, incremental=True)
    assert runs(counted_pagefind) == 3 and result.written == ["steps/lecon-2.html"]
    edit(content, "kms/M2/secret.md", "zanzibar", "tombouctou")
    result = build(config, cache, incremental=True)
    assert runs(counted_pagefind) == 4, "only M2's index is rebuilt"
    assert any(n.startswith("kms/M2/_search/") for n in result.written)
    assert not any(n.startswith(("kms/M1/_search/", "kms/_search/")) for n in result.written)
    (record,) = fragments(config.out / "kms/M2/_search")
    assert "tombouctou" in record["content"] and "zanzibar" not in record["content"]
    assert len(list((config.out / "kms/M2/_search/fragment").iterdir())) == 1, "old chunks go"
    cached = config.private / "search"
    assert sorted(len(list(d.iterdir())) for d in cached.iterdir()) == [1, 1, 1]


def test_search_no_cache_build_indexes_again(tmp_path: Path, counted_pagefind: Path) -> None:
    config = config_for(handout_course(tmp_path))
    build(config)
    build(config_for(config.content, disk_cache=False))
    assert runs(counted_pagefind) == 6


def test_search_module_losing_its_pages_loses_its_index(tmp_path: Path) -> None:
    content = handout_course(tmp_path)
    config = config_for(content)
    build(config)
    (content / "kms/M2/secret.md").unlink()
    build(config)
    assert not (config.out / "kms/M2/_search").exists()
    assert not (config.private / "search/M2").exists()
    assert 'data-search-indexes="/kms/M1/_search/"' in (config.out / "kms/index.html").read_text()


def test_search_course_without_handout_indexes_its_generated_front_page(tmp_path: Path) -> None:
    content = handout_course(tmp_path)
    shutil.rmtree(content / "kms")
    config = config_for(content)
    build(config)
    assert [r["url"] for r in fragments(config.out / "kms/_search")] == ["/kms/"]
    assert sorted(p.parent.name for p in config.out.glob("kms/*/_search")) == []
    assert 'data-search-indexes=""' in (config.out / "kms/index.html").read_text()


def test_search_missing_pagefind_is_a_clear_error_and_keeps_the_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    content = handout_course(tmp_path)
    config = config_for(content)
    build(config)
    edit(content, "kms/M1/fiche.md", "simple", "directe")
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "nowhere" / "pagefind"))
    code = cli.main(["--content", str(content), "--out", str(config.out)])
    assert code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "error: Pagefind's binary was not found, so the handout cannot be indexed: "
            "python3 -m pip install 'pagefind[bin]' (or set PAGEFIND_BINARY_PATH)"
        )
    )
    assert "simple" in (config.out / "kms/M1/fiche.html").read_text(), "previous site untouched"


def test_search_failing_pagefind_names_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "pagefind"
    broken.write_text("#!/bin/sh\necho 'index corrupted' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(broken))
    config = config_for(handout_course(tmp_path))
    with pytest.raises(search.SearchError) as raised:
        build(config)
    assert "Pagefind failed to index /kms/" in str(raised.value)
    assert str(raised.value).endswith("(3): index corrupted")
    assert [str(p) for p in raised.value.problems] == [str(raised.value)], "what serve logs"
    assert not config.out.exists()


def test_search_headers_keep_index_files_revalidated_and_allow_wasm(tmp_path: Path) -> None:
    config = config_for(handout_course(tmp_path))
    build(config)
    rules = parse_headers((config.out / "_headers").read_text())
    fragment = next((config.out / "kms/M1/_search/fragment").iterdir()).name
    for path in (
        "/kms/_search/pagefind.js",
        "/kms/_search/pagefind-worker.js",
        "/kms/_search/pagefind-entry.json",
        "/kms/M1/_search/pagefind-entry.json",
        "/kms/M1/_search/wasm.fr.pagefind",
        f"/kms/M1/_search/fragment/{fragment}",
    ):
        assert headers_for(path, rules)["cache-control"] == "private, no-cache", path
    csp = headers_for("/kms/M1/fiche.html", rules)["content-security-policy"]
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src "))
    assert script_src.split()[1:3] == ["'self'", "'wasm-unsafe-eval'"]
    assert "'unsafe-eval'" not in csp and "'unsafe-inline'" not in csp


def test_search_script_and_box_ship_with_every_handout_page(tmp_path: Path) -> None:
    config = config_for(handout_course(tmp_path))
    build(config)
    for name in ("kms/index.html", "kms/guide.html", "kms/M1/fiche.html"):
        page = (config.out / name).read_text()
        assert 'class="kms-search" data-search hidden' in page, name
        assert "/static/search." in page and "<script>" not in page, name
        assert "data-pagefind-body" in page and "data-pagefind-ignore" in page, name
    assert "data-search" not in (config.out / "kms/locked.html").read_text()
    assert os.path.isfile(config.out / "kms/_search/pagefind.js")


# -- the gate ----------------------------------------------------------------------------------


def finish(browser: Any, step: str) -> None:
    """A lesson read, then left (the Next button)."""
    response = browser.post("/api/lesson-done", json={"eventId": event(), "stepId": step})
    assert response.status_code == 200, response.text
    assert move_on(browser, step).status_code == 200


def index_status(browser: Any, where: str) -> int:
    status: int = browser.get(f"/kms/{where}pagefind-entry.json").status_code
    return status


@pytest.fixture
def gated(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cohort]:
    content = handout_course(tmp_path / "course", unlock=request.param)
    with cohort(content, tmp_path) as running:
        yield running


@pytest.mark.parametrize("gated", ["module"], indirect=True)
def test_search_gate_module_policy_opens_indexes_module_by_module(gated: Cohort) -> None:
    _, browser = gated.learner()
    for where in ("_search/", "M1/_search/", "M2/_search/"):
        assert_error(browser.get(f"/kms/{where}pagefind-entry.json"), 403, "kms_locked")
    assert_error(browser.get("/kms/_search/pagefind.js"), 403, "kms_locked")
    finish(browser, "lecon-1")
    assert index_status(browser, "_search/") == 200
    assert browser.get("/kms/_search/pagefind.js").status_code == 200
    assert index_status(browser, "M1/_search/") == 200
    assert_error(browser.get("/kms/M2/_search/pagefind-entry.json"), 403, "kms_locked")
    assert_error(browser.get("/kms/M2/_search/wasm.fr.pagefind"), 403, "kms_locked")
    # The Worker asks the same gate: 204 for an open index, 403 for a locked one.
    assert browser.get("/api/gate?path=kms/M1/_search/pagefind-entry.json").status_code == 204
    assert_error(
        browser.get("/api/gate?path=kms/M2/_search/pagefind-entry.json"), 403, "kms_locked"
    )
    finish(browser, "lecon-2")
    assert index_status(browser, "M2/_search/") == 200
    assert_error(gated.client.get("/kms/_search/pagefind-entry.json"), 401, "unauthorized")


@pytest.mark.parametrize("gated", ["end"], indirect=True)
def test_search_gate_end_policy_opens_indexes_at_the_end(gated: Cohort) -> None:
    _, browser = gated.learner()
    finish(browser, "lecon-1")
    finish(browser, "lecon-2")
    for where in ("_search/", "M1/_search/", "M2/_search/"):
        assert_error(browser.get(f"/kms/{where}pagefind-entry.json"), 403, "kms_locked")
    finish(browser, "lecon-3")
    assert [index_status(browser, w) for w in ("_search/", "M1/_search/", "M2/_search/")] == [
        200,
        200,
        200,
    ]


@pytest.mark.parametrize("gated", ["start"], indirect=True)
def test_search_gate_start_policy_opens_every_index(gated: Cohort) -> None:
    _, browser = gated.learner()
    assert [index_status(browser, w) for w in ("_search/", "M1/_search/", "M2/_search/")] == [
        200,
        200,
        200,
    ]


def test_search_gate_reads_the_general_index_as_module_less(tmp_path: Path) -> None:
    config = config_for(handout_course(tmp_path))
    build(config)
    course = parse_manifest((config.private / "manifest.json").read_text())
    assert gate._module_of(course, "/kms/_search/pagefind.js") is None
    assert gate._module_of(course, "/kms/_search/fragment/fr_0.pf_fragment") is None
    assert gate._module_of(course, "/kms/M1/_search/pagefind-entry.json") == "M1"
    assert gate._module_of(course, "/kms/M2/_search/index/fr_1.pf_index") == "M2"
    assert gate._module_of(course, "/kms/M1/fiche.html") == "M1"
    assert gate.SEARCH_DIR == search.SEARCH_DIR
