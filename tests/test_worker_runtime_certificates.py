"""Certificates on the Python Worker run for real (tests/support/worker.py): SILLON_ISSUER_KEY in
the Worker's env, requests through the entry (api/worker.py `Default.fetch`, as workerd calls
it), signatures made inside the runtime's Pyodide by the vendored `rsa` and `pyasn1`, checked in
the host by jwcrypto (not the code that signed them) against the JWKS the Worker publishes.

A Worker of its own: a learner finished, a certificate revoked, its admin calls spent, apart
from test_worker_runtime.py's comparison with serve and test_worker_runtime_fresh.py's limits.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.certificates import verified
from support.certified import issuer_key, take
from support.launch import ADMIN
from support.worker import WorkerRuntime
from support.worker_course import built_course, published_worker, signed_in

from builder.config import BuildConfig

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildConfig]:
    return built_course(tmp_path_factory.mktemp("certificates-course"))


@pytest.fixture(scope="module")
def worker(
    course: tuple[Path, BuildConfig], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerRuntime]:
    workdir = tmp_path_factory.mktemp("certificates-worker")
    with published_worker(
        course[1],
        workdir,
        {
            # base64 of the PEM on one line, as `wrangler secret put` may be given it
            "SILLON_ISSUER_KEY": base64.b64encode(issuer_key().pem().encode()).decode(),
        },
    ) as runtime:
        yield runtime


def published_keys(worker: WorkerRuntime) -> dict[str, Any]:
    """The issuer's JWKS and profile, through the entry to the app (JSON, public, cacheable),
    not the assets' 404 page; the JWKS holds the public half of the key only."""
    keys = httpx.get(worker.url + "/.well-known/jwks.json", timeout=60)
    assert keys.status_code == 200, keys.text
    assert keys.headers["content-type"] == "application/json"
    assert keys.headers["access-control-allow-origin"] == "*"
    assert keys.json() == {"keys": [issuer_key().public_jwk()]}
    profile = httpx.get(worker.url + "/.well-known/issuer.json", timeout=60)
    assert profile.status_code == 200, profile.text
    assert profile.json()["id"] == worker.url + "/.well-known/issuer.json"
    assert profile.json()["name"] == "Shell basics"  # no author, no SILLON_ISSUER_NAME
    found: dict[str, Any] = keys.json()
    return found


def revoked_bit(worker: WorkerRuntime, keys: dict[str, Any], index: int) -> bool:
    """Bit `index` of the Worker's signed Bitstring Status List (GZIP, multibase base64url)."""
    listed = httpx.get(worker.url + "/api/certificates/status/1", timeout=60)
    assert listed.headers["content-type"] == "application/vc+jwt", listed.text
    encoded = verified(listed.text, keys)["credentialSubject"]["encodedList"]
    assert encoded.startswith("u"), encoded[:8]
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    return bool(bits[index // 8] & (0x80 >> index % 8))


@pytest.mark.live
def test_worker_runtime_issues_certificates_signed_in_pyodide(
    worker: WorkerRuntime, course: tuple[Path, BuildConfig]
) -> None:
    """A learner who finished gets a credential signed in Pyodide that verifies against the
    published JWKS, the same one again, no PDF (no WeasyPrint on the Worker); revoked, the
    signed status list says so."""
    keys = published_keys(worker)
    client = signed_in(worker, "Cleo")
    early = client.get("/api/certificate")
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_finished"
    manifest = json.loads((course[1].private / "manifest.json").read_text())
    for step in manifest["steps"]:
        take(client, step)
    mine = client.get("/api/certificate")
    assert mine.status_code == 200, mine.text
    shown = mine.json()
    assert shown["pdfUrl"] is None, "the Worker has no WeasyPrint"
    assert shown["verifyUrl"] == f"{worker.url}/verify/#id={shown['id']}"
    payload = verified(shown["credential"], keys)
    assert payload["jti"] == f"urn:uuid:{shown['id']}"
    assert payload["credentialSubject"]["achievement"]["name"] == "Shell basics"
    steps = [e.get("stepId") for e in payload["evidence"][1:]]
    assert steps == [s["id"] for s in manifest["steps"]]
    assert client.get("/api/certificate").json()["credential"] == shown["credential"], "once"
    pdf = client.get("/api/certificate.pdf")
    assert pdf.status_code == 503 and pdf.json()["error"]["code"] == "pdf_unavailable"
    public = httpx.get(f"{worker.url}/api/certificates/{shown['id']}", timeout=60)
    assert public.json() == {"id": shown["id"], "credential": shown["credential"]}

    index = int(payload["credentialStatus"]["statusListIndex"])
    assert revoked_bit(worker, keys, index) is False


@pytest.mark.browser
@pytest.mark.live
def test_worker_runtime_verify_page_checks_its_credential_in_chromium(
    worker: WorkerRuntime, browser: Any
) -> None:
    """The verify page served by the Worker's assets checks the Worker's credential with
    WebCrypto against the Worker's JWKS and status list: valid, then revoked by the teacher."""
    listed = httpx.get(
        worker.url + "/api/admin/certificates",
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=60,
    ).json()["certificates"]
    (cleo,) = [c for c in listed if c["name"] == "Cleo"]
    page = browser.new_page()
    verdict = "() => ['valid', 'revoked', 'tampered', 'unknown', 'missing'].includes(document.getElementById('verify-result').dataset.verdict)"
    page.goto(f"{worker.url}/verify/#id={cleo['id']}")
    page.wait_for_function(verdict, timeout=30_000)
    assert page.get_attribute("#verify-result", "data-verdict") == "valid"
    assert page.text_content("#verify-holder") == "Cleo"
    revoked = httpx.post(
        f"{worker.url}/api/admin/certificates/{cleo['id']}/revoke",
        json={"reason": "test"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert revoked.status_code == 200 and revoked.json()["revokedAt"], revoked.text
    keys = published_keys(worker)
    shown = httpx.get(f"{worker.url}/api/certificates/{cleo['id']}", timeout=60).json()
    index = int(verified(shown["credential"], keys)["credentialStatus"]["statusListIndex"])
    assert revoked_bit(worker, keys, index) is True
    page.goto("about:blank")
    page.goto(f"{worker.url}/verify/#id={cleo['id']}")
    page.wait_for_function(verdict, timeout=30_000)
    assert page.get_attribute("#verify-result", "data-verdict") == "revoked"
    page.close()


@pytest.mark.live
def test_worker_runtime_other_well_known_paths_stay_the_sites(worker: WorkerRuntime) -> None:
    """Only the issuer's two documents reach the app: any other /.well-known/ path is the
    static assets' (here the site's 404 page, as serve answers it), never the API's."""
    other = httpx.get(worker.url + "/.well-known/security.txt", timeout=60)
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("text/html"), other.text[:200]
