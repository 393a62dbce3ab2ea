"""Settings.from_env: one reader of the environment for serve, the Worker and the CLI."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from support.certified import issuer_key

import build
from api.settings import CLI, SETTINGS, WORKER, Settings

STREAM = {
    "CLOUDFLARE_STREAM_SIGNING_KEY_ID": "k1",
    # A real RSA key, base64-encoded as Stream's keys endpoint gives its PEM.
    "CLOUDFLARE_STREAM_SIGNING_KEY_PEM": base64.b64encode(issuer_key().pem().encode()).decode(),
    "CLOUDFLARE_STREAM_CUSTOMER_CODE": "abc",
}


def test_settings_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert (settings.db_path, settings.default_tz) == (".sillon/sillon.sqlite3", "Europe/Paris")
    assert settings.admin_token is None and settings.rate_limits is True
    assert settings.stream is None and settings.lrs is None and settings.access is None
    assert len(settings.secret) == 64  # random per process when SILLON_SECRET is unset


def test_settings_read_every_declared_variable() -> None:
    environ = {
        "SILLON_DB": "x.sqlite3",
        "SILLON_ADMIN_TOKEN": "admin",
        "SILLON_SECRET": "s" * 32,
        "TALLY_SIGNING_SECRET": "tally",
        "SILLON_BASE_URL": "https://learn.example.org",
        "SILLON_TZ": "America/Montreal",
        "SILLON_CORS_ORIGINS": "https://a.example, ,https://b.example",
        "SILLON_RATE_LIMITS": "OFF",
        "SILLON_LRS_URL": "https://lrs.example/xapi/",
        **STREAM,
    }
    s = Settings.from_env(environ)
    assert (s.db_path, s.admin_token, s.secret, s.tally_secret) == (
        "x.sqlite3",
        "admin",
        "s" * 32,
        "tally",
    )
    assert (s.base_url, s.default_tz, s.rate_limits) == (
        "https://learn.example.org",
        "America/Montreal",
        False,
    )
    assert s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.lrs is not None and s.lrs.url == "https://lrs.example/xapi"
    assert s.stream is not None and s.stream.key_id == "k1"
    assert {v.name for v in SETTINGS} >= set(environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SILLON_RATE_LIMITS": "maybe"}, "SILLON_RATE_LIMITS must be on or off, not 'maybe'"),
        ({"SILLON_HEAD_TIMEOUT": "0.5"}, "SILLON_HEAD_TIMEOUT must be a whole number above 0"),
        ({"CLOUDFLARE_STREAM_SIGNING_KEY_ID": "k1"}, "Stream playback needs"),
        ({"SILLON_LRS_URL": "ftp://x"}, "SILLON_LRS_URL must be an http(s) URL"),
        ({"SILLON_ACCESS_AUD": "aud"}, "Cloudflare Access mode is half-configured"),
    ],
)
def test_settings_refuse_bad_or_half_configured_values(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(environ)


def test_settings_each_runtime_reads_only_its_own_variables() -> None:
    environ = {"SILLON_RATE_LIMITS": "off", "SILLON_ACCESS_AUD": "aud", "SILLON_DB": "x"}
    worker = Settings.from_env(environ, WORKER, db_path="d1:DB")
    assert (worker.rate_limits, worker.access, worker.db_path) == (True, None, "d1:DB")
    cli = Settings.from_env({**environ, **STREAM, "SILLON_TZ": "Asia/Tokyo"}, CLI, db_path=None)
    assert (cli.db_path, cli.stream, cli.default_tz) == ("x", None, "Asia/Tokyo")


def test_settings_cli_enrolls_in_the_configured_time_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`learners add` without --tz uses SILLON_TZ, as the README says (it once ignored it)."""
    import sqlite3

    monkeypatch.setenv("SILLON_DB", str(tmp_path / "db.sqlite3"))
    monkeypatch.setenv("SILLON_TZ", "Asia/Tokyo")
    args = ["learners", "add", "--name", "Ada", "--email", "ada@example.org", "--team", "t"]
    assert build.main(args) == 0
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("SELECT tz FROM learners").fetchall() == [("Asia/Tokyo",)]
