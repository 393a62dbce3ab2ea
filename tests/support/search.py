"""The handout search tests' course (three modules, handout pages in two of them) and readers of
the Pagefind index files the real build writes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from support.course import write

WORDS = {
    "fr": {
        "m1": "Une requête simple lit la table des livres.",
        "m2": "Les requêtes imbriquées du module deux, et le mot zanzibar.",
    },
    "en": {
        "m1": "We join two tables on their key.",
        "m2": "Module two joins three tables, and the word zanzibar.",
    },
}


def handout_course(root: Path, language: str = "fr", unlock: str = "module") -> Path:
    """Three one-lesson modules; handout pages in general, M1 and M2; M3 has a download only."""
    content = root / "content"
    write(
        content / "course.yaml",
        f"title: Cours\nlanguage: {language}\nmodules: [m1, m2, m3]\nkms: {{unlock: {unlock}}}\n",
    )
    for n in (1, 2, 3):
        write(
            content / f"modules/m{n}/module.yaml",
            f"id: M{n}\ntitle: Module {n}\nsteps: [lecon.md]\n",
        )
        write(
            content / f"modules/m{n}/lecon.md",
            f"---\nid: lecon-{n}\ntitle: Leçon {n}\n---\nDu texte.\n",
        )
    write(content / "kms/index.md", "# Polycopié\n\nLe sommaire général.\n")
    write(content / "kms/guide.md", "# Guide\n\nInstaller l'outil sur son poste.\n")
    write(content / "kms/M1/fiche.md", f"# Fiche un\n\n{WORDS[language]['m1']}\n")
    write(content / "kms/M2/secret.md", f"# Fiche deux\n\n{WORDS[language]['m2']}\n")
    write(content / "kms/M3/donnees.sql", "SELECT 1;\n")
    return content


def fragments(folder: Path) -> list[dict[str, Any]]:
    """Decode an index's page records (gzip, Pagefind's signature, then JSON)."""
    records = []
    for path in sorted((folder / "fragment").iterdir()):
        data = gzip.decompress(path.read_bytes())
        assert data.startswith(b"pagefind_dcd")
        records.append(json.loads(data[len(b"pagefind_dcd") :]))
    return records


def entry(folder: Path) -> dict[str, Any]:
    """An index's pagefind-entry.json."""
    data: dict[str, Any] = json.loads((folder / "pagefind-entry.json").read_text())
    return data
