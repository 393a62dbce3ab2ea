"""Golden output: the example course's key pages, as reviewed.

After an intended change, regenerate with `SILLON_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`
and review the diff of tests/golden/ like any other change.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from support.course import EXAMPLE, config_for

from builder.pipeline import build

GOLDEN = Path(__file__).parent / "golden"
PAGES = [
    "index.html",
    "learn/index.html",
    "steps/som01-bienvenue.html",
    "steps/som01-tables.html",
    "steps/som01-quiz.html",
    "steps/som03-quiz.html",  # draws its questions: the pool, no keys
    "steps/som03-evaluation-finale.html",
    "kms/index.html",
    "kms/SOM01/fiche-select.html",
    "outline.json",
    "_headers",
]
FINGERPRINT = re.compile(r"\.[0-9a-f]{10}\.")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golden")
    config = config_for(EXAMPLE, out=root / "site", private=root / "private")
    build(config)
    return config.out


@pytest.mark.parametrize("page", PAGES)
def test_golden_page(built: Path, page: str) -> None:
    # Fingerprints change with every CSS or JS edit; the golden files pin the structure.
    actual = FINGERPRINT.sub(".HASH.", (built / page).read_text(encoding="utf-8"))
    golden = GOLDEN / page
    if os.environ.get("SILLON_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.is_file(), (
        f"no golden file for {page}: run with SILLON_UPDATE_GOLDEN=1 and review it"
    )
    assert actual == golden.read_text(encoding="utf-8")


def test_golden_fingerprints_are_real(built: Path) -> None:
    for url in re.findall(r'"/static/([^"]+)"', (built / "index.html").read_text()):
        assert (built / "static" / url).is_file(), url
