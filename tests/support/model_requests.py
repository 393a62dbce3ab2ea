"""The requests tests/test_model.py sends, built from the state machine's choices: video reports
of every shape (valid, forged, out of order, seeking ahead, raw NaN/Infinity bodies), the
player's next request for an open step (Next once it is done), and Tally webhooks (signed or not, with a good, forged,
stale or foreign hidden field)."""

from __future__ import annotations

import json
from typing import Any

from api.tally import hidden_token, sign_webhook
from support.clock import TALLY_SECRET
from support.journey import RIGHT
from support.model import COMPLETION, SLACK, Course, Learner

SECRET = "s" * 32  # the harness's SILLON_SECRET: it signs Tally hidden fields

# What the rules choose from.
STEP_CHOICES: list[object] = [
    "open",
    "open",
    "open",
    "open",
    "intro",
    "quiz-1",
    "texte",
    "final",
    "clip2",
    "nope",
]
STEP_CHOICES += ["bonus", "recap", "nouveau", "", 7]
EID_CHOICES = ["new", "new", "new", "new", "replay", "other", "short"]
SHAPES = ["next", "next", "next", "seek", "multi", "empty", "zero", "backwards", "negative"]
SHAPES += ["beyond", "slack", "huge", "string", "notalist", "many", "bool", "triple", "boundary"]
SHAPES += ["nan", "infinity", "overflow"]
ANSWERS: list[object] = [RIGHT] * 4 + [[[1], [2, 0]], [1, [0]], [0, [0, 2]], [0, [1]], [1]]
ANSWERS += [[5, [0]], [1, [0, 0]], [[0, 1], [0]], "1,0", [True, [0]], [1, [0, 2], 0], None]
ANSWERS += [[1, []], [None, [0, 2]], [[], None]]  # blank questions: refused, not attempts
SECONDS = [1, 5, 5, 5, 20, 60, 600, 3600, 6 * 3600, 86400, 86400, 2 * 86400, 8 * 86400]
SECONDS += [30 * 86400]


def no_constant(name: str) -> Any:
    """json.loads's parse_constant: NaN and Infinity are not JSON."""
    raise ValueError(name)


def resume_point(learner: Learner, step_id: str) -> float:
    """Where the player resumes a video: the end of the watched span that starts at 0."""
    views = learner.views.get(step_id, ([], None))[0]
    return next((end for start, end in views if start <= 0.5), 0.0)


def video_body(
    course: Course,
    learner: Learner,
    step_id: object,
    shape: str,
    size: float,
    offset: int,
    eid: str,
    identity: str | None = None,
) -> bytes:
    """A video report of the given shape, as raw JSON (NaN and Infinity written in)."""
    step = course.step(step_id)
    duration = step.duration if step and step.duration else 120.0
    resume = resume_point(learner, str(step_id))
    spans: object = {
        "next": [[resume, resume + size]],
        "seek": [[offset, offset + size]],
        "multi": [[resume, resume + 5], [offset, offset + size]],
        "empty": [],
        "zero": [[resume, resume]],
        "backwards": [[offset + size + 1, offset]],
        "negative": [[-size - 1, 3]],
        "beyond": [[0, duration + SLACK + size + 0.5]],
        "slack": [[max(0.0, duration - size / 4), duration + 0.5]],
        "huge": [[0, 1e308]],
        "string": [[0, "10"]],
        "notalist": "0-10",
        "many": [[0, 1]] * 201,
        "bool": [[True, 3]],
        "triple": [[0, 1, 2]],
        "boundary": [[0, COMPLETION * duration - 5e-7]],
    }.get(shape, [[0, 1]])
    body: dict[str, Any] = {"eventId": eid, "stepId": step_id, "intervals": spans}
    if identity:
        body[identity] = "u_someoneelse"
    raw = json.dumps(body).encode()
    forged = {"nan": b"[[0, NaN]]", "infinity": b"[[0, Infinity]]", "overflow": b"[[0, 1e400]]"}
    if shape in forged:
        raw = raw.replace(b"[[0, 1]]", forged[shape])
    return raw


def next_request(course: Course, learner: Learner) -> tuple[str, str, dict[str, Any]]:
    """What the player sends next for the open step (url, kind, body without an event id)."""
    step = course.step(learner.open)
    if step is None:
        return "/api/lesson-done", "lesson", {"stepId": "intro"}
    if step.id in learner.completed:
        return "/api/next", "next", {"stepId": step.id}
    if step.kind == "video":
        resume = resume_point(learner, step.id)
        spans = [[resume, min(resume + 10, step.duration)]]
        return "/api/video-event", "video", {"stepId": step.id, "intervals": spans}
    if step.kind == "lesson":
        return "/api/lesson-done", "lesson", {"stepId": step.id}
    return "/api/quiz-submission", "quiz", {"stepId": step.id, "answers": RIGHT}


def hidden_field(
    uid: str, other: str, token: str, step_id: str, now: float
) -> tuple[str, str, float, bool]:
    """The Tally hidden field for `uid` (`other` is another learner), spoilt as `token` says:
    the field, the learner it names, when it was signed, and whether its MAC holds for them."""
    signed_at = now
    if token == "other-learner":
        uid = other
    elif token == "unknown-learner":
        uid = "u_0000000000000000"
    elif token == "stale":
        signed_at -= 8 * 86400
    elif token == "old":
        signed_at -= 6 * 86400
    hidden = hidden_token(SECRET, uid, step_id, signed_at)
    if token != "forged":
        return hidden, uid, signed_at, True
    _, step, expires, mac = hidden.split(".")
    return ".".join([other, step, expires, mac]), other, signed_at, other == uid


def tally_body(hidden: str, score: object, most: object, rid: str, form: str, at: str) -> bytes:
    """The webhook Tally sends for a response: a free-text field, the hidden field, the score
    and (when the form has one) the maximum score."""
    fields = [
        {"key": "q1", "label": "Votre nom", "type": "INPUT_TEXT", "value": "<b>x</b>"},
        {"key": "q2", "label": "sillon", "type": "HIDDEN_FIELDS", "value": hidden},
        {"key": "q3", "label": "score", "type": "CALCULATED_FIELDS", "value": score},
    ]
    if most is not None:
        fields.append(
            {"key": "q4", "label": "max_score", "type": "CALCULATED_FIELDS", "value": most}
        )
    payload = {
        "eventId": "evt-" + rid,
        "eventType": "FORM_RESPONSE",
        "createdAt": at,
        "data": {"responseId": rid, "formId": form, "fields": fields},
    }
    return json.dumps(payload).encode()


def tally_headers(signature: str, raw: bytes) -> dict[str, str]:
    """Headers of a webhook signed with Tally's secret ("good"), badly ("wrong"), or not."""
    headers = {"Content-Type": "application/json"}
    if signature == "good":
        headers["Tally-Signature"] = sign_webhook(TALLY_SECRET, raw)
    elif signature == "wrong":
        headers["Tally-Signature"] = sign_webhook(TALLY_SECRET, raw + b" ")
    return headers
