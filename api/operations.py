"""Every API operation declared once: what it takes (body and query fields with their rules)
and what it answers. The handlers in api/app.py check requests with these declarations and
GET /api/openapi.json renders them (api/openapi.py), so the two cannot drift apart.

A field marked `checked_by` is checked by that module, where its rule needs the course, the
step or the session (a step id, watched intervals, answers, a gated path); it is declared here
for the document, with the limits that module holds (imported from it, not copied).
"""

from __future__ import annotations

from .answers import AWARDS, INSIGHT, NOTE_ANSWER, STEP, VERSION
from .body import Body, Field, Params
from .insight import TABLES, TEAM_MAX
from .openapi import ADMIN, LEARNER, Operation, Reply, array, nullable, obj, ok, ref, typed
from .operations_certificates import CERTIFICATE_OPERATIONS
from .operations_nudges import NUDGE_OPERATIONS
from .rules import valid_zone
from .xapi import PAGE_MAX, VIDEO_ACTIONS

PERIODS = {"7d": 7, "30d": 30, "all": None}  # leaderboard periods: days counted (None: all)

# -- fields --------------------------------------------------------------------------------------

EVENT_ID = Field(
    "eventId",
    help="Client-made id; a replay returns the first answer.",
    pattern="^[A-Za-z0-9][A-Za-z0-9_.:-]{7,99}$",
    message="'eventId' must be 8 to 100 letters, digits or '_.:-' (a UUID is fine).",
)
STEP_ID = Field("stepId", checked_by="learning")  # must be the learner's open step
POSITION = {"type": "number", "minimum": 0}
TEAM_ID = Field(
    "teamId",
    checked_by="insight",
    shape={"type": "string", "minLength": 1, "maxLength": TEAM_MAX},
)

# -- bodies and queries --------------------------------------------------------------------------

