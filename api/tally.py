"""Tally quizzes: a signed hidden field in, a signed webhook back.

The player opens the Tally form with a hidden field `sillon` that the API signed for the learner
and the step; the webhook is accepted only with a valid `Tally-Signature` (base64 HMAC-SHA256 of
the raw body with the form's signing secret), and the learner and step are taken only from the
signed hidden field, never from anything else in the payload.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .rules import finite_number

HIDDEN_FIELD = "sillon"
TOKEN_DAYS = 7


def sign_webhook(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def verify_webhook(secret: str | None, raw: bytes, signature: str | None) -> None:
    if not secret:
        raise ApiError(503, "tally_disabled", "Tally webhooks are off: set TALLY_SIGNING_SECRET.")
    if not signature or not hmac.compare_digest(
        sign_webhook(secret, raw).encode(), signature.strip().encode()
    ):
        raise ApiError(401, "bad_signature", "The Tally-Signature header does not match the body.")


def hidden_token(
    secret: str,
    learner_id: str,
    step_id: str,
    now: float | None = None,
    cohort: str | None = None,
) -> str:
    """Sign (learner, step, expiry) for the form's hidden field; of several cohorts, the
    learner's comes first, signed too (api/cohorts.py routes the webhook by it)."""
    expires = int((now or time.time()) + TOKEN_DAYS * 86400)
    payload = f"{cohort + '.' if cohort else ''}{learner_id}.{step_id}.{expires}"
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{payload}.{mac}"


def read_hidden_token(
    secret: str, token: str, now: float | None = None, cohort: str | None = None
) -> tuple[str, str]:
    """The learner and step a hidden field signed for this cohort names (401 when not ours)."""
    if cohort:  # [cohort.]learner.step.expires.mac, the cohort signed with the rest
        if not token.startswith(cohort + "."):
            raise ApiError(
                401, "bad_hidden_field", f"The '{HIDDEN_FIELD}' hidden field is not signed by us."
            )
        token = token.removeprefix(cohort + ".")
    # learner.step.expires.mac: a learner id has no dot, a step id may (SOM01.05).
    learner_id, _, rest = token.partition(".")
    parts = [learner_id, *rest.rsplit(".", 2)]
    if len(parts) != 4 or not all(parts) or not parts[2].isdigit():
        raise ApiError(422, "bad_hidden_field", f"The '{HIDDEN_FIELD}' hidden field is malformed.")
    learner_id, step_id, expires, mac = parts
    signed = f"{cohort + '.' if cohort else ''}{learner_id}.{step_id}.{expires}"
    expected = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        raise ApiError(
            401, "bad_hidden_field", f"The '{HIDDEN_FIELD}' hidden field is not signed by us."
        )
    if int(expires) < (now or time.time()):
        raise ApiError(
            422, "expired_hidden_field", "This quiz link has expired; open the step again."
        )
    return learner_id, step_id


@dataclass(frozen=True)
class Submission:
    event_id: str
    token: str
    fraction: float  # 0..1
    form_id: str


def read_submission(payload: dict[str, Any]) -> Submission:
    """Pick the event id, hidden token and score out of a FORM_RESPONSE payload."""
    data = payload.get("data")
    if payload.get("eventType") != "FORM_RESPONSE" or not isinstance(data, dict):
        raise ApiError(422, "not_a_response", "Only FORM_RESPONSE events are accepted.")
    raw_fields = data.get("fields")
    fields: list[Any] = raw_fields if isinstance(raw_fields, list) else []
    values = {
        str(f.get("label", "")).strip().lower(): f.get("value")
        for f in fields
        if isinstance(f, dict) and f.get("type") in ("HIDDEN_FIELDS", "CALCULATED_FIELDS")
    }
    token = values.get(HIDDEN_FIELD)
    if not isinstance(token, str):
        raise ApiError(
            422, "bad_hidden_field", f"The response has no '{HIDDEN_FIELD}' hidden field."
        )
    score, most = values.get("score"), values.get("max_score")
    if not finite_number(score):
        raise ApiError(422, "no_score", "The response has no numeric 'score' calculated field.")
    if most is not None and (not finite_number(most) or most <= 0):
        raise ApiError(
            422, "no_score", "The 'max_score' calculated field must be a positive number."
        )
    assert isinstance(score, int | float)
    fraction = float(score) / float(most) if isinstance(most, int | float) else float(score) / 100.0
    if not 0.0 <= fraction <= 1.0:
        raise ApiError(422, "no_score", "The score is outside 0 to 100% of the maximum.")
    event_id = data.get("responseId") or payload.get("eventId")
    if not isinstance(event_id, str) or not event_id:
        raise ApiError(422, "not_a_response", "The response has no responseId.")
    return Submission("tally:" + event_id, token, fraction, str(data.get("formId", "")))
