"""The certificate's operator commands through the CLI: `build.py issuer-key` (a key readable
by its owner only, never silently replaced) and `build.py certificates list|revoke` on the
local database (the admin API's revocation: the status list says so)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.certificates import finish, status_bit
from support.certified import issuer_key
from support.client import Cohort, assert_error
from support.small_course import small_cohort

import build as cli
from api.settings import Settings


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path, issuer_key=issuer_key()) as running:
        yield running


def test_issuer_key_command_makes_a_private_key_and_keeps_it(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "keys/issuer.pem"
    assert cli.main(["issuer-key", "--out", str(path), "--bits", "2048"]) == 0
    printed = capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    made = Settings.from_env({"SILLON_ISSUER_KEY": path.read_text()}).issuer_key
    assert made is not None and made.thumbprint in printed
    assert "wrangler secret put SILLON_ISSUER_KEY" in printed
    first = path.read_text()
    assert (
        cli.main(["issuer-key", "--out", str(path), "--bits", "2048"]) == 2
    )  # an existing key is kept
    assert "already there" in capsys.readouterr().err and path.read_text() == first
    assert cli.main(["issuer-key", "--out", str(path), "--force", "--bits", "2048"]) == 0
    assert path.read_text() != first


def test_certificates_list_and_revoke_commands(app: Cohort, capsys: Any) -> None:
    _, ada = app.learner("Ada")
    db = ["--db", str(app.db)]
    assert cli.main(["certificates", "list", *db]) == 0
    assert "(no certificates)" in capsys.readouterr().out
    finish(app, ada)
    mine = ada.get("/api/certificate").json()
    assert cli.main(["certificates", "list", *db]) == 0
    listed = capsys.readouterr().out
    assert mine["id"] in listed and "Ada" in listed
    index = int(mine["document"]["credentialStatus"]["statusListIndex"])
    keys = app.client.get("/.well-known/jwks.json").json()
    assert status_bit(app, index, keys) == 0
    assert cli.main(["certificates", "revoke", mine["id"], "--reason", "fraude", *db]) == 0
    assert f"Revoked {mine['id']} (Ada)" in capsys.readouterr().out
    assert status_bit(app, index, keys) == 1
    assert cli.main(["certificates", "revoke", mine["id"], *db]) == 2
    assert "was revoked on" in capsys.readouterr().err
    assert cli.main(["certificates", "revoke", "nope", *db]) == 2
    assert "No certificate 'nope'" in capsys.readouterr().err
    listed_api = app.client.get("/api/admin/certificates", headers=app.admin()).json()
    assert listed_api["certificates"][0]["reason"] == "fraude"
    assert_error(app.client.get("/api/admin/certificates"), 401, "unauthorized")


@pytest.mark.live
def test_a_loopback_serve_signs_with_a_development_key_it_keeps(tmp_path: Path) -> None:
    from support.course import make_course
    from support.launch import Site

    site = Site(tmp_path, make_course(tmp_path / "course"))
    try:
        keys = site.get("/.well-known/jwks.json")
        assert keys.status_code == 200, keys.text
        path = tmp_path / "issuer-key.pem"  # beside the database
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "development key" in site.log_text()
        site.stop()
        site.start()  # a restart signs with the same key: earlier certificates still verify
        assert site.get("/.well-known/jwks.json").json() == keys.json()
    finally:
        site.stop()
