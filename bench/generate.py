"""Generate a synthetic course, and the same lessons as MkDocs and Hugo projects.

    python bench/generate.py OUTDIR [--lessons 2000] [--modules 20] [--seed 1]

writes, deterministically (seeded random):

    OUTDIR/sillon/   course.yaml, modules/mNN/module.yaml, modules/mNN/lNNN.md
    OUTDIR/mkdocs/   mkdocs.yml (theme `mkdocs`, explicit nav, no search plugin), docs/
    OUTDIR/hugo/     config/_default/hugo.toml, content/, layouts/_default/{single,list}.html

Every lesson has the same Markdown body in the three projects (~400-600 words: `##` headings,
paragraphs with bold, italic, inline code and external links, a bulleted list, a fenced
Python block and a small table); only the front matter differs.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

TOOLS = ("sillon", "mkdocs", "hugo")

WORDS = (
    "donnée table requête colonne ligne valeur index clé jointure filtre tri groupe total "
    "moyenne fonction variable boucle liste dictionnaire module paquet fichier chemin texte "
    "nombre entier chaîne erreur exception test résultat programme script interpréteur "
    "terminal commande option paramètre argument retour appel objet classe méthode attribut "
    "instance héritage interface protocole itérateur générateur expression condition branche "
    "version projet dépôt serveur client réseau mémoire processus tâche cache journal format "
    "schéma modèle contrainte transaction curseur connexion base source cible étape cours "
    "leçon exemple exercice question réponse notion règle principe méthode outil usage "
    "le la les un une des du de et ou mais donc car avec sans pour par sur sous dans entre "
    "chaque tout plusieurs aucun même autre premier dernier simple rapide lent utile clair "
    "précis court long nouveau ancien grand petit propre commun local global public privé "
    "on peut doit permet sert montre garde renvoie calcule compare lit écrit trie filtre "
    "regroupe parcourt ajoute retire remplace vérifie construit découpe assemble déclare "
    "souvent toujours parfois ensuite enfin ainsi alors aussi encore déjà bien mieux"
).split()
TOPICS = (
    "les listes",
    "les dictionnaires",
    "les fonctions",
    "les boucles",
    "les fichiers",
    "les exceptions",
    "les classes",
    "les modules",
    "les requêtes SQL",
    "les jointures",
    "les agrégats",
    "les index",
    "les tests",
    "les générateurs",
    "les chaînes",
    "les dates",
)
CODE_WORDS = ("valeurs", "total", "ligne", "resultat", "compteur", "nom", "table", "cle", "liste")
INLINE_CODE = ("len()", "sorted()", "dict.get()", "SELECT", "WHERE", "GROUP BY", "None", "sum()")
LINKS = (
    "https://docs.python.org/3/library/functions.html",
    "https://docs.python.org/3/tutorial/datastructures.html",
    "https://www.sqlite.org/lang_select.html",
    "https://fr.wikipedia.org/wiki/Structured_Query_Language",
    "https://developer.mozilla.org/fr/docs/Web/HTML",
    "https://peps.python.org/pep-0008/",
)


@dataclass(frozen=True)
class Lesson:
    """One generated lesson: where it goes and what it says (the body is shared by all tools)."""

    module: int  # 1-based
    number: int  # 1-based, inside its module
    weight: int  # 1-based, across the course
    title: str
    body: str

    @property
    def id(self) -> str:
        return f"som{self.module:02d}-l{self.number:03d}"

    @property
    def file(self) -> str:
        return f"l{self.number:03d}.md"


@dataclass(frozen=True)
class Projects:
    """The generated project directories (None for a tool that was not asked for)."""

    sillon: Path | None
    mkdocs: Path | None
    hugo: Path | None
    lessons: int
    words: int


def _sentence(rng: random.Random, decorate: bool) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
    words[0] = words[0][0].upper() + words[0][1:]
    if decorate:
        i = rng.randrange(len(words))
        kind = rng.randrange(4)
        if kind == 0:
            words[i] = f"**{words[i]}**"
        elif kind == 1:
            words[i] = f"*{words[i]}*"
        elif kind == 2:
            words[i] = f"`{rng.choice(INLINE_CODE)}`"
        else:
            words[i] = f"[{words[i]}]({rng.choice(LINKS)})"
    return " ".join(words) + rng.choice((".", ".", ".", " ?", " !"))


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng, decorate=rng.random() < 0.6) for _ in range(sentences))


def _code(rng: random.Random) -> str:
    a, b, c = rng.sample(CODE_WORDS, 3)
    lines = [
        f"def calcule_{a}({b}: list[int]) -> dict[str, int]:",
        f'    """Calcule {a} à partir de {b}."""',
        f"    {c} = {{}}",
        f"    for index, element in enumerate({b}):",
        f"        if element % {rng.randint(2, 9)} == 0:",
        f'            {c}[f"{a}-{{index}}"] = element * {rng.randint(2, 99)}',
        "        else:",
        f"            {c}.setdefault('{a}', 0)",
        f"    return {c}",
        "",
        "",
        f"print(calcule_{a}([{', '.join(str(rng.randint(0, 99)) for _ in range(6))}]))",
    ]
    return "```python\n" + "\n".join(lines) + "\n```"


def _table(rng: random.Random) -> str:
    rows = ["| Terme | Rôle | Exemple |", "| --- | --- | --- |"]
    for _ in range(rng.randint(3, 5)):
        term, role = rng.choice(WORDS), " ".join(rng.choice(WORDS) for _ in range(4))
        rows.append(f"| {term} | {role} | `{rng.choice(INLINE_CODE)}` |")
    return "\n".join(rows)


def _words(markdown: str) -> int:
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    return len(re.findall(r"[^\W\d_][\w'-]*", prose))


def lesson_body(rng: random.Random, topic: str) -> str:
    """Return a realistic Markdown body of about 400 to 600 words."""
    target = rng.randint(400, 600)
    items = "\n".join(
        f"- {_sentence(rng, decorate=rng.random() < 0.5)}" for _ in range(rng.randint(4, 6))
    )
    head = [
        _paragraph(rng, 3),
        f"## Comprendre {topic}",
        _paragraph(rng, 4),
        items,
        "## Un exemple en Python",
        _paragraph(rng, 2),
        _code(rng),
        "## En résumé",
        _table(rng),
    ]
    tail: list[str] = []
    while _words("\n\n".join(head + tail)) < target - 20:
        tail.append(_paragraph(rng, rng.randint(2, 4)))
    return "\n\n".join(head + tail) + "\n"


def lessons(count: int, modules: int = 20, seed: int = 1) -> list[list[Lesson]]:
    """Return `count` lessons spread evenly over `modules` modules (fewer if count is small)."""
    modules = max(1, min(modules, count))
    result: list[list[Lesson]] = []
    weight = 0
    for m in range(1, modules + 1):
        size = count // modules + (1 if m <= count % modules else 0)
        module: list[Lesson] = []
        for n in range(1, size + 1):
            weight += 1
            rng = random.Random(f"{seed}:{m}:{n}")
            topic = rng.choice(TOPICS)
            title = f"Leçon {m}.{n} : {topic} ({rng.choice(WORDS)})"
            module.append(Lesson(m, n, weight, title, lesson_body(rng, topic)))
        result.append(module)
    return result


def _q(text: str) -> str:
    """Quote a string for YAML (a JSON string is a valid double-quoted YAML scalar)."""
    return json.dumps(text, ensure_ascii=False)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_sillon(root: Path, course: list[list[Lesson]]) -> None:
    """Write the course in Sillon's content format."""
    names = [f"m{m:02d}" for m in range(1, len(course) + 1)]
    _write(
        root / "course.yaml",
        f"title: Cours de référence (banc d'essai)\nlanguage: fr\nmodules: [{', '.join(names)}]\n",
    )
    for name, module in zip(names, course, strict=True):
        first = module[0]
        steps = ", ".join(lesson.file for lesson in module)
        _write(
            root / "modules" / name / "module.yaml",
            f"id: SOM{first.module:02d}\ntitle: Module {first.module}\nsteps: [{steps}]\n",
        )
        for lesson in module:
            front = f"---\nid: {lesson.id}\ntitle: {_q(lesson.title)}\n---\n"
            _write(root / "modules" / name / lesson.file, front + lesson.body)