EMAIL = Field(
    "email",
    max_length=254,
    format="email",
    check=lambda value: "@" in value,
    message="'email' must be an email address.",
)
ENROLL = Body(
    Field("name", max_length=200),
    EMAIL,
    Field("teamId", max_length=64),
    Field(
        "tz",
        help="IANA time zone for streak days",
        required=False,
        max_length=64,
        check=valid_zone,
        message="'tz' must be an IANA time zone such as Europe/Paris, not {value!r}.",
    ),
)
SESSION = Body(
    Field("inviteToken", max_length=200, help="the token of a sign-in link (/join/#<token>)")
)
EMAIL_LINK = Body(
    EMAIL,
    forbid_identity=True,
)
REISSUE = Body(
    Field("userId", max_length=64),
    Field(
        "revokeSessions",
        required=False,
        help="also sign the learner out everywhere (default false)",
        checked_by="signin",
        shape={"type": "boolean"},
    ),
)
RESET = Body(Field("userId", max_length=64))
PUBLISH = Body(json=False, limit=16 * 1024 * 1024, help="site-private/manifest.json, as built")
VIDEO_EVENT = Body(
    EVENT_ID,
    STEP_ID,
    Field(
        "intervals",
        checked_by="rules",  # within the step's duration, at most 200
        shape={
            "type": "array",
            "maxItems": 200,
            "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        },
    ),
    # The media action behind the report, for xAPI: `time` for played/paused,
    # `timeFrom`/`timeTo` for seeked.
    Field("action", required=False, choices=VIDEO_ACTIONS, checked_by="xapi"),
    Field("time", required=False, checked_by="xapi", shape=POSITION),
    Field("timeFrom", required=False, checked_by="xapi", shape=POSITION),
    Field("timeTo", required=False, checked_by="xapi", shape=POSITION),
    forbid_identity=True,
)
LESSON_DONE = Body(EVENT_ID, STEP_ID, forbid_identity=True)
MOVE_ON = Body(EVENT_ID, STEP_ID, forbid_identity=True)
QUIZ_SUBMISSION = Body(
    EVENT_ID,
    STEP_ID,
    Field(
        "answers",
        checked_by="rules",  # one per question shown, each answered, within its choices
        shape=array({"oneOf": [typed(int), array(int)]}),
    ),
    forbid_identity=True,
)
TALLY_HOOK = Body(json=False, help="Tally's FORM_RESPONSE webhook, as signed")
TALLY_SIGNATURE = Params(
    Field("Tally-Signature", help="HMAC-SHA256 of the raw body", checked_by="tally"),
    location="header",
)
PROGRESS = Params(Field("userId", required=False, help="Admins only", checked_by="app"))
LEADERBOARD = Params(
    Field("teamId", required=False, checked_by="app"),  # a learner's own team by default
    Field(
        "period",
        required=False,
        choices=tuple(PERIODS),
        default="7d",
        message="'period' must be 7d, 30d or all.",
    ),
)
OPEN_STEP = Params(Field("stepId", checked_by="learning"))
GATE = Params(Field("path", checked_by="gate"))
XAPI = Params(
    Field("since", required=False, format="date-time", checked_by="xapi"),
    Field(
        "limit",
        required=False,
        checked_by="xapi",
        shape={"type": "integer", "minimum": 1, "maximum": PAGE_MAX},
    ),
    Field("cursor", required=False, checked_by="xapi"),
)
TEAM = Params(TEAM_ID)
NOTE = Body(
    Field(
        "text",
        help="Markdown as typed, at most 20 KB of UTF-8; empty deletes the note",
        checked_by="notes",
        shape={"type": "string"},
    ),
    forbid_identity=True,
    limit=128 * 1024,  # 20 KB of text, JSON-escaped
)
NOTE_STEP = Params(
    Field("step_id", help="a step you have reached", checked_by="notes"), location="path"
)
INSIGHT_CSV = Params(
    TEAM_ID, Field("table", required=False, choices=TABLES, default="steps", checked_by="insight")
)

EVENT_ERRORS = (401, 403, 404, 409, 503)  # who you are, then the step you act on
OPEN_STEP_ERRORS = (401, 403, 404, 409, 422, 503)

# -- the operations ------------------------------------------------------------------------------

OPERATIONS = (
    Operation("GET", "/api/health", "Check the API and its database", errors=(503,)),
    Operation("GET", "/api/openapi.json", "This document"),
    Operation(
        "GET",
        "/api/admin/learners",
        "A team's learners: where each stands and the course versions they followed",
        ADMIN,
        query=TEAM,
        replies=ok(obj(teamId=str, learners=array(dict))),
        errors=(401, 403, 404, 422),
    ),
    Operation(
        "POST",
        "/api/admin/learners",
        "Enroll a learner and get their personal invite link",
        ADMIN,
        ENROLL,
        replies=ok(obj(userId=str, inviteToken=str, inviteUrl=str), 201, "Enrolled"),
        errors=(401, 403, 409),
    ),
    Operation(
        "POST",
        "/api/admin/invite",
        "Re-issue a learner's invite link: every link not used yet stops working; optionally "
        "every session ends too",
        ADMIN,
        REISSUE,
        replies=ok(
            obj(userId=str, inviteToken=str, inviteUrl=str, sessionsEnded=int), 201, "Re-issued"
        ),
        errors=(401, 403, 404),
    ),
    Operation(
        "POST",
        "/api/admin/reset",
        "Start a learner's course again (progress goes; XP and badges stay)",
        ADMIN,
        RESET,
        errors=(401, 403, 404, 503),
    ),
    Operation(
        "POST",
        "/api/admin/publish",
        "Publish a course manifest (site-private/manifest.json) as current",
        ADMIN,
        PUBLISH,
        replies=ok(obj(version=str), 201),
        errors=(401, 403, 422),
    ),
    Operation(
        "GET",
        "/api/admin/teams",
        "Teams with their number of learners (cohort insight)",
        ADMIN,
        replies=ok(obj(teams=array(dict))),
        errors=(401, 403),
    ),
    Operation(
        "GET",
        "/api/admin/versions",
        "Published course versions, newest first, with the learners on each",
        ADMIN,
        replies=ok(obj(versions=array(VERSION))),
        errors=(401, 403),
    ),
    Operation(
        "GET",
        "/api/admin/insight",
        "A team's progress: who is on each step, funnel, median times, first tries, streaks, "
        "course versions followed",
        ADMIN,
        query=TEAM,
        replies=ok(INSIGHT),
        errors=(401, 403, 404, 422, 503),
    ),
    Operation(
        "GET",
        "/api/admin/insight.csv",
        "The same as CSV: the steps table, the streak distribution, or the team's learners with "
        "the course versions they followed",
        ADMIN,
        query=INSIGHT_CSV,
        replies=(Reply(200, "CSV with a header row (UTF-8 with a BOM)", typed(str), "text/csv"),),
        errors=(401, 403, 404, 422, 503),
    ),
    Operation(
        "POST",
        "/api/session",
        "Sign in with a one-time link's token (invite, device or email link): sets the HttpOnly "
        "session cookie; 410 when the link was used or has expired",
        body=SESSION,
        replies=ok(obj(userId=str, name=str, teamId=str)),
        errors=(401, 410),
    ),
    Operation("DELETE", "/api/session", "Sign out", replies=(Reply(204, "Signed out", None),)),
    Operation(
        "GET",
        "/api/sessions",
        "Your signed-in devices: device (from its User-Agent), since, last seen",
        LEARNER,
        replies=ok(
            obj(
                sessions=array(
                    obj(device=str, createdAt=str, lastSeen=str, current=bool),
                )
            )
        ),
        errors=(401,),
    ),
    Operation(
        "DELETE",
        "/api/sessions",
        "Sign out everywhere else: every session of yours but this one ends",
        LEARNER,
        replies=ok(obj(ended=int)),
        errors=(401,),
    ),
    Operation(
        "POST",
        "/api/device-link",
        "Add a device: a one-time sign-in link valid 10 minutes, with its QR code (SVG)",
        LEARNER,
        replies=ok(obj(url=str, expiresAt=str, qrSvg=str), 201, "Made"),
        errors=(401,),
    ),
    Operation(
        "POST",
        "/api/email-link",
        "Email a one-time sign-in link (15 minutes) to an enrolled address; the same answer "
        "for any address",
        body=EMAIL_LINK,
        replies=ok(obj(message=str), 202, "Accepted"),
        errors=(503,),
    ),
    Operation(
        "GET",
        "/api/learner",
        "Your progress: XP, level, badges, streak, open and completed steps",
        LEARNER,
        query=PROGRESS,
        replies=ok(ref("Progress")),
        errors=(401, 404, 503),
    ),
    Operation(
        "POST",
        "/api/video-event",
        "Report watched media intervals of the open video step",
        LEARNER,
        VIDEO_EVENT,
        replies=ok(
            obj(
                stepId=str,
                watched=float,
                duration=float,
                required=float,
                complete=bool,
                completesIn=(float, None),
                nextStep=nullable(STEP),
                **AWARDS,
            )
        ),
        errors=EVENT_ERRORS,
    ),
    Operation(
        "POST",
        "/api/lesson-done",
        "Finish the open text lesson (a lesson without video)",
        LEARNER,
        LESSON_DONE,
        errors=EVENT_ERRORS,
    ),
    Operation(
        "POST",
        "/api/quiz-submission",
        "Submit the open built-in quiz; graded on the server, paced by its cooldown (429)",
        LEARNER,
        QUIZ_SUBMISSION,
        replies=ok(
            obj(
                stepId=str,
                feedback={"type": "string", "enum": ["none", "score", "questions"]},
                score=typed((float, None), "null on a failure when feedback is none"),
                passed=bool,
                perfect=bool,
                correct={
                    "oneOf": [array(bool), {"type": "null"}],
                    "description": "per question, on a pass or when feedback is questions",
                },
                explanations=array(str),
                retryAfter=typed(int, "seconds before the next attempt may be sent"),
                nextStep=nullable(STEP),
                **AWARDS,
            )
        ),
        errors=EVENT_ERRORS,
    ),
    Operation(
        "POST",
        "/api/next",
        "Move on from the open step once it is done (409 step_not_done before); it closes",
        LEARNER,
        MOVE_ON,
        replies=ok(obj(stepId=str, nextStep=nullable(STEP), **AWARDS)),
        errors=EVENT_ERRORS,
    ),
    Operation(
        "GET",
        "/api/quiz-attempt",
        "The open quiz's attempt in progress: its drawn questions and when it may be sent",
        LEARNER,
        query=OPEN_STEP,
        replies=ok(
            obj(
                stepId=str,
                feedback=str,
                failed=typed(int, "failed attempts since the last pass"),
                tried=typed(int, "attempts ever"),
                lastScore=typed((float, None), "the last score (withheld: feedback none)"),
                attempts=typed(int, "failures allowed before the cooldown starts"),
                retryAfter=typed(int, "seconds before the next attempt may be sent; 0: now"),
                questions={
                    "oneOf": [
                        {"type": "null"},
                        array(obj(question=int, choices=array(int))),
                    ],
                    "description": "a drawing quiz: pool index and shown choice order, in order",
                },
            )
        ),
        errors=OPEN_STEP_ERRORS,
    ),
    Operation(
        "GET",
        "/api/notes",
        "Your notes, in path order, each with its step's title and module",
        LEARNER,
        replies=ok(obj(notes=array(NOTE_ANSWER))),
        errors=(401, 503),
    ),
    Operation(
        "GET",
        "/api/learner/export",
        "All of your data as one JSON file: profile, progress, attempts, notes, certificate",
        LEARNER,
        replies=ok(typed(dict, "every table's rows about you, by table")),
        errors=(401, 429, 503),
    ),
    Operation(
        "GET",
        "/api/notes.pdf",
        "Your notebook as a PDF, each note as text under its step (serve; 503 on the Worker)",
        LEARNER,
        replies=(Reply(200, "PDF", typed(str), "application/pdf"),),
        errors=(401, 503),
    ),
    Operation(
        "PUT",
        "/api/notes/{step_id}",
        "Your note of a step you have reached (403 for a step ahead); empty text deletes it",
        LEARNER,
        NOTE,
        in_path=NOTE_STEP,
        replies=ok(obj(stepId=str, updatedAt=str, bytes=int)),
        errors=(401, 403, 404, 413, 422, 503),
    ),
    Operation(
        "GET",
        "/api/leaderboard",
        "Your team's leaderboard over 7 days, 30 days or all time",
        LEARNER + ADMIN,
        query=LEADERBOARD,
        errors=(401, 403),
    ),
    Operation(
        "GET",
        "/api/xapi/statements",
        "Learning events as xAPI 1.0.3 statements, oldest first (admin)",
        ADMIN,
        query=XAPI,
        replies=ok(obj(statements=array(dict), more=str)),
        errors=(401, 403, 422),
    ),
    Operation(
        "GET",
        "/api/gate",
        "204 when you may open a site path (steps/, kms/, media/)",
        query=GATE,
        replies=(
            Reply(204, "Allowed", None),
            Reply(303, "A browser opening a closed or locked step: the player", None),
        ),
        errors=OPEN_STEP_ERRORS,
    ),
    Operation(
        "GET",
        "/api/playback",
        "The open video step's playback and what was watched",
        LEARNER,
        query=OPEN_STEP,
        errors=OPEN_STEP_ERRORS,
    ),
    Operation(
        "GET",
        "/api/tally-link",
        "The open Tally quiz's form URL with your hidden field",
        LEARNER,
        query=OPEN_STEP,
        errors=OPEN_STEP_ERRORS,
    ),
    Operation(
        "POST",
        "/api/tally-hook",
        "Tally webhook (FORM_RESPONSE), checked with the Tally-Signature header",
        body=TALLY_HOOK,
        headers=TALLY_SIGNATURE,
        errors=(400, 401, 403, 404, 409, 422, 503),
    ),
    *CERTIFICATE_OPERATIONS,
    *NUDGE_OPERATIONS,
)
