"""The learner's data, theirs to take: GET /api/learner/export answers every row Sillon keeps
about the signed-in learner (profile, completions, watched intervals, quiz attempts and
answers, badges, XP, notes with their text, devices, certificate, reminders) as one JSON file.
Identity is the session, never a parameter; secrets (session and link hashes) are not in it.
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import limits, sql
from .clock import iso
from .context import Context

JSON_COLUMNS = {"intervals", "answers"}  # stored as JSON text: handed over as JSON


async def export(api: Context, request: Request) -> Response:
    """GET /api/learner/export: all of your data, as a JSON file to download."""
    learner, course = await api.placed(request)
    api.limit(request, limits.EXPORTS, "export:" + learner["id"])
    found: dict[str, Any] = {
        "exportedAt": iso(api.clock()),
        "course": {"title": course.title, "version": course.version},
        "profile": (await api.db.execute(sql.export_profile(learner["id"]))).first(),
    }
    for table in sql.EXPORTED:
        rows = (await api.db.execute(sql.export_rows(table, learner["id"]))).rows
        found[_camel(table)] = [_decoded(row) for row in rows]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", learner["id"])
    return Response(
        json.dumps(found, ensure_ascii=False, indent=2),
        media_type="application/json; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="sillon-{name}.json"',
            "Cache-Control": "no-store",
        },
    )


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {
        _camel(k): json.loads(v) if k in JSON_COLUMNS and isinstance(v, str) else v
        for k, v in row.items()
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def routes(api: Context) -> list[Route]:
    return [Route("/api/learner/export", partial(export, api), methods=["GET"])]