def write_mkdocs(root: Path, course: list[list[Lesson]], nav: bool = True) -> None:
    """Write an MkDocs project (builtin `mkdocs` theme) with the same lessons."""
    docs = root / "docs"
    _write(docs / "index.md", "# Cours de référence\n\nLe banc d'essai de Sillon.\n")
    lines = [
        "site_name: Cours de référence",
        "theme:",
        "  name: mkdocs",
        "  locale: fr",
        "plugins: []  # no search index: Sillon and Hugo build none either",
    ]
    if nav:
        lines += ["nav:", "  - Accueil: index.md"]
    for module in course:
        m = module[0].module
        if nav:
            lines.append(f"  - {_q(f'Module {m}')}:")
        for lesson in module:
            rel = f"m{m:02d}/{lesson.file}"
            _write(docs / rel, f"# {lesson.title}\n\n{lesson.body}")
            if nav:
                lines.append(f"    - {_q(lesson.title)}: {rel}")
    _write(root / "mkdocs.yml", "\n".join(lines) + "\n")


HUGO_CONFIG = """\
baseURL = "https://example.org/"
languageCode = "fr"
title = "Cours de référence"
disableKinds = ["taxonomy", "term", "rss", "sitemap", "robotstxt"]
enableRobotsTXT = false
"""
HUGO_SINGLE = """\
<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>{{ .Title }} | {{ site.Title }}</title></head>
<body>
<nav><a href="{{ .Parent.RelPermalink }}">{{ .Parent.Title }}</a></nav>
<main>
<h1>{{ .Title }}</h1>
{{ .Content }}
</main>
</body>
</html>
"""
HUGO_LIST = """\
<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>{{ .Title }} | {{ site.Title }}</title></head>
<body>
<main>
<h1>{{ .Title }}</h1>
{{ .Content }}
<ul>
{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>
{{ end }}</ul>
</main>
</body>
</html>
"""


