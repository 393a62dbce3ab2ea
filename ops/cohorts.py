"""Operator commands over several cohort databases (SILLON_COHORTS, api/cohorts.py): which
databases a command acts on, and what an operator runs on Cloudflare to create and migrate
one D1 database per cohort.

`wrangler d1 create` needs Cloudflare's API, so the Cloudflare steps are printed, not run;
the local ones (serve, publish, learners) take every cohort's SQLite file themselves: serve
migrates each at start, `publish` reaches each, `learners` and `certificates` act on the one
`--cohort` names.
"""

from __future__ import annotations

from api.settings import Settings

from .errors import CommandError

PROJECT = "sillon"  # wrangler.toml's name: each cohort's database is sillon-<cohort>


def chosen(settings: Settings, name: str | None, every: bool = False) -> list[Settings]:
    """The settings of the cohorts a command acts on: the one named, else every one when the
    command reaches them all (`publish`), else the only one; one database without cohorts."""
    cohorts = settings.per_cohort()
    if not settings.cohorts:
        if name is not None:
            raise CommandError("--cohort: SILLON_COHORTS is not set (there is one database)")
        return cohorts
    if name is not None:
        found = [one for one in cohorts if one.cohort == name]
        if not found:
            raise CommandError(f"--cohort: no cohort {name!r} in SILLON_COHORTS ({names(cohorts)})")
        return found
    if every or len(cohorts) == 1:
        return cohorts
    raise CommandError(f"name the cohort with --cohort (one of {names(cohorts)})")


def names(cohorts: list[Settings]) -> str:
    return ", ".join(str(one.cohort) for one in cohorts)


def listing(settings: Settings) -> str:
    """Each cohort's databases: its SQLite file (serve, the CLI) and its D1 binding (Worker)."""
    if not settings.cohorts:
        return f"one database: {settings.db_path} (serve); the D1 binding DB (Worker)\n"
    worker = Settings(db_path="d1:DB", cohorts=settings.cohorts).per_cohort()
    lines = [
        f"{one.cohort:20} {one.db_path} (serve)  {d1.db_path.removeprefix('d1:')} (Worker)"
        for one, d1 in zip(settings.per_cohort(), worker, strict=True)
    ]
    return "\n".join(lines) + "\n"


def cloudflare_steps(settings: Settings) -> str:
    """What to run once per cohort on Cloudflare: create its D1 database, bind it in
    wrangler.toml, migrate it; then set SILLON_COHORTS as a Worker variable."""
    if not settings.cohorts:
        raise CommandError("SILLON_COHORTS is not set: wrangler.toml's one database DB is all")
    worker = Settings(db_path="d1:DB", cohorts=settings.cohorts).per_cohort()
    create, bind, migrate = [], [], []
    for one in worker:
        binding, database = one.db_path.removeprefix("d1:"), f"{PROJECT}-{one.cohort}"
        create.append(f"npx wrangler d1 create {database}")
        bind.append(
            f'[[d1_databases]]\nbinding = "{binding}"\ndatabase_name = "{database}"\n'
            f'database_id = "<the id `d1 create {database}` printed>"\n'
            'migrations_dir = "migrations"\n'
        )
        migrate.append(f"npx wrangler d1 migrations apply {database} --remote")
    value = ",".join(f"{one.cohort}={one.db_path.removeprefix('d1:')}" for one in worker)
    return "\n".join(
        [
            "# 1. create one D1 database per cohort (prints each database_id):",
            *create,
            "",
            "# 2. bind each in wrangler.toml (beside, or instead of, the binding DB):",
            *bind,
            "# 3. apply the migrations to each (--local instead of --remote: wrangler's local D1):",
            *migrate,
            "",
            "# 4. name the cohorts for the Worker, in wrangler.toml [vars]:",
            f'SILLON_COHORTS = "{value}"',
            "",
        ]
    )
