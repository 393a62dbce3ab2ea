"""Cloudflare Access mode, with real parts: RSA keys, signed JWTs, a JWKS over real local HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.access import AccessConfig, AccessVerifier
from api.errors import ApiError

TEAM = "sillon-test.cloudflareaccess.com"
ISSUER = f"https://{TEAM}"
AUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"


@dataclass(frozen=True)
class Key:
    kid: str
    private: rsa.RSAPrivateKey

    @property
    def jwk(self) -> dict[str, Any]:
        """The public half as Cloudflare publishes it in `keys`."""
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def new_key(kid: str) -> Key:
    return Key(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def key_a() -> Key:
    return new_key("kid-a")


@pytest.fixture(scope="module")
def key_b() -> Key:
    return new_key("kid-b")


class JwksServer:
    """A real HTTP server on 127.0.0.1 answering every GET with the current JWKS body."""

    def __init__(self) -> None:
        self.body = b'{"keys": []}'
        self.hits = 0
        self.stopped = False
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                state.hits += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(state.body)))
                self.end_headers()
                self.wfile.write(state.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/cdn-cgi/access/certs"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def serve(self, *keys: Key) -> None:
        self.body = json.dumps({"keys": [key.jwk for key in keys]}).encode()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib would send 127.0.0.1 through an environment proxy."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server(key_a: Key) -> Iterator[JwksServer]:
    srv = JwksServer()
    srv.serve(key_a)
    yield srv
    srv.stop()


@pytest.fixture
def verifier(server: JwksServer) -> AccessVerifier:
    return AccessVerifier(AccessConfig(TEAM, AUD, certs_url=server.url))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "aud": [AUD],
        "email": "Ada.Lovelace@Example.com",
        "exp": now + 300,
        "iat": now,
        "nbf": now,
        "iss": ISSUER,
        "sub": "7335d417-61da-459d-899c-0a01c76a2f94",
        "type": "app",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: Key, kid: str | None = None, **overrides: Any) -> str:
    return jwt.encode(
        claims(**overrides), key.private, algorithm="RS256", headers={"kid": kid or key.kid}
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_parts(header: dict[str, Any]) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims()).encode())


def refused(verifier: AccessVerifier, token: str, status: int = 401) -> ApiError:
    with pytest.raises(ApiError) as caught:
        verifier.email(token)
    code = {401: "access_denied", 503: "access_unavailable"}[status]
    assert (caught.value.status, caught.value.code) == (status, code)
    return caught.value


def test_access_valid_token_returns_lowercased_email(verifier: AccessVerifier, key_a: Key) -> None:
    assert verifier.email(sign(key_a)) == "ada.lovelace@example.com"


def test_access_wrong_audience(verifier: AccessVerifier, key_a: Key) -> None:
    error = refused(verifier, sign(key_a, aud=["another-application-aud"]))
    assert "another application" in error.message


def test_access_wrong_issuer(verifier: AccessVerifier, key_a: Key) -> None:
    error = refused(verifier, sign(key_a, iss="https://other-team.cloudflareaccess.com"))
    assert "another team" in error.message


def test_access_expired(verifier: AccessVerifier, key_a: Key) -> None:
    now = int(time.time())
    error = refused(verifier, sign(key_a, iat=now - 600, nbf=now - 600, exp=now - 120))
    assert "expired" in error.message


def test_access_expiry_within_leeway_is_accepted(verifier: AccessVerifier, key_a: Key) -> None:
    now = int(time.time())
    assert verifier.email(sign(key_a, iat=now - 600, nbf=now - 600, exp=now - 10))


def test_access_not_yet_valid_nbf(verifier: AccessVerifier, key_a: Key) -> None:
    error = refused(verifier, sign(key_a, nbf=int(time.time()) + 300))
    assert "not valid yet" in error.message


def test_access_issued_in_the_future_iat(verifier: AccessVerifier, key_a: Key) -> None:
    refused(verifier, sign(key_a, iat=int(time.time()) + 300))


def test_access_signature_by_unknown_key_claiming_published_kid(
    verifier: AccessVerifier, key_a: Key
) -> None:
    forger = new_key("forger")
    error = refused(verifier, sign(forger, kid=key_a.kid))
    assert "signature" in error.message


def test_access_signature_by_unknown_key_and_kid(verifier: AccessVerifier, key_b: Key) -> None:
    error = refused(verifier, sign(key_b))
    assert "does not publish" in error.message


def test_access_alg_none_token(verifier: AccessVerifier, key_a: Key) -> None:
    token = unsigned_parts({"alg": "none", "typ": "JWT", "kid": key_a.kid}) + "."
    error = refused(verifier, token)
    assert "RS256" in error.message


def test_access_hs256_signed_with_public_key_bytes(
    verifier: AccessVerifier, server: JwksServer, key_a: Key
) -> None:
    signing_input = unsigned_parts({"alg": "HS256", "typ": "JWT", "kid": key_a.kid})
    mac = hmac.new(key_a.public_pem, signing_input.encode(), hashlib.sha256).digest()
    error = refused(verifier, signing_input + "." + b64(mac))
    assert "RS256" in error.message
    assert server.hits == 0  # refused on its header, before any key fetch


def test_access_missing_email_claim(verifier: AccessVerifier, key_a: Key) -> None:
    error = refused(verifier, sign(key_a, email=None))
    assert "'email'" in error.message


def test_access_missing_or_malformed_token(verifier: AccessVerifier) -> None:
    refused(verifier, "")
    refused(verifier, "not-a-jwt")


def test_access_key_rotation_refreshes_jwks_once(
    server: JwksServer, key_a: Key, key_b: Key
) -> None:
    verifier = AccessVerifier(AccessConfig(TEAM, AUD, certs_url=server.url), refresh_cooldown=0)
    assert verifier.email(sign(key_a)) == "ada.lovelace@example.com"
    assert server.hits == 1
    server.serve(key_b, key_a)  # Access rotated: new current key, previous one still listed
    assert verifier.email(sign(key_b, email="grace@example.com")) == "grace@example.com"
    assert server.hits == 2
    assert verifier.email(sign(key_a)) == "ada.lovelace@example.com"  # cached, no fetch
    assert verifier.email(sign(key_b)) == "ada.lovelace@example.com"
    assert server.hits == 2


def test_access_unknown_kid_refresh_is_rate_limited(
    verifier: AccessVerifier, server: JwksServer, key_a: Key, key_b: Key
) -> None:
    verifier.email(sign(key_a))
    server.serve(key_b, key_a)
    for _ in range(5):  # within the cooldown, made-up kids do not hammer the JWKS endpoint
        refused(verifier, sign(key_b))
    assert server.hits == 1


def test_access_jwks_server_down(verifier: AccessVerifier, server: JwksServer, key_a: Key) -> None:
    server.stop()
    error = refused(verifier, sign(key_a), status=503)
    assert "try again" in error.message


def test_access_jwks_not_json(verifier: AccessVerifier, server: JwksServer, key_a: Key) -> None:
    server.body = b"<html>502 Bad Gateway</html>"
    refused(verifier, sign(key_a), status=503)


def test_access_cached_key_survives_jwks_outage(
    verifier: AccessVerifier, server: JwksServer, key_a: Key
) -> None:
    verifier.email(sign(key_a))
    server.stop()
    assert verifier.email(sign(key_a, email="ADA@example.com")) == "ada@example.com"


def test_access_from_env_off_by_default() -> None:
    assert AccessConfig.from_env({}) is None
    assert (
        AccessConfig.from_env({"SILLON_ACCESS_TEAM_DOMAIN": "", "SILLON_ACCESS_AUD": " "}) is None
    )


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({"SILLON_ACCESS_TEAM_DOMAIN": TEAM}, "SILLON_ACCESS_AUD"),
        ({"SILLON_ACCESS_AUD": AUD}, "SILLON_ACCESS_TEAM_DOMAIN"),
    ],
)
def test_access_from_env_half_configured(environ: dict[str, str], missing: str) -> None:
    with pytest.raises(ValueError, match=f"half-configured: {missing} is not set"):
        AccessConfig.from_env(environ)


@pytest.mark.parametrize("team_domain", [TEAM, f"https://{TEAM}", f"https://{TEAM}/"])
def test_access_from_env_configured(team_domain: str) -> None:
    config = AccessConfig.from_env(
        {"SILLON_ACCESS_TEAM_DOMAIN": team_domain, "SILLON_ACCESS_AUD": AUD}
    )
    assert config is not None
    assert (config.issuer, config.audience) == (ISSUER, AUD)
    assert config.jwks_url == f"{ISSUER}/cdn-cgi/access/certs"


@pytest.mark.parametrize("team_domain", ["", "http://x.cloudflareaccess.com", "a.com/path"])
def test_access_config_rejects_bad_team_domain(team_domain: str) -> None:
    with pytest.raises(ValueError, match="team domain"):
        AccessConfig(team_domain, AUD)


@pytest.mark.slow
def test_access_mode_identifies_learners_in_the_app(
    server: JwksServer, key_a: Key, tmp_path: Path
) -> None:
    from support.client import assert_error, cohort
    from support.course import make_course

    verifier = AccessVerifier(AccessConfig(TEAM, AUD, certs_url=server.url))
    with cohort(make_course(tmp_path / "course"), tmp_path, access=verifier) as app:
        created = app.enroll("Ada", email="ada.lovelace@example.com")
        header = {"Cf-Access-Jwt-Assertion": sign(key_a)}
        body = app.client.get("/api/learner", headers=header).json()
        assert (body["userId"], body["currentStep"]["id"]) == (created["userId"], "intro")
        assert app.client.get("/steps/intro.html", headers=header).status_code == 200
        assert_error(app.client.get("/api/learner"), 401, "unauthorized")
        stranger = {"Cf-Access-Jwt-Assertion": sign(key_a, email="eve@example.com")}
        assert_error(app.client.get("/api/learner", headers=stranger), 403, "not_enrolled")
        expired = {"Cf-Access-Jwt-Assertion": sign(key_a, exp=int(time.time()) - 3600)}
        assert_error(app.client.get("/api/learner", headers=expired), 401, "access_denied")
        browser = app.sign_in(created["inviteToken"])
        assert_error(browser.get("/api/learner"), 401, "unauthorized")
