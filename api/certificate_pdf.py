"""The certificate as a one-page PDF with a QR code to its verify page (api/pdf.py makes it:
serve only; on the Worker the certificate's `pdfUrl` is null)."""

from __future__ import annotations

import io
from base64 import b64encode
from html import escape
from typing import Any

from .pdf import write_pdf

WORDS = {
    "fr": {
        "title": "Certificat de réussite",
        "intro": "Ce certificat atteste que",
        "finished": "a suivi jusqu'au bout, dans l'ordre imposé, le cours",
        "issued": "Délivré le {day} par {issuer}",
        "verify": "Vérifiez-le : scannez le code ou ouvrez",
        "steps": "{steps} étapes · {time} · vitesse plafonnée à ×{rate}",
    },
    "en": {
        "title": "Certificate of completion",
        "intro": "This certifies that",
        "finished": "took every step, in the order set, of the course",
        "issued": "Issued on {day} by {issuer}",
        "verify": "Verify it: scan the code or open",
        "steps": "{steps} steps · {time} · speed capped at {rate}x",
    },
}
STYLE = """
@page { size: A4 landscape; margin: 18mm; }
body { font-family: sans-serif; color: #1d2430; text-align: center; }
h1 { font-size: 30pt; margin: 8mm 0 6mm; letter-spacing: .02em; }
.name { font-size: 26pt; font-weight: bold; margin: 4mm 0; }
.course { font-size: 20pt; margin: 4mm 0 6mm; }
.muted { color: #555; font-size: 11pt; }
.verify { margin-top: 8mm; font-size: 10pt; }
.verify img { width: 34mm; height: 34mm; display: block; margin: 2mm auto; }
.url { font-family: monospace; font-size: 8pt; word-break: break-all; }
"""


def duration_words(seconds: float) -> str:
    """A time as the certificate says it: '42 min', '2 h 05'."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "< 1 min"
    return f"{minutes // 60} h {minutes % 60:02d}" if minutes >= 60 else f"{minutes} min"


MONTHS = {
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "en": "January February March April May June July August September October November December",
}


def long_date(iso_time: str, language: str) -> str:
    """'2026-12-03T...' as the course's language writes it: 3 décembre 2026, 3 December 2026."""
    year, month, day = (int(part) for part in iso_time[:10].split("-"))
    months = MONTHS.get(language, MONTHS["en"]).split()
    return f"{day} {months[month - 1]} {year}"


def render(shown: dict[str, Any], language: str) -> bytes:
    """The PDF of the certificate the learner was shown (api/certificates.py `answer`)."""
    import segno

    words = WORDS.get(language, WORDS["en"])
    document = shown["document"]
    subject = document["credentialSubject"]
    name = next(i["identityHash"] for i in subject["identifier"] if i["identityType"] == "name")
    course = document["evidence"][0]
    qr = io.BytesIO()
    segno.make(shown["verifyUrl"], error="m").save(qr, kind="svg", xmldecl=False, border=1)
    image = "data:image/svg+xml;base64," + b64encode(qr.getvalue()).decode("ascii")
    facts = words["steps"].format(
        steps=course["steps"],
        time=duration_words(course["seconds"]),
        rate=f"{course['playbackMaxRate']:g}",
    )
    issued = words["issued"].format(
        day=long_date(shown["issuedAt"], language), issuer=document["issuer"]["name"]
    )
    page = f"""<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">
<title>{escape(document["name"])}</title><style>{STYLE}</style></head><body>
<h1>{escape(words["title"])}</h1>
<p class="muted">{escape(words["intro"])}</p>
<p class="name">{escape(name)}</p>
<p class="muted">{escape(words["finished"])}</p>
<p class="course">{escape(subject["achievement"]["name"])}</p>
<p class="muted">{escape(facts)}</p>
<p>{escape(issued)}</p>
<div class="verify"><img src="{image}" alt="QR">{escape(words["verify"])}
<div class="url">{escape(shown["verifyUrl"])}</div></div>
</body></html>"""
    return write_pdf(page, "certificate")
