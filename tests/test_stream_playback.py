"""Signed Stream playback for the open step only: RS256 tokens with the signing key's kid."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from support.client import Cohort, assert_error, cohort
from support.clock import Clock
from support.course import edit, make_course

from api.stream import StreamKeys, decode_pem, playback

UID = "0123456789abcdef0123456789abcdef"
KID = "f3e1c1a1b1d1e1f1a1b1c1d1e1f1a1b1"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_of(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def app(tmp_path: Path, key: rsa.RSAPrivateKey) -> Iterator[Cohort]:
    content = make_course(tmp_path / "course", duration=120)
    edit(content, "modules/m1/intro.md", "video: media/clip.webm", f"video: stream:{UID}")
    keys = StreamKeys(KID, pem_of(key), "abc123")
    with cohort(content, tmp_path, stream=keys) as running:
        yield running


def test_stream_playback_signs_the_open_video(app: Cohort, key: rsa.RSAPrivateKey) -> None:
    _, browser = app.learner()
    body = browser.get("/api/playback?stepId=intro").json()
    assert body["kind"] == "stream" and body["url"] is None
    token = body["token"]
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": KID, "typ": "JWT"}
    claims = jwt.decode(
        token,
        key.public_key(),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_nbf": False},
    )
    now = int(app.clock().timestamp())
    assert claims["sub"] == UID and claims["kid"] == KID
    assert claims["nbf"] <= now < claims["exp"] <= now + 24 * 3600
    assert body["iframeUrl"] == f"https://customer-abc123.cloudflarestream.com/{token}/iframe"
    assert (
        body["hlsUrl"]
        == f"https://customer-abc123.cloudflarestream.com/{token}/manifest/video.m3u8"
    )
    assert body["expiresAt"].endswith("Z")


def test_stream_playback_refused_for_closed_and_locked_steps(app: Cohort) -> None:
    _, browser = app.learner()
    assert_error(browser.get("/api/playback?stepId=quiz-1"), 403, "step_locked")
    from support.journey import watch_and_move_on

    watch_and_move_on(app, browser)
    assert_error(browser.get("/api/playback?stepId=intro"), 409, "step_closed")
    assert_error(app.client.get("/api/playback?stepId=intro"), 401, "unauthorized")


def test_stream_playback_unconfigured_server(tmp_path: Path) -> None:
    content = make_course(tmp_path / "course", duration=120)
    edit(content, "modules/m1/intro.md", "video: media/clip.webm", f"video: stream:{UID}")
    with cohort(content, tmp_path) as running:
        _, browser = running.learner()
        assert_error(browser.get("/api/playback?stepId=intro"), 503, "stream_unavailable")


def test_stream_keys_from_env_plain_and_base64(key: rsa.RSAPrivateKey) -> None:
    pem = pem_of(key)
    env = {"CLOUDFLARE_STREAM_SIGNING_KEY_ID": KID, "CLOUDFLARE_STREAM_CUSTOMER_CODE": "abc123"}
    plain = StreamKeys.from_env({**env, "CLOUDFLARE_STREAM_SIGNING_KEY_PEM": pem})
    encoded = StreamKeys.from_env(
        {**env, "CLOUDFLARE_STREAM_SIGNING_KEY_PEM": base64.b64encode(pem.encode()).decode()}
    )
    assert plain is not None and encoded is not None
    assert plain.pem.strip() == encoded.pem.strip() == pem.strip()
    assert StreamKeys.from_env({}) is None
    with pytest.raises(
        ValueError,
        match="needs CLOUDFLARE_STREAM_SIGNING_KEY_PEM, CLOUDFLARE_STREAM_CUSTOMER_CODE as well",
    ):
        StreamKeys.from_env({"CLOUDFLARE_STREAM_SIGNING_KEY_ID": KID})
    with pytest.raises(ValueError, match="neither a PEM nor a base64-encoded PEM"):
        decode_pem("bm90IGEga2V5")


def test_stream_token_lifetime_is_capped_at_24_hours(key: rsa.RSAPrivateKey) -> None:
    now = Clock()()
    body = playback(StreamKeys(KID, pem_of(key), "c"), UID, now, lifetime=timedelta(days=3))
    claims = jwt.decode(
        body["token"],
        key.public_key(),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert claims["exp"] - int(now.timestamp()) == 24 * 3600
