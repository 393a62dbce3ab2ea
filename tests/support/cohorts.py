"""Two cohorts on two SQLite files (SILLON_COHORTS), served by one in-process serve app: the
small course (support.course.make_course), a Cohort helper per cohort whose admin calls name
their cohort, and a look at what each file holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from api.settings import Settings
from builder.config import BuildConfig
from serve.server import create_app
from support.client import Cohort
from support.clock import ADMIN, TALLY_SECRET, Clock
from support.course import make_course

NAMES = ("spring", "autumn")


class CohortOf(Cohort):
    """One cohort of the shared app: its name, its file, admin calls that name it."""

    def __init__(self, name: str, client: TestClient, clock: Clock, db: Path, content: Path):
        super().__init__(client, clock, db, content)
        self.name = name

    def admin(self) -> dict[str, str]:
        return {**super().admin(), "X-Sillon-Cohort": self.name}


@contextmanager
def two_cohorts(tmp: Path, **settings: Any) -> Iterator[tuple[CohortOf, CohortOf]]:
    """spring on tmp/spring.sqlite3 (named in SILLON_COHORTS), autumn on tmp/autumn.sqlite3
    (by the convention: beside SILLON_DB, tmp/sillon.sqlite3, which stays unused)."""
    clock = Clock()
    content = make_course(tmp / "course", duration=120, unlock="module")
    config = BuildConfig.make(
        content=content, out=tmp / "site", private=tmp / "private", disk_cache=False
    )
    environ = {"SILLON_COHORTS": f"spring={tmp / 'spring.sqlite3'},autumn"}
    options = {
        "db_path": str(tmp / "sillon.sqlite3"),
        "admin_token": ADMIN,
        "tally_secret": TALLY_SECRET,
        "secret": "s" * 32,
        "cohorts": Settings.from_env(environ).cohorts,
        **settings,
    }
    app = create_app(config, Settings(**options), watch=False, clock=clock)
    with TestClient(app, base_url="http://testserver") as client:
        yield (
            CohortOf("spring", client, clock, tmp / "spring.sqlite3", content),
            CohortOf("autumn", client, clock, tmp / "autumn.sqlite3", content),
        )


TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"


def contents(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a SQLite file, to compare before and after."""
    with sqlite3.connect(db) as connection:
        names = [row[0] for row in connection.execute(TABLES)]
        return {n: connection.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}


def column(db: Path, query: str) -> list[Any]:
    """The first column of a query's rows on a SQLite file."""
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute(query)]
