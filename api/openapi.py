"""The OpenAPI 3.1 document of the API (GET /api/openapi.json), written by hand next to it."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
STEP = {"$ref": "#/components/schemas/Step"}
EVENT_ID = {
    "type": "string",
    "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{7,99}$",
    "description": "Client-made id; a replay returns the first answer.",
}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _errors(*codes: int) -> dict[str, Any]:
    codes = (*codes, 429) if 429 not in codes else codes  # every endpoint may be rate limited
    return {
        str(c): {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
        for c in codes
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


AWARDS = {
    "xp": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"cause": {"type": "string"}, "amount": {"type": "integer"}},
        },
    },
    "badges": {"type": "array", "items": {"type": "string"}},
}
LEARNER: list[dict[str, list[str]]] = [{"cookieAuth": []}]
ADMIN: list[dict[str, list[str]]] = [{"adminToken": []}]


def _open_step_get(summary: str) -> dict[str, Any]:
    """A learner's GET about their open step (`?stepId=`)."""
    step_id = {"name": "stepId", "in": "query", "required": True, "schema": {"type": "string"}}
    return {
        "get": {
            "summary": summary,
            "security": LEARNER,
            "parameters": [step_id],
            "responses": {
                "200": _json({"type": "object"}),
                **_errors(401, 403, 404, 409, 422, 503),
            },
        }
    }


TEAM_ID = {
    "name": "teamId",
    "in": "query",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}
VERSION = {
    "type": "object",
    "properties": {
        "seq": {"type": ["integer", "null"], "description": "publication order"},
        "label": {"type": "string", "description": "v<seq>, what the admin page shows"},
        "version": {"type": "string", "description": "the manifest's content hash"},
        "publishedAt": {"type": ["string", "null"]},
        "current": {"type": "boolean"},
        "learners": {"type": "integer"},
    },
}
INSIGHT_STEP = {
    "type": "object",
    "properties": {
        "position": {"type": "integer"},
        "id": {"type": "string"},
        "title": {"type": "string"},
        "kind": {"type": "string", "enum": ["video", "lesson", "quiz"]},
        "module": {"type": "string"},
        "onStep": {"type": "integer", "description": "learners whose open step it is"},
        "stalled": {"type": "integer", "description": "of them, open for over stallDays"},
        "completed": {"type": "integer", "description": "learners who finished it (funnel)"},
        "completedShare": {"type": ["number", "null"]},
        "medianSeconds": {"type": ["number", "null"], "description": "exact median time open"},
        "quiz": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {
                        "tried": {"type": "integer"},
                        "firstTryPassed": {"type": "integer"},
                        "firstTryRate": {"type": ["number", "null"]},
                    },
                },
            ]
        },
    },
}
TEAM_LEARNERS = {
    "summary": "A team's learners: where each stands and the course versions they followed",
    "security": ADMIN,
    "parameters": [TEAM_ID],
    "responses": {
        "200": _json(
            {
                "type": "object",
                "properties": {
                    "teamId": {"type": "string"},
                    "learners": {"type": "array", "items": {"type": "object"}},
                },
            }
        ),
        **_errors(401, 403, 404, 422),
    },
}
INSIGHT_PATHS: dict[str, Any] = {
    "/api/admin/teams": {
        "get": {
            "summary": "Teams with their number of learners (cohort insight)",
            "security": ADMIN,
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"teams": {"type": "array", "items": {"type": "object"}}},
                    }
                ),
                **_errors(401, 403),
            },
        }
    },
    "/api/admin/versions": {
        "get": {
            "summary": "Published course versions, newest first, with the learners on each",
            "security": ADMIN,
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"versions": {"type": "array", "items": VERSION}},
                    }
                ),
                **_errors(401, 403),
            },
        }
    },
    "/api/admin/insight": {
        "get": {
            "summary": "A team's progress: who is on each step, funnel, median times, first "
            "tries, streaks, course versions followed",
            "security": ADMIN,
            "parameters": [TEAM_ID],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "teamId": {"type": "string"},
                            "generatedAt": {"type": "string"},
                            "stallDays": {"type": "integer"},
                            "course": {"type": "object"},
                            "learners": {"type": "integer"},
                            "notStarted": {"type": "integer"},
                            "finished": {"type": "integer"},
                            "elsewhere": {"type": "integer"},
                            "versions": {"type": "array", "items": VERSION},
                            "steps": {"type": "array", "items": INSIGHT_STEP},
                            "streaks": {"type": "array", "items": {"type": "object"}},
                        },
                    }
                ),
                **_errors(401, 403, 404, 422, 503),
            },
        }
    },
    "/api/admin/insight.csv": {
        "get": {
            "summary": "The same as CSV: the steps table, the streak distribution, or the "
            "team's learners with the course versions they followed",
            "security": ADMIN,
            "parameters": [
                TEAM_ID,
                _query("table", {"type": "string", "enum": ["steps", "streaks", "learners"]}),
            ],
            "responses": {
                "200": {
                    "description": "CSV with a header row (UTF-8 with a BOM)",
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                **_errors(401, 403, 404, 422, 503),
            },
        }
    },
}


