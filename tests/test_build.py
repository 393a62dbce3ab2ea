"""The real build on real files: output layout, answer keys, atomic swap, incremental writes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from support.course import config_for, edit, make_course, write

import build
from builder.cache import Cache
from builder.errors import ContentError
from builder.headers import headers_for, parse_headers
from builder.pipeline import build as run_build


def site_files(site: Path) -> dict[str, bytes]:
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file()
    }


def test_build_writes_pages_fragments_and_handout(course: Path) -> None:
    config = config_for(course)
    run_build(config)
    files = site_files(config.out)
    for page in [
        "index.html",
        "learn/index.html",
        "board/index.html",
        "me/index.html",
        "404.html",
        "kms/index.html",
        "kms/M1/fiche.html",
        "kms/M1/script.sql",
        "outline.json",
        "_headers",
        "steps/intro.html",
        "steps/quiz-1.html",
        "steps/texte.html",
        "steps/final.html",
    ]:
        assert page in files, page
    intro = files["steps/intro.html"].decode()
    assert '<a href="/kms/M1/fiche.html">la fiche</a>' in files["kms/index.html"].decode()
    assert re.search(
        r'<img alt="Un schéma" loading="lazy" src="/media/schema\.[0-9a-f]{10}\.svg"', intro
    )
    assert re.search(
        r'<video controls preload="metadata" playsinline src="/media/clip\.[0-9a-f]{10}\.webm">',
        intro,
    )
    assert re.search(
        r'<track kind="captions" src="/media/clip\.[0-9a-f]{10}\.vtt" srclang="fr"', intro
    )
    assert 'data-tally-form="wMx9Qd"' in files["steps/final.html"].decode()
    assert '<a href="script.sql" download>' not in files["kms/M1/fiche.html"].decode()
    assert '<a href="/kms/M1/script.sql">Le script</a>' in files["kms/M1/fiche.html"].decode()


def test_build_outline_has_no_links_to_steps(course: Path) -> None:
    config = config_for(course)
    run_build(config)
    home = (config.out / "index.html").read_text()
    assert 'data-step-id="intro" data-state="locked"' in home
    assert "/steps/" not in home
    assert home.count('href="/learn/"') == 1


def test_build_no_answer_key_reaches_site(course: Path, tmp_path: Path) -> None:
    """Two courses that differ only in answers and explanations build byte-identical sites."""
    other = make_course(tmp_path / "other")
    edit(other, "modules/m1/quiz.yaml", "answer: 1", "answer: 2")
    edit(other, "modules/m1/quiz.yaml", "answer: [0, 2]", "answer: [1]")
    edit(other, "modules/m1/quiz.yaml", "Divisibles par deux.", "Zorglub explique tout.")
    first, second = config_for(course), config_for(other)
    run_build(first)
    run_build(second)
    assert site_files(first.out) == site_files(second.out)
    manifests = [json.loads((c.private / "manifest.json").read_text()) for c in (first, second)]
    quizzes = [next(s for s in m["steps"] if s["id"] == "quiz-1") for m in manifests]
    assert [q["answer"] for q in quizzes[0]["questions"]] == [[1], [0, 2]]
    assert [q["answer"] for q in quizzes[1]["questions"]] == [[2], [1]]
    assert "Zorglub" in json.dumps(manifests[1]) and not any(
        b"Zorglub" in v for v in site_files(second.out).values()
    )
    assert manifests[0]["version"] != manifests[1]["version"]
    assert not first.private.resolve().is_relative_to(first.out.resolve())


def test_build_example_course_no_answers_in_site(tmp_path: Path) -> None:
    from support.course import EXAMPLE

    config = config_for(EXAMPLE, out=tmp_path / "site", private=tmp_path / "private")
    run_build(config)
    manifest = json.loads((config.private / "manifest.json").read_text())
    explains = [
        q["explain"] for s in manifest["steps"] for q in s.get("questions", []) if q["explain"]
    ]
    assert explains, "the example course has explanations to hide"
    site_text = b"".join(site_files(config.out).values()).decode("utf-8", "replace")
    for explain in explains:
        assert re.sub("<[^>]+>", "", explain).strip()[:40] not in site_text
    assert '"answer"' not in site_text


def test_build_failure_leaves_previous_site_untouched(course: Path) -> None:
    config = config_for(course)
    run_build(config)
    before = site_files(config.out)
    edit(course, "modules/m2/texte.md", "Du texte.", "Un autre texte.")
    edit(course, "modules/m1/quiz.yaml", "answer: 1", "answer: 9")
    with pytest.raises(ContentError) as caught:
        run_build(config)
    assert [str(p) for p in caught.value.problems] == [
        f"{course}/modules/m1/quiz.yaml:6: answer 9 is not a choice index (0 to 2)"
    ]
    assert site_files(config.out) == before
    assert not [p for p in config.out.parent.iterdir() if p.name.startswith(".site-")]


def test_build_replaces_site_atomically_and_drops_stale_files(course: Path) -> None:
    config = config_for(course)
    run_build(config)
    write(config.out / "stale.html", "old")
    edit(course, "modules/m2/texte.md", "Du texte.", "Texte neuf.")
    run_build(config)
    files = site_files(config.out)
    assert "stale.html" not in files
    assert b"Texte neuf." in files["steps/texte.html"]


def test_build_incremental_rewrites_only_the_edited_lesson(course: Path) -> None:
    config = config_for(course, dev=True)
    cache = Cache()
    first = run_build(config, cache)
    assert len(first.written) == first.pages
    edit(course, "modules/m2/texte.md", "Du texte.", "Du texte modifié.")
    second = run_build(config, cache, incremental=True)
    assert second.written == ["steps/texte.html"]
    assert "modifié" in (config.out / "steps/texte.html").read_text()
    third = run_build(config, cache, incremental=True)
    assert third.written == []


def test_build_incremental_follows_title_image_and_template_changes(
    course: Path, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(Path(build.__file__).parent / "templates", templates)
    config = config_for(course, dev=True, templates=templates)
    cache = Cache()
    run_build(config, cache)
    edit(course, "modules/m2/texte.md", "title: Un texte", "title: Un titre neuf")
    result = run_build(config, cache, incremental=True)
    assert sorted(result.written) == [
        "_sillon/preview.html",
        "index.html",
        "outline.json",
        "steps/texte.html",
    ]
    write(
        course / "modules/m1/img/schema.svg",
        '<svg xmlns="http://www.w3.org/2000/svg" width="2"/>\n',
    )
    result = run_build(config, cache, incremental=True)
    assert "steps/intro.html" in result.written
    assert any(n.startswith("media/schema.") for n in result.written)
    assert len(list((config.out / "media").glob("schema.*.svg"))) == 1, (
        "the old fingerprinted image is removed"
    )
    edit(templates, "step.html", '<h1 class="step-heading">', '<h1 class="step-heading changed">')
    result = run_build(config, cache, incremental=True)
    assert sorted(n for n in result.written if n.startswith("steps/")) == [
        "steps/final.html",
        "steps/intro.html",
        "steps/quiz-1.html",
        "steps/texte.html",
    ]


def test_build_headers_file_is_strict_and_caches_fingerprinted_assets(course: Path) -> None:
    config = config_for(course)
    run_build(config)
    rules = parse_headers((config.out / "_headers").read_text())
    page = headers_for("/learn/", rules)
    assert page["cache-control"] == "no-cache"
    csp = page["content-security-policy"]
    assert (
        "default-src 'self'" in csp and "script-src 'self' " in csp and "'unsafe-inline'" not in csp
    )
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    asset = next(p for p in (config.out / "static").iterdir() if p.name.startswith("app."))
    assert re.fullmatch(r"app\.[0-9a-f]{10}\.js", asset.name)
    assert (
        headers_for(f"/static/{asset.name}", rules)["cache-control"]
        == "public, max-age=31536000, immutable"
    )
    for gated in ("/media/x.1234567890.webm", "/kms/M1/fiche.html", "/steps/intro.html"):
        assert headers_for(gated, rules)["vary"] == "Cookie", gated
        assert headers_for(gated, rules)["cache-control"].startswith("private, no-"), gated
    assert headers_for("/steps/intro.html", rules)["cache-control"] == "private, no-store"


@pytest.mark.parametrize("which", ["small", "example", "english"])
def test_build_pages_have_no_inline_scripts_or_styles(
    course: Path, tmp_path: Path, which: str
) -> None:
    from support.course import ENGLISH, EXAMPLE

    content = {"small": course, "example": EXAMPLE, "english": ENGLISH}[which]
    config = config_for(content, out=tmp_path / "out", private=tmp_path / "p")
    run_build(config)
    for name, data in site_files(config.out).items():
        if name.endswith(".html"):
            html = data.decode()
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), name
            assert " style=" not in html and "<style" not in html, name
            assert not re.search(r"\son[a-z]+=", html), name


def test_build_english_interface(tmp_path: Path) -> None:
    content = make_course(tmp_path, language="en")
    config = config_for(content)
    run_build(config)
    home = (config.out / "index.html").read_text()
    assert '<html lang="en">' in home and ">Start</a>" in home and "Course outline" in home
    quiz = (config.out / "steps/quiz-1.html").read_text()
    assert "Submit my answers" in quiz and "Several answers possible" in quiz


def test_build_i18n_has_same_keys_in_every_language() -> None:
    from builder.i18n import STRINGS

    assert set(STRINGS["fr"]) == set(STRINGS["en"])


def test_build_escapes_author_text(course: Path) -> None:
    edit(course, "modules/m2/texte.md", "title: Un texte", 'title: "<script>alert(1)</script>"')
    config = config_for(course)
    run_build(config)
    assert "<script>alert(1)" not in (config.out / "index.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (config.out / "steps/texte.html").read_text()


def test_build_cli_reports_errors_without_traceback(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(course.parent)
    edit(course, "modules/m1/quiz.yaml", "answer: 1", "answer: 9")
    assert build.main(["--content", "content", "--out", "site"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "content/modules/m1/quiz.yaml:6: answer 9 is not a choice index (0 to 2)",
        "1 error(s), 0 warning(s)",
    ]
    assert not (course.parent / "site").exists()


def test_build_cli_missing_content_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert build.main(["build", "--content", "nowhere"]) == 2
    assert capsys.readouterr().err == "error: nowhere: no course.yaml here (is --content right?)\n"


def test_build_parallel_and_serial_render_the_same(tmp_path: Path) -> None:
    content = make_course(tmp_path)
    for number in range(80):
        write(
            content / f"modules/m2/extra{number}.md",
            f"---\nid: extra{number}\ntitle: Extra {number}\n---\n## T\n\nTexte {number}.\n",
        )
    edit(
        content,
        "modules/m2/module.yaml",
        "steps: [texte.md,",
        "steps: [" + ", ".join(f"extra{n}.md" for n in range(80)) + ", texte.md,",
    )
    serial = config_for(content, jobs=1)
    run_build(serial)
    parallel = config_for(content, out=tmp_path / "par", jobs=2)
    run_build(parallel)
    assert site_files(serial.out) == site_files(parallel.out)


@pytest.mark.parametrize("out", ["content/site", ".", "content"])
def test_build_cli_refuses_output_overlapping_content(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], out: str
) -> None:
    monkeypatch.chdir(course.parent)
    assert build.main(["build", "--content", "content", "--out", out]) == 2
    assert (
        capsys.readouterr().err
        == f"error: {out}: the output and content directories must be apart\n"
    )


def test_build_disk_cache_reuses_rendered_markdown_across_runs(course: Path) -> None:
    config = config_for(course)
    run_build(config, Cache())
    first = site_files(config.out)
    cache = Cache()
    run_build(config, cache)
    assert cache.rendered_count == 0, "a second run renders nothing it already rendered"
    assert site_files(config.out) == first
    edit(course, "modules/m2/texte.md", "Du texte.", "Du texte neuf.")
    cache = Cache()
    run_build(config, cache)
    assert cache.rendered_count == 1
    assert b"Du texte neuf." in (config.out / "steps/texte.html").read_bytes()


def test_build_disk_cache_follows_referenced_files_and_survives_corruption(course: Path) -> None:
    config = config_for(course)
    run_build(config, Cache())
    write(
        course / "modules/m1/img/schema.svg",
        '<svg xmlns="http://www.w3.org/2000/svg" width="3"/>\n',
    )
    run_build(config, Cache())
    images = [p.name for p in (config.out / "media").glob("schema.*.svg")]
    assert len(images) == 1 and images[0] in (config.out / "steps/intro.html").read_text()
    (config.private / "markdown-cache.pickle").write_bytes(b"not a pickle")
    cache = Cache()
    run_build(config, cache)
    assert cache.rendered_count > 0 and images[0] in (config.out / "steps/intro.html").read_text()


def test_build_no_cache_flag_renders_everything(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(course.parent)
    assert build.main(["--content", "content"]) == 0
    assert build.main(["--content", "content"]) == 0
    assert "rendered 0 of" in capsys.readouterr().err
    assert build.main(["--content", "content", "--no-cache"]) == 0
    assert "rendered 0 of" not in capsys.readouterr().err


def test_build_player_page_weighs_under_60kb_gzipped(tmp_path: Path) -> None:
    import gzip

    from support.course import EXAMPLE

    config = config_for(EXAMPLE, out=tmp_path / "site", private=tmp_path / "private")
    run_build(config)
    page = (config.out / "learn/index.html").read_text()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    total = sum(len(gzip.compress((config.out / a.lstrip("/")).read_bytes())) for a in assets)
    total += len(gzip.compress(page.encode()))
    assert total < 60 * 1024, f"{total} bytes gzipped"
