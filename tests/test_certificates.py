"""The certificate of completion (issue 17, part 1) through the HTTP API: an Open Badges 3.0
credential issued once at the end, valid against 1EdTech's published JSON Schema, verified by
an independent JOSE library (jwcrypto, not the `rsa` code that signed it) against the JWKS the
server publishes, revoked through the W3C Bitstring Status List."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from jwcrypto import jws
from support.certificates import finish, status_bit, verified
from support.certified import issuer_key
from support.client import ADMIN, Cohort, assert_error
from support.journey import reach_tally_step, rows
from support.small_course import small_cohort

from api.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures/openbadges"
DAMAGED = (FIXTURES.parent / "keys/damaged.pem").read_text(encoding="ascii")  # not a key
SCHEMAS = [
    "ob_v3p0_achievementcredential_schema.json",  # as published at purl.imsglobal.org
    "achievementcredential_formal.json",  # 1EdTech's repository, the formal variant
]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path, issuer_key=issuer_key()) as running:
        yield running


def test_certificate_comes_only_at_the_end(app: Cohort) -> None:
    _, ada = app.learner()
    assert_error(app.client.get("/api/certificate"), 401, "unauthorized")
    assert_error(ada.get("/api/certificate"), 409, "not_finished")
    reach_tally_step(app, ada)  # the last step open, not done
    assert_error(ada.get("/api/certificate"), 409, "not_finished")
    assert_error(ada.get("/api/certificate.pdf"), 409, "not_finished")
    assert rows(app, "SELECT COUNT(*) FROM certificates") == [(0,)]


def test_certificate_is_issued_once_and_verifies_independently(app: Cohort) -> None:
    _, ada = app.learner("Ada Lovelace")
    finish(app, ada)
    first = ada.get("/api/certificate")
    assert first.status_code == 200, first.text
    mine = first.json()
    app.clock.advance(seconds=3600)
    again = ada.get("/api/certificate").json()
    assert (again["id"], again["credential"]) == (mine["id"], mine["credential"])
    assert rows(app, "SELECT COUNT(*) FROM certificates") == [(1,)]

    keys = app.client.get("/.well-known/jwks.json").json()
    assert all(set(k) == {"kty", "n", "e", "alg", "use", "kid"} for k in keys["keys"])  # no "d"
    payload = verified(mine["credential"], keys)
    document = mine["document"]
    # OB 3.0's JWT claims mirror the credential.
    assert payload["iss"] == document["issuer"]["id"] == "http://testserver/.well-known/issuer.json"
    assert payload["jti"] == document["id"] == f"urn:uuid:{mine['id']}"
    assert payload["sub"] == document["credentialSubject"]["id"]
    assert {k: v for k, v in payload.items() if k not in ("iss", "jti", "nbf", "sub")} == document
    assert app.client.get("/.well-known/issuer.json").json()["id"] == payload["iss"]
    assert mine["verifyUrl"] == f"http://testserver/verify/#id={mine['id']}"
    assert mine["pdfUrl"] == "http://testserver/api/certificate.pdf"
    assert mine["linkedinUrl"].startswith("https://www.linkedin.com/profile/add?startTask=")
    shared = app.client.get(f"/api/certificates/{mine['id']}").json()  # no session needed
    assert shared == {"id": mine["id"], "credential": mine["credential"]}
    assert_error(app.client.get("/api/certificates/nope"), 404, "unknown_certificate")

    # A tampered credential (the name changed, signature kept) fails the same library.
    head, body, signature = mine["credential"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["credentialSubject"]["identifier"][0]["identityHash"] = "Mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jws.InvalidJWSSignature):
        verified(f"{head}.{forged}.{signature}", keys)


def test_certificate_matches_the_open_badges_schema(app: Cohort) -> None:
    _, ada = app.learner()
    finish(app, ada)
    document = ada.get("/api/certificate").json()["document"]
    for name in SCHEMAS:
        schema = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
        jsonschema.Draft201909Validator(schema).validate(document)
    # The schema can fail: a credential without its subject's achievement does not pass.
    broken = {**document, "credentialSubject": {"type": ["AchievementSubject"]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(
            json.loads((FIXTURES / SCHEMAS[0]).read_text(encoding="utf-8"))
        ).validate(broken)


def test_certificate_evidence_tells_the_path(app: Cohort) -> None:
    ada = app.sign_in(app.enroll("Ada", email="ada@example.org")["inviteToken"])
    finish(app, ada)
    document = ada.get("/api/certificate").json()["document"]
    course, *steps = document["evidence"]
    assert [s["stepId"] for s in steps] == ["intro", "quiz-1", "texte", "final"]
    assert [s["position"] for s in steps] == [1, 2, 3, 4]
    assert [s["genre"] for s in steps] == ["video", "quiz", "lesson", "quiz"]
    assert course["steps"] == 4 and course["playbackMaxRate"] == 2.0
    ((total,),) = rows(app, "SELECT SUM(seconds) FROM completions")
    assert course["seconds"] == round(total) > 0
    finished = dict(rows(app, "SELECT step_id, completed_at FROM completions"))
    assert all(s["completedAt"] == finished[s["stepId"]] for s in steps)
    assert steps[0]["watchedShare"] == 1.0 and steps[0]["playbackMaxRate"] == 2.0
    assert (steps[1]["firstScore"], steps[1]["finalScore"], steps[1]["attempts"]) == (1.0, 1.0, 1)
    assert (steps[3]["firstScore"], steps[3]["finalScore"]) == (0.9, 0.9)
    assert "90" in steps[3]["description"]  # the course is French: "Quiz : 90 % ..."
    name, email = document["credentialSubject"]["identifier"]
    assert (name["identityType"], name["identityHash"], name["hashed"]) == ("name", "Ada", False)
    digest = hashlib.sha256(("ada@example.org" + email["salt"]).encode()).hexdigest()
    assert email["identityHash"] == f"sha256${digest}" and email["hashed"] is True
    assert "ada@example.org" not in json.dumps(document)
    achievement = document["credentialSubject"]["achievement"]
    assert achievement["name"] == "Petit cours" and achievement["version"]


def test_revocation_sets_the_bit_for_good(app: Cohort) -> None:
    _, ada = app.learner("Ada")
    finish(app, ada)
    mine = ada.get("/api/certificate").json()
    keys = app.client.get("/.well-known/jwks.json").json()
    index = int(mine["document"]["credentialStatus"]["statusListIndex"])
    assert status_bit(app, index, keys) == 0
    path = f"/api/admin/certificates/{mine['id']}/revoke"
    assert_error(app.client.post(path, json={}), 401, "unauthorized")
    assert_error(ada.post(path, json={}), 401, "unauthorized")
    assert_error(
        app.client.post(path, json={"reason": "x" * 501}, headers=app.admin()), 422, "invalid"
    )
    assert rows(app, "SELECT revoked_at FROM certificates") == [(None,)]  # refusals wrote nothing
    done = app.client.post(path, json={"reason": "copied quiz"}, headers=app.admin())
    assert done.status_code == 200, done.text
    assert done.json()["revokedAt"] and done.json()["reason"] == "copied quiz"
    assert status_bit(app, index, keys) == 1
    assert ada.get("/api/certificate").json()["revokedAt"] == done.json()["revokedAt"]
    assert_error(app.client.post(path, json={}, headers=app.admin()), 409, "already_revoked")
    assert_error(
        app.client.post("/api/admin/certificates/nope/revoke", json={}, headers=app.admin()),
        404,
        "unknown_certificate",
    )
    listed = app.client.get("/api/admin/certificates", headers=app.admin()).json()
    assert [(c["id"], c["name"], c["reason"]) for c in listed["certificates"]] == [
        (mine["id"], "Ada", "copied quiz")
    ]


def test_certificate_pdf_has_the_name_and_the_verify_link(app: Cohort) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    _, ada = app.learner("Ada Lovelace")
    finish(app, ada)
    pdf = ada.get("/api/certificate.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(BytesIO(pdf.content))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Ada Lovelace" in text and "Petit cours" in text
    mine = ada.get("/api/certificate").json()
    assert mine["id"] in text.replace("\n", "")  # the verify link under the QR code


def test_no_issuer_key_no_certificate_and_nothing_written(tmp_path: Path) -> None:
    with small_cohort(tmp_path) as app:
        _, ada = app.learner()
        finish(app, ada)
        assert_error(ada.get("/api/certificate"), 503, "certificates_off")
        assert_error(app.client.get("/.well-known/jwks.json"), 503, "certificates_off")
        assert rows(app, "SELECT COUNT(*) FROM certificates") == [(0,)]


def test_issuer_key_setting_is_read_or_refused_clearly() -> None:
    key = issuer_key()
    pem = key.pem()
    assert Settings.from_env({"SILLON_ISSUER_KEY": pem}).issuer_key == key
    one_line = base64.b64encode(pem.encode()).decode()
    assert Settings.from_env({"SILLON_ISSUER_KEY": one_line}).issuer_key == key
    from cryptography.hazmat.primitives import serialization

    pkcs8 = serialization.load_pem_private_key(pem.encode(), None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert Settings.from_env({"SILLON_ISSUER_KEY": pkcs8.decode()}).issuer_key == key
    # The same reader for Stream's key: a key that does not read fails at start.
    stream = {
        "CLOUDFLARE_STREAM_SIGNING_KEY_ID": "k1",
        "CLOUDFLARE_STREAM_SIGNING_KEY_PEM": DAMAGED,
        "CLOUDFLARE_STREAM_CUSTOMER_CODE": "abc",
    }
    with pytest.raises(ValueError, match="CLOUDFLARE_STREAM_SIGNING_KEY_PEM is not a readable"):
        Settings.from_env(stream)
    for bad, says in [
        ("hello", "neither an RSA private key"),
        (DAMAGED, "not a readable"),
        (pem.replace(pem.splitlines()[3], "A" * 64), "not a readable RSA private key"),
    ]:
        with pytest.raises(ValueError, match=says):
            Settings.from_env({"SILLON_ISSUER_KEY": bad})
    assert ADMIN  # the admin token the cohort uses


def test_verify_page_speaks_the_courses_language(tmp_path: Path) -> None:
    """The verify page is built in the course's language (the English example here), with
    every word its script shows."""
    import shutil

    from support.course import ENGLISH

    from builder.config import BuildConfig
    from builder.pipeline import build

    shutil.copytree(ENGLISH, tmp_path / "content")
    config = BuildConfig.make(content=tmp_path / "content", out=tmp_path / "site", disk_cache=False)
    build(config)
    page = (tmp_path / "site/verify/index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "<h1>Verify a certificate</h1>" in page
    for word in ("valid", "revoked", "tampered", "unknown", "missing", "video", "quiz", "lesson"):
        assert f'data-verify-{word}="' in page, word
    assert 'data-verify-valid="Valid certificate"' in page
