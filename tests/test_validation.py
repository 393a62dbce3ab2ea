"""One test per class of content error: the exact `path:line: message` an author reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.course import edit, run_check, write

Mutation = Callable[[Path], None]

CASES: list[tuple[str, Mutation, list[str]]] = [
    (
        "yaml_syntax",
        lambda c: write(c / "course.yaml", "title: [Petit\nmodules: [m1, m2]\n"),
        ["content/course.yaml:2: invalid YAML: did not find expected ',' or ']'"],
    ),
    (
        "unknown_key_suggestion",
        lambda c: edit(c, "course.yaml", "language:", "langage:"),
        ["content/course.yaml:2: unknown key 'langage' in course.yaml; did you mean 'language'?"],
    ),
    (
        "unknown_key_no_suggestion",
        lambda c: edit(c, "modules/m1/module.yaml", "title:", "colour: red\ntitle:"),
        [
            "content/modules/m1/module.yaml:2: unknown key 'colour' in modules/<dir>/module.yaml "
            "(allowed: id, title, description, steps)"
        ],
    ),
    (
        "duplicate_yaml_key",
        lambda c: edit(
            c, "modules/m2/texte.md", "title: Un texte", "title: Un texte\ntitle: Encore"
        ),
        ["content/modules/m2/texte.md:4: duplicate key 'title'"],
    ),
    (
        "missing_required_key",
        lambda c: edit(c, "modules/m1/module.yaml", "title: Premier\n", ""),
        ["content/modules/m1/module.yaml:1: missing required key 'title' (Module title.)"],
    ),
    (
        "wrong_type",
        lambda c: edit(c, "course.yaml", "language: fr", "language: fr\nplayback_max_rate: fast"),
        ["content/course.yaml:3: 'playback_max_rate' must be a number, got text"],
    ),
    (
        "value_out_of_range",
        lambda c: edit(c, "course.yaml", "language: fr", "language: de\ncompletion: 1.5"),
        [
            "content/course.yaml:2: 'language' must be one of fr, en (got 'de')",
            "content/course.yaml:3: 'completion' must be in (0, 1] (got 1.5)",
        ],
    ),
    (
        "missing_module_dir",
        lambda c: edit(c, "course.yaml", "[m1, m2]", "[m1, m2, m22]"),
        ["content/course.yaml:3: module directory 'modules/m22' not found; did you mean 'm2'?"],
    ),
    (
        "missing_module_yaml",
        lambda c: (c / "modules/m2/module.yaml").unlink(),
        ["content/modules/m2:1: missing module.yaml (id, title, steps)"],
    ),
    (
        "missing_step_file",
        lambda c: edit(c, "modules/m1/module.yaml", "quiz.yaml]", "quiz.yaml, outro.md]"),
        [
            "content/modules/m1/module.yaml:3: step file 'modules/m1/outro.md' not found; did you mean 'intro.md'?"
        ],
    ),
    (
        "step_not_markdown_or_yaml",
        lambda c: edit(c, "modules/m1/module.yaml", "quiz.yaml]", "quiz.yaml, notes.txt]"),
        ["content/modules/m1/module.yaml:3: step 'notes.txt' must be a .md lesson or a .yaml quiz"],
    ),
    (
        "duplicate_step_id",
        lambda c: edit(c, "modules/m2/texte.md", "id: texte", "id: intro"),
        [
            "content/modules/m2/texte.md:2: duplicate step id 'intro' (also in content/modules/m1/intro.md:2)"
        ],
    ),
    (
        "duplicate_module_id",
        lambda c: edit(c, "modules/m2/module.yaml", "id: M2", "id: M1"),
        [
            "content/modules/m2/module.yaml:1: duplicate module id 'M1' (also in content/modules/m1/module.yaml:1)"
        ],
    ),
    (
        "invalid_step_id",
        lambda c: edit(c, "modules/m2/texte.md", "id: texte", "id: un/texte"),
        [
            "content/modules/m2/texte.md:2: invalid id 'un/texte': use letters, digits, '.', '-' "
            "and '_' (at most 64, starting with a letter or digit)"
        ],
    ),
    (
        "missing_front_matter",
        lambda c: write(c / "modules/m2/texte.md", "Juste du texte.\n"),
        [
            "content/modules/m2/texte.md:1: missing front matter: start the file with '---', id and title, then '---'"
        ],
    ),
    (
        "video_without_duration",
        lambda c: edit(c, "modules/m1/intro.md", "duration: 8\n", ""),
        ["content/modules/m1/intro.md:4: 'duration' (seconds) is required with 'video'"],
    ),
    (
        "bad_duration",
        lambda c: edit(c, "modules/m1/intro.md", "duration: 8", "duration: -3"),
        ["content/modules/m1/intro.md:5: 'duration' must be a positive number of seconds (got -3)"],
    ),
    (
        "missing_video_file",
        lambda c: (c / "modules/m1/media/clip.webm").unlink(),
        ["content/modules/m1/intro.md:4: video file not found: content/modules/m1/media/clip.webm"],
    ),
    (
        "bad_video_format",
        lambda c: edit(c, "modules/m1/intro.md", "media/clip.webm", "media/clip.avi"),
        [
            "content/modules/m1/intro.md:4: video 'modules/m1/media/clip.avi' must be a .mp4, .m4v, "
            ".webm, .ogv, .mov file or stream:<uid>"
        ],
    ),
    (
        "bad_stream_uid",
        lambda c: edit(c, "modules/m1/intro.md", "media/clip.webm", "stream:abc"),
        [
            "content/modules/m1/intro.md:4: invalid Stream video 'stream:abc': expected stream:<32 hex digits uid>"
        ],
    ),
    (
        "missing_captions",
        lambda c: edit(c, "modules/m1/intro.md", "media/clip.vtt", "media/clip.fr.vtt"),
        [
            "content/modules/m1/intro.md:6: captions file not found: content/modules/m1/media/clip.fr.vtt"
        ],
    ),
    (
        "quiz_answer_out_of_range",
        lambda c: edit(c, "modules/m1/quiz.yaml", "answer: 1", "answer: 3"),
        ["content/modules/m1/quiz.yaml:6: answer 3 is not a choice index (0 to 2)"],
    ),
    (
        "quiz_tally_and_questions",
        lambda c: edit(
            c, "modules/m1/quiz.yaml", "title: Quiz un", "title: Quiz un\ntally: abc123"
        ),
        ["content/modules/m1/quiz.yaml:3: a quiz has either 'questions' or 'tally', not both"],
    ),
    (
        "quiz_without_questions",
        lambda c: write(c / "modules/m2/tally.yaml", "id: final\ntitle: Évaluation\n"),
        [
            "content/modules/m2/tally.yaml:1: a quiz needs 'questions' (built-in) or 'tally' (a Tally form id)"
        ],
    ),
    (
        "quiz_draw_beyond_the_pool",
        lambda c: edit(c, "modules/m1/quiz.yaml", "title: Quiz un", "title: Quiz un\ndraw: 3"),
        [
            "content/modules/m1/quiz.yaml:3: 'draw' must be at most the number of questions in "
            "the pool (2), got 3"
        ],
    ),
    (
        "quiz_draw_zero",
        lambda c: edit(c, "modules/m1/quiz.yaml", "title: Quiz un", "title: Quiz un\ndraw: 0"),
        ["content/modules/m1/quiz.yaml:3: 'draw' must be at least 1 (got 0)"],
    ),
    (
        "quiz_feedback_unknown",
        lambda c: edit(
            c, "modules/m1/quiz.yaml", "title: Quiz un", "title: Quiz un\nfeedback: all"
        ),
        [
            "content/modules/m1/quiz.yaml:3: 'feedback' must be one of none, score, questions (got 'all')"
        ],
    ),
    (
        "quiz_cooldown_not_a_duration",
        lambda c: edit(
            c, "modules/m1/quiz.yaml", "title: Quiz un", "title: Quiz un\ncooldown: [1m, soon]"
        ),
        [
            "content/modules/m1/quiz.yaml:3: 'cooldown' must be a list of positive durations such "
            "as 30s, 5m, 2h or 1d (got 'soon')"
        ],
    ),
    (
        "quiz_attempts_zero",
        lambda c: edit(c, "modules/m1/quiz.yaml", "title: Quiz un", "title: Quiz un\nattempts: 0"),
        ["content/modules/m1/quiz.yaml:3: 'attempts' must be at least 1 (got 0)"],
    ),
    (
        "quiz_feedback_on_tally",
        lambda c: edit(
            c, "modules/m2/tally.yaml", "tally: wMx9Qd", "tally: wMx9Qd\nfeedback: none"
        ),
        [
            "content/modules/m2/tally.yaml:4: 'feedback' applies to built-in questions; a Tally "
            "form shows its own feedback and questions (set them in Tally)"
        ],
    ),
    (
        "quiz_one_choice",
        lambda c: edit(c, "modules/m1/quiz.yaml", 'choices: ["3", "4", "5"]', 'choices: ["4"]'),
        ["content/modules/m1/quiz.yaml:5: a question needs at least two choices"],
    ),
    (
        "broken_link",
        lambda c: edit(c, "kms/index.md", "fiche.md)", "fiches.md)"),
        ["content/kms/index.md:3: broken link 'M1/fiches.md': no file content/kms/M1/fiches.md"],
    ),
    (
        "broken_image",
        lambda c: edit(c, "modules/m1/intro.md", "img/schema.svg", "img/schema.png"),
        [
            "content/modules/m1/intro.md:10: broken image 'img/schema.png': no file content/modules/m1/img/schema.png"
        ],
    ),
    (
        "link_outside_content",
        lambda c: edit(c, "kms/M1/fiche.md", "(script.sql)", "(../../../secret.txt)"),
        [
            "content/kms/M1/fiche.md:3: link '../../../secret.txt' points outside the content directory"
        ],
    ),
    (
        "absolute_link",
        lambda c: edit(c, "kms/index.md", "Bienvenue.", "[Accueil](/index.html)"),
        [
            "content/kms/index.md:3: link '/index.html' must be relative to this file (absolute site paths break)"
        ],
    ),
    (
        "unknown_handout_folder",
        lambda c: write(c / "kms/M9/page.md", "# Page\n"),
        ["content/kms/M9/page.md:1: handout folder 'kms/M9' does not match any module id (M1, M2)"],
    ),
]


@pytest.mark.parametrize(
    "mutate, expected", [(m, e) for _, m, e in CASES], ids=[n for n, _, _ in CASES]
)
def test_check_reports_error(
    course: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mutate: Mutation,
    expected: list[str],
) -> None:
    mutate(course)
    code, lines = run_check(course, monkeypatch, capsys)
    assert code == 1
    for message in expected:
        assert message in lines, "\n".join(lines)


WARNINGS: list[tuple[str, Mutation, str]] = [
    (
        "unlisted_step_file",
        lambda c: write(c / "modules/m2/brouillon.md", "---\nid: b\ntitle: B\n---\n"),
        "content/modules/m2/brouillon.md:1: warning: not listed in modules/m2/module.yaml 'steps'; "
        "learners will not see it",
    ),
    (
        "video_without_captions",
        lambda c: edit(c, "modules/m1/intro.md", "captions: media/clip.vtt\n", ""),
        "content/modules/m1/intro.md:4: warning: video has no captions (add 'captions: <file>.vtt')",
    ),
    (
        "image_without_alt",
        lambda c: edit(c, "modules/m1/intro.md", "![Un schéma]", "![]"),
        "content/modules/m1/intro.md:10: warning: image has no alt text (write ![what it shows](...))",
    ),
    (
        "link_to_step",
        lambda c: edit(c, "modules/m2/texte.md", "Du texte.", "Revoir [l'intro](../m1/intro.md)."),
        "content/modules/m2/texte.md:7: warning: link to the step 'intro': learners cannot open other "
        "steps; shown as plain text",
    ),
]


@pytest.mark.parametrize(
    "mutate, expected", [(m, e) for _, m, e in WARNINGS], ids=[n for n, _, _ in WARNINGS]
)
def test_check_warning_fatal_only_with_strict(
    course: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mutate: Mutation,
    expected: str,
) -> None:
    mutate(course)
    code, lines = run_check(course, monkeypatch, capsys)
    assert (code, expected in lines) == (0, True), "\n".join(lines)
    code, lines = run_check(course, monkeypatch, capsys, "--strict")
    assert (code, expected in lines) == (1, True), "\n".join(lines)


def test_check_reports_every_error_in_one_run(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(course, "course.yaml", "language: fr", "language: de")
    edit(course, "modules/m1/quiz.yaml", "answer: 1", "answer: 7")
    edit(course, "modules/m2/texte.md", "id: texte", "id: intro")
    write(course / "kms/M1/fiche.md", "# Fiche\n\n![Plan](plan.png)\n")
    code, lines = run_check(course, monkeypatch, capsys)
    assert code == 1
    assert [line for line in lines if ": warning:" not in line] == [
        "content/course.yaml:2: 'language' must be one of fr, en (got 'de')",
        "content/kms/M1/fiche.md:3: broken image 'plan.png': no file content/kms/M1/plan.png",
        "content/modules/m1/quiz.yaml:6: answer 7 is not a choice index (0 to 2)",
        "content/modules/m2/texte.md:2: duplicate step id 'intro' (also in content/modules/m1/intro.md:2)",
        "4 error(s), 0 warning(s)",
    ]


def test_check_valid_course_passes_strict(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_check(course, monkeypatch, capsys, "--strict")
    assert (code, lines) == (0, ["content: OK"])


def test_check_example_course_is_clean(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from support.course import ROOT

    code, lines = run_check(ROOT / "content", monkeypatch, capsys, "--strict")
    assert (code, lines) == (0, ["content: OK"])


def test_check_writes_nothing(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p for p in course.parent.rglob("*"))
    run_check(course, monkeypatch, capsys)
    assert sorted(p for p in course.parent.rglob("*")) == before
