"""`python build.py stream-key` against a stand-in for Stream's keys endpoint (Cloudflare's API
is unreachable here): a real HTTP server on 127.0.0.1 answering POST /accounts/<id>/stream/keys
with the documented shape, reached through CLOUDFLARE_API_BASE."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.standin import JsonHandler, serve

import build
from api.jws import PKCS1_BEGIN

TOKEN = "stream-api-token-secret"


class Keys(JsonHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's API
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.answer(
                401,
                {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]},
            )
        elif self.path == "/client/v4/accounts/acct123/stream/keys":
            result = {
                "id": "8f926b2b01f383510025a78a4dcbf6a",
                "pem": base64.b64encode(PKCS1_BEGIN.encode()).decode(),  # armour, no key
                "created": "2026-11-24T10:00:00Z",
            }
            self.answer(200, {"result": result, "success": True, "errors": [], "messages": []})
        else:
            self.answer(404, {"success": False, "errors": [{"code": 7003, "message": "No route"}]})


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    server = serve(Keys)
    monkeypatch.chdir(tmp_path)
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDFLARE_API_BASE", f"http://127.0.0.1:{server.server_port}/client/v4")
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acct123")
    monkeypatch.setenv("CLOUDFLARE_STREAM_API_TOKEN", TOKEN)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_stream_key_created_saved_privately_and_never_printed(
    api: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert build.main(["stream-key", "--out", "key.json"]) == 0
    out, err = capsys.readouterr()
    saved = json.loads((tmp_path / "key.json").read_text())
    assert saved["id"] == "8f926b2b01f383510025a78a4dcbf6a" and saved["pem"].startswith("LS0t")
    assert stat.S_IMODE((tmp_path / "key.json").stat().st_mode) == 0o600
    assert "npx wrangler secret put CLOUDFLARE_STREAM_SIGNING_KEY_PEM" in out
    assert saved["pem"] not in out + err and TOKEN not in out + err


def test_stream_key_errors(
    api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLOUDFLARE_STREAM_API_TOKEN", "wrong")
    assert build.main(["stream-key"]) == 1
    assert (
        capsys.readouterr().err
        == "error: Stream refused to create a key (401): Authentication error\n"
    )
    monkeypatch.delenv("CLOUDFLARE_STREAM_API_TOKEN")
    assert build.main(["stream-key"]) == 2
    assert (
        capsys.readouterr().err
        == "error: missing CLOUDFLARE_STREAM_API_TOKEN (environment or .env)\n"
    )
    monkeypatch.setenv("CLOUDFLARE_STREAM_API_TOKEN", TOKEN)
    monkeypatch.setenv("CLOUDFLARE_API_BASE", "http://127.0.0.1:9/client/v4")
    assert build.main(["stream-key"]) == 1
    assert capsys.readouterr().err.startswith(
        "error: cannot reach http://127.0.0.1:9/client/v4: ConnectError"
    )


def test_stream_key_credentials_from_dotenv(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID")
    monkeypatch.delenv("CLOUDFLARE_STREAM_API_TOKEN")
    (tmp_path / ".env").write_text(
        f"CLOUDFLARE_ACCOUNT_ID=acct123\nCLOUDFLARE_STREAM_API_TOKEN={TOKEN}\n"
    )
    assert build.main(["stream-key", "--out", "k.json"]) == 0
    assert TOKEN not in "".join(capsys.readouterr())
