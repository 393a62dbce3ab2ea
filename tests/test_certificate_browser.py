"""The certificate in real Chromium, on the example course served by `build.py serve` with an
issuer key: the learner's card on /me/, then /verify/ opened by a third party (no session)
checking the credential with WebCrypto: valid, tampered, unknown issuer, revoked; and a holder
whose name is HTML sees it shown as text."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.browser import ARTIFACTS, WAIT, laptop_page, screenshot
from support.certified import CertifiedSite
from support.course import EXAMPLE
from support.launch import ADMIN

from api.jws import IssuerKey

pytestmark = [pytest.mark.browser, pytest.mark.live]

VERDICT = "() => ['valid', 'revoked', 'tampered', 'unknown', 'missing'].includes(document.getElementById('verify-result').dataset.verdict)"


@pytest.fixture(scope="module")
def certified(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertifiedSite]:
    """One serve for the module: finishing the example course takes ~15 s of speed-capped video."""
    workdir = tmp_path_factory.mktemp("certified")
    shutil.copytree(EXAMPLE, workdir / "content")
    running = CertifiedSite(workdir, workdir / "content")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ada(certified: CertifiedSite) -> tuple[str, httpx.Client, dict[str, Any]]:
    """Ada, who finished the course: her email, her signed-in client, her certificate."""
    email, client = certified.finish("Ada Lovelace")
    return email, client, client.get("/api/certificate").json()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from laptop_page(browser)


def verdict(page: Any, url: str) -> str:
    """What the verify page says of `url`, opened afresh (not as a same-page hash change)."""
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_function(VERDICT, timeout=WAIT)
    kind: str = page.get_attribute("#verify-result", "data-verdict")
    return kind


def paste(page: Any, site: CertifiedSite, credential: str) -> str:
    page.goto(site.url + "/verify/")
    page.fill("#verify-input", credential)
    page.evaluate("document.getElementById('verify-result').dataset.verdict = ''")
    page.click("#verify-form button[type=submit]")
    page.wait_for_function(VERDICT, timeout=WAIT)
    kind: str = page.get_attribute("#verify-result", "data-verdict")
    return kind


def reencoded(credential: str, change: Any) -> str:
    """The credential with its payload changed and its signature kept."""
    head, body, signature = credential.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    change(claims)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


def test_certificate_browser_card_on_the_learners_page(
    browser: Any, certified: CertifiedSite, ada: tuple[str, httpx.Client, dict[str, Any]]
) -> None:
    _, client, answer = ada
    own = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    own.add_cookies(
        [{"name": k, "value": v, "url": certified.url} for k, v in client.cookies.items()]
    )
    mine = own.new_page()
    mine.goto(certified.url + "/me/#certificate")
    mine.wait_for_selector("#certificate:not([hidden])", timeout=WAIT)
    assert mine.get_attribute("#certificate-verify", "href") == answer["verifyUrl"]
    assert mine.get_attribute("#certificate-pdf", "href") == answer["pdfUrl"]
    assert "linkedin.com/profile/add" in mine.get_attribute("#certificate-linkedin", "href")
    mine.locator("#certificate").scroll_into_view_if_needed()
    screenshot(mine, "certificate-me-1280")
    own.close()
    # The PDF the card links to, as an image for the README (poppler's pdftoppm).
    pdf = client.get(answer["pdfUrl"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "certificate.pdf").write_bytes(pdf.content)
    image = ARTIFACTS / "certificate-pdf"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-singlefile",
            str(ARTIFACTS / "certificate.pdf"),
            str(image),
        ],
        check=True,
    )


def test_certificate_browser_valid_for_a_third_party(
    page: Any, certified: CertifiedSite, ada: tuple[str, httpx.Client, dict[str, Any]]
) -> None:
    email, _, answer = ada
    assert verdict(page, answer["verifyUrl"]) == "valid"  # no session in this browser
    assert page.text_content("#verify-verdict") == "Certificat valide"
    assert page.text_content("#verify-holder") == "Ada Lovelace"
    assert page.locator("#verify-steps li").count() == len(answer["document"]["evidence"]) - 1
    screenshot(page, "certificate-verify-1280")
    page.fill("#verify-email", email.upper())
    page.click("#verify-email-form button")
    page.wait_for_function("() => document.getElementById('verify-email-answer').textContent")
    assert page.text_content("#verify-email-answer").startswith("Oui")
    page.fill("#verify-email", "someone@example.org")
    page.click("#verify-email-form button")
    page.wait_for_function(
        "() => document.getElementById('verify-email-answer').textContent.startsWith('Non')"
    )
    # The whole credential in the address works too, and pasted.
    assert verdict(page, certified.url + "/verify/#" + answer["credential"]) == "valid"
    assert paste(page, certified, answer["credential"]) == "valid"


def test_certificate_browser_verify_page_is_accessible_on_a_phone(
    browser: Any, ada: tuple[str, httpx.Client, dict[str, Any]]
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    for scheme in ("light", "dark"):
        context = browser.new_context(
            viewport={"width": 375, "height": 812}, color_scheme=scheme, bypass_csp=True
        )
        phone = context.new_page()
        assert verdict(phone, ada[2]["verifyUrl"]) == "valid"
        violations = Axe().run(phone).response["violations"]
        serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == [], (scheme, serious)
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the verify page scrolls sideways ({overflow}px, {scheme})"
        context.close()


def test_certificate_browser_tampered_and_unknown_issuer(
    page: Any, certified: CertifiedSite, ada: tuple[str, httpx.Client, dict[str, Any]]
) -> None:
    credential = ada[2]["credential"]

    def better(claims: dict[str, Any]) -> None:
        claims["evidence"][-1]["finalScore"] = 1.0

    def renamed(claims: dict[str, Any]) -> None:
        claims["credentialSubject"]["identifier"][0]["identityHash"] = "Mallory"

    for forged in (reencoded(credential, better), reencoded(credential, renamed)):
        assert paste(page, certified, forged) == "tampered"
        assert page.is_hidden("#verify-facts")  # nothing of a forged credential is shown
    assert paste(page, certified, credential[:-4] + "AAAA") == "tampered"
    assert paste(page, certified, "not a credential") == "tampered"
    # The same document signed by another key (not in this site's JWKS): unknown issuer.
    other = IssuerKey.generate(2048)
    payload = json.loads(base64.urlsafe_b64decode(credential.split(".")[1] + "=="))
    kid = f"{certified.url}/.well-known/jwks.json#{other.thumbprint}"
    assert paste(page, certified, other.sign(payload, {"kid": kid, "typ": "JWT"})) == "unknown"
    nobody = certified.url + "/verify/#id=00000000-0000-0000-0000-000000000000"
    assert verdict(page, nobody) == "missing"


HOSTILE = "Eve <img src=x onerror=\"window.pwned='img'\"><script>window.pwned='s'</script>"


@pytest.fixture(scope="module")
def eve(certified: CertifiedSite) -> dict[str, Any]:
    """A holder whose name is HTML, who finished the course: her certificate."""
    _, client = certified.finish(HOSTILE)
    answer: dict[str, Any] = client.get("/api/certificate").json()
    return answer


def test_certificate_browser_holder_name_is_shown_as_text(page: Any, eve: dict[str, Any]) -> None:
    assert verdict(page, eve["verifyUrl"]) == "valid"
    assert page.text_content("#verify-holder") == HOSTILE
    assert page.evaluate("window.pwned") is None
    assert page.locator("#verify img").count() == 0


def test_certificate_browser_revoked_from_the_admin_page(
    page: Any, certified: CertifiedSite, eve: dict[str, Any]
) -> None:
    page.goto(certified.url + "/admin/")
    page.fill("#admin-token", ADMIN)
    page.click("#admin-login button[type=submit]")
    page.wait_for_selector("#admin-insight:not([hidden])", timeout=WAIT)
    page.click("#admin-certificates summary")
    row = page.locator(f"#admin-certificates tr[data-id='{eve['id']}']")
    row.wait_for(timeout=WAIT)
    assert row.locator("td").first.text_content() == HOSTILE  # as text
    page.once("dialog", lambda dialog: dialog.accept("copie"))
    row.locator("button").click()
    page.wait_for_function(
        f"() => document.querySelector(\"#admin-certificates tr[data-id='{eve['id']}'] button\") === null",
        timeout=WAIT,
    )
    assert "révoqué" in row.text_content()
    assert page.evaluate("window.pwned") is None
    assert verdict(page, eve["verifyUrl"]) == "revoked"


def test_certificate_browser_revoked_by_the_teacher(
    page: Any, certified: CertifiedSite, ada: tuple[str, httpx.Client, dict[str, Any]]
) -> None:
    answer = ada[2]
    assert verdict(page, answer["verifyUrl"]) == "valid"
    revoked = httpx.post(
        f"{certified.url}/api/admin/certificates/{answer['id']}/revoke",
        json={"reason": "test"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert revoked.status_code == 200, revoked.text
    assert verdict(page, answer["verifyUrl"]) == "revoked"
    assert page.text_content("#verify-verdict") == "Certificat révoqué"
    assert page.text_content("#verify-holder") == "Ada Lovelace"  # genuine, withdrawn