def document() -> dict[str, Any]:
    """Return the OpenAPI document."""
    paths: dict[str, Any] = {
        "/api/health": {
            "get": {
                "summary": "Check the API and its database",
                "responses": {"200": _json({"type": "object"}), **_errors(503)},
            }
        },
        "/api/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}
        },
        "/api/admin/learners": {
            "get": TEAM_LEARNERS,
            "post": {
                "summary": "Enroll a learner and get their personal invite link",
                "security": ADMIN,
                "requestBody": _body(
                    {
                        "name": {"type": "string", "maxLength": 200},
                        "email": {"type": "string", "format": "email"},
                        "teamId": {"type": "string", "maxLength": 64},
                        "tz": {"type": "string", "description": "IANA time zone for streak days"},
                    },
                    ["name", "email", "teamId"],
                ),
                "responses": {
                    "201": _json(
                        {
                            "type": "object",
                            "properties": {
                                "userId": {"type": "string"},
                                "inviteToken": {"type": "string"},
                                "inviteUrl": {"type": "string"},
                            },
                        },
                        "Enrolled",
                    ),
                    **_errors(400, 401, 403, 409, 413, 415, 422),
                },
            },
        },
        "/api/admin/reset": {
            "post": {
                "summary": "Start a learner's course again (progress goes; XP and badges stay)",
                "security": ADMIN,
                "requestBody": _body({"userId": {"type": "string"}}, ["userId"]),
                "responses": {
                    "200": _json({"type": "object"}),
                    **_errors(400, 401, 403, 404, 413, 415, 422, 503),
                },
            }
        },
        "/api/admin/publish": {
            "post": {
                "summary": "Publish a course manifest (site-private/manifest.json) as current",
                "security": ADMIN,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "201": _json({"type": "object", "properties": {"version": {"type": "string"}}}),
                    **_errors(401, 403, 413, 422),
                },
            }
        },
        **INSIGHT_PATHS,
        "/api/session": {
            "post": {
                "summary": "Sign in with an invite token: sets the HttpOnly session cookie",
                "requestBody": _body({"inviteToken": {"type": "string"}}, ["inviteToken"]),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "userId": {"type": "string"},
                                "name": {"type": "string"},
                                "teamId": {"type": "string"},
                            },
                        }
                    ),
                    **_errors(400, 401, 413, 415, 422),
                },
            },
            "delete": {"summary": "Sign out", "responses": {"204": {"description": "Signed out"}}},
        },
        "/api/learner": {
            "get": {
                "summary": "Your progress: XP, level, badges, streak, open and completed steps",
                "security": LEARNER,
                "parameters": [
                    {
                        "name": "userId",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "Admins only",
                    }
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Progress"}),
                    **_errors(401, 404, 503),
                },
            }
        },
        "/api/video-event": {
            "post": {
                "summary": "Report watched media intervals of the open video step",
                "security": LEARNER,
                "requestBody": _body(
                    {
                        "eventId": EVENT_ID,
                        "stepId": {"type": "string"},
                        "intervals": {
                            "type": "array",
                            "maxItems": 200,
                            "items": {
                                "type": "array",
                                "items": {"type": "number"},
                                "minItems": 2,
                                "maxItems": 2,
                            },
                        },
                        # The media action behind the report, for xAPI (api/xapi.py): `time`
                        # for played/paused, `timeFrom`/`timeTo` for seeked.
                        "action": {"type": "string", "enum": ["played", "paused", "seeked"]},
                        "time": {"type": "number", "minimum": 0},
                        "timeFrom": {"type": "number", "minimum": 0},
                        "timeTo": {"type": "number", "minimum": 0},
                    },
                    ["eventId", "stepId", "intervals"],
                ),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "stepId": {"type": "string"},
                                "watched": {"type": "number"},
                                "duration": {"type": "number"},
                                "required": {"type": "number"},
                                "complete": {"type": "boolean"},
                                "nextStep": {"oneOf": [STEP, {"type": "null"}]},
                                **AWARDS,
                            },
                        }
                    ),
                    **_errors(400, 401, 403, 404, 409, 413, 415, 422, 503),
                },
            }
        },
        "/api/lesson-done": {
            "post": {
                "summary": "Finish the open text lesson (a lesson without video)",
                "security": LEARNER,
                "requestBody": _body(
                    {"eventId": EVENT_ID, "stepId": {"type": "string"}}, ["eventId", "stepId"]
                ),
                "responses": {
                    "200": _json({"type": "object"}),
                    **_errors(400, 401, 403, 404, 409, 413, 415, 422, 503),
                },
            }
        },
        "/api/quiz-submission": {
            "post": {
                "summary": "Submit the open built-in quiz; graded on the server",
                "security": LEARNER,
                "requestBody": _body(
                    {
                        "eventId": EVENT_ID,
                        "stepId": {"type": "string"},
                        "answers": {
                            "type": "array",
                            "items": {
                                "oneOf": [
                                    {"type": "integer"},
                                    {"type": "array", "items": {"type": "integer"}},
                                ]
                            },
                        },
                    },
                    ["eventId", "stepId", "answers"],
                ),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "score": {"type": "number"},
                                "passed": {"type": "boolean"},
                                "perfect": {"type": "boolean"},
                                "correct": {"type": "array", "items": {"type": "boolean"}},
                                **AWARDS,
                            },
                        }
                    ),
                    **_errors(400, 401, 403, 404, 409, 413, 415, 422, 503),
                },
            }
        },
        "/api/leaderboard": {
            "get": {
                "summary": "Your team's leaderboard over 7 days, 30 days or all time",
                "security": LEARNER + ADMIN,
                "parameters": [
                    {
                        "name": "teamId",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "period",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["7d", "30d", "all"], "default": "7d"},
                    },
                ],
                "responses": {"200": _json({"type": "object"}), **_errors(401, 403, 422)},
            }
        },
        "/api/xapi/statements": {
            "get": {
                "summary": "Learning events as xAPI 1.0.3 statements, oldest first (admin)",
                "security": ADMIN,
                "parameters": [
                    _query("since", {"type": "string", "format": "date-time"}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                    _query("cursor", {"type": "string"}),
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "statements": {"type": "array", "items": {"type": "object"}},
                                "more": {"type": "string"},
                            },
                        }
                    ),
                    **_errors(401, 403, 422, 429),
                },
            }
        },
        "/api/gate": {
            "get": {
                "summary": "204 when you may open a site path (steps/, kms/, media/)",
                "parameters": [
                    {"name": "path", "in": "query", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "204": {"description": "Allowed"},
                    "303": {"description": "A browser opening a closed or locked step: the player"},
                    **_errors(401, 403, 404, 409, 422, 503),
                },
            }
        },
        "/api/playback": _open_step_get("The open video step's playback and what was watched"),
        "/api/tally-link": _open_step_get("The open Tally quiz's form URL with your hidden field"),
        "/api/tally-hook": {
            "post": {
                "summary": "Tally webhook (FORM_RESPONSE), checked with the Tally-Signature header",
                "parameters": [
                    {
                        "name": "Tally-Signature",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": _json({"type": "object"}),
                    **_errors(400, 401, 403, 404, 409, 413, 422, 503),
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sillon learning API", "version": "1"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "sillon_session"},
                "adminToken": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "Step": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "type": {"type": "string", "enum": ["video", "lesson", "quiz"]},
                        "title": {"type": "string"},
                        "module": {"type": "string"},
                    },
                },
                "Progress": {
                    "type": "object",
                    "properties": {
                        "userId": {"type": "string"},
                        "teamId": {"type": "string"},
                        "xp": {"type": "integer"},
                        "level": {"type": "integer"},
                        "badges": {"type": "array"},
                        "streak": {"type": "object"},
                        "currentStep": {"oneOf": [STEP, {"type": "null"}]},
                        "completed": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    }
