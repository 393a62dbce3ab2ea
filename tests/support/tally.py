"""Tally's side (its servers cannot run here): the webhook bodies Tally sends for a response,
signed as Tally signs them."""

from __future__ import annotations

import json
from typing import Any

from api.tally import sign_webhook
from support.clock import TALLY_SECRET


def tally_webhook(token: str, score: float, response_id: str, form: str = "wMx9Qd") -> bytes:
    """The body Tally's webhook sends for a response: the signed hidden field and a calculated
    score, as the Sillon form defines them."""
    fields = [
        {"label": "sillon", "type": "HIDDEN_FIELDS", "value": token},
        {"label": "score", "type": "CALCULATED_FIELDS", "value": score},
    ]
    body = {
        "eventType": "FORM_RESPONSE",
        "data": {"responseId": response_id, "formId": form, "fields": fields},
    }
    return json.dumps(body).encode()


def tally_payload(
    token: str, score: float, response_id: str = "resp-0001", form: str = "wMx9Qd"
) -> bytes:
    """The whole body as Tally sends it: its event id and time, field keys, and a free-text
    answer (hostile on purpose) before the hidden field and the score."""
    fields: list[dict[str, Any]] = [
        {
            "key": "question_1",
            "label": "Votre nom",
            "type": "INPUT_TEXT",
            "value": "<script>x</script>",
        },
        {"key": "question_2", "label": "sillon", "type": "HIDDEN_FIELDS", "value": token},
        {"key": "question_3", "label": "score", "type": "CALCULATED_FIELDS", "value": score},
    ]
    payload = {
        "eventId": "evt-" + response_id,
        "eventType": "FORM_RESPONSE",
        "createdAt": "2026-11-24T10:00:00.000Z",
        "data": {"responseId": response_id, "formId": form, "fields": fields},
    }
    return json.dumps(payload).encode()


def signed(body: bytes, secret: str = TALLY_SECRET) -> dict[str, str]:
    """The headers of a webhook signed with `secret`."""
    return {"Content-Type": "application/json", "Tally-Signature": sign_webhook(secret, body)}