def write_hugo(root: Path, course: list[list[Lesson]]) -> None:
    """Write a minimal Hugo site (no theme, no taxonomies, RSS or sitemap) with the same lessons."""
    _write(root / "config" / "_default" / "hugo.toml", HUGO_CONFIG)
    _write(root / "layouts" / "_default" / "single.html", HUGO_SINGLE)
    _write(root / "layouts" / "_default" / "list.html", HUGO_LIST)
    content = root / "content"
    _write(
        content / "_index.md", "---\ntitle: Cours de référence\n---\nLe banc d'essai de Sillon.\n"
    )
    for module in course:
        m = module[0].module
        _write(content / f"m{m:02d}" / "_index.md", f"---\ntitle: Module {m}\nweight: {m}\n---\n")
        for lesson in module:
            front = f"---\ntitle: {_q(lesson.title)}\nweight: {lesson.weight}\n---\n"
            _write(content / f"m{m:02d}" / lesson.file, front + lesson.body)


def generate(
    outdir: Path,
    count: int = 2000,
    *,
    modules: int = 20,
    seed: int = 1,
    tools: tuple[str, ...] = TOOLS,
    mkdocs_nav: bool = True,
) -> Projects:
    """Write the projects for `tools` under outdir (replacing earlier ones); return their paths."""
    course = lessons(count, modules, seed)
    paths: dict[str, Path | None] = {}
    for tool in TOOLS:
        target = outdir / tool
        if tool not in tools:
            paths[tool] = None
            continue
        if target.exists():
            shutil.rmtree(target)
        if tool == "sillon":
            write_sillon(target, course)
        elif tool == "mkdocs":
            write_mkdocs(target, course, nav=mkdocs_nav)
        else:
            write_hugo(target, course)
        paths[tool] = target
    words = sum(_words(lesson.body) for module in course for lesson in module)
    return Projects(paths["sillon"], paths["mkdocs"], paths["hugo"], count, words)


def main(argv: list[str] | None = None) -> int:
    """Command line: generate the projects and say what was written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("outdir", type=Path, help="where to write sillon/, mkdocs/ and hugo/")
    parser.add_argument(
        "--lessons", type=int, default=2000, help="number of lessons (default 2000)"
    )
    parser.add_argument("--modules", type=int, default=20, help="number of modules (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help="comma-separated subset of sillon,mkdocs,hugo"
    )
    parser.add_argument(
        "--no-mkdocs-nav", action="store_true", help="let MkDocs build its nav itself"
    )
    args = parser.parse_args(argv)
    tools = tuple(t.strip() for t in args.tools.split(",") if t.strip())
    unknown = set(tools) - set(TOOLS)
    if unknown or args.lessons < 1:
        parser.error(f"unknown tools {sorted(unknown)}" if unknown else "--lessons must be >= 1")
    projects = generate(
        args.outdir,
        args.lessons,
        modules=args.modules,
        seed=args.seed,
        tools=tools,
        mkdocs_nav=not args.no_mkdocs_nav,
    )
    print(
        f"{projects.lessons} lessons, {projects.words} words of prose "
        f"({projects.words / projects.lessons:.0f} per lesson) "
        f"into {args.outdir}/{{{','.join(tools)}}}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
