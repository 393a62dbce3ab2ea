"""The certificate tests' shared steps (tests/test_certificates*.py): a learner taken to the end
of the small course in-process, a credential checked by jwcrypto (an independent JOSE library,
not the `rsa` code that signed it) against the published JWKS, a revocation bit read."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from jwcrypto import jwk, jws

from support.client import Cohort, move_on
from support.journey import post_hook, reach_tally_step
from support.tally import tally_payload


def finish(app: Cohort, browser: Any) -> None:
    """The small course to its end: video, quiz-1, text lesson, Tally quiz at 90%."""
    token = reach_tally_step(app, browser)
    assert post_hook(app, tally_payload(token, 90)).json()["passed"] is True
    assert move_on(browser, "final").status_code == 200


def verified(compact: str, keys: dict[str, Any]) -> dict[str, Any]:
    """The payload, once jwcrypto has checked the RS256 signature against the published JWKS."""
    token = jws.JWS()
    token.deserialize(compact)
    header = json.loads(base64.urlsafe_b64decode(compact.split(".")[0] + "=="))
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    kid = header["kid"].split("#", 1)[1]
    public = jwk.JWKSet.from_json(json.dumps(keys)).get_key(kid)
    assert public is not None, "the kid names no published key"
    token.verify(public, alg="RS256")
    payload: dict[str, Any] = json.loads(token.payload)
    return payload


def status_bit(app: Cohort, index: int, keys: dict[str, Any]) -> int:
    listed = app.client.get("/api/certificates/status/1")
    assert listed.headers["content-type"].startswith("application/vc+jwt")
    status = verified(listed.text, keys)
    assert status["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    encoded = status["credentialSubject"]["encodedList"]
    assert encoded[0] == "u"  # multibase base64url
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=="))
    assert len(bits) == 131072 // 8
    return (bits[index // 8] >> (7 - index % 8)) & 1
