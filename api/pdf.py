"""PDFs the server makes (the certificate, the notebook): WeasyPrint, like the handout.

Serve has WeasyPrint; the Cloudflare Worker cannot run it (it needs Pango, native code): there
`available()` is False, the API says so (a null `pdfUrl`, 503 `pdf_unavailable`) and the pages
offer the browser's print instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from functools import cache

from .errors import ApiError


@cache
def available() -> bool:
    """Whether this runtime can make PDFs (WeasyPrint installed: serve, not the Worker)."""
    return importlib.util.find_spec("weasyprint") is not None


def write_pdf(page: str, what: str) -> bytes:
    """The PDF of an HTML page made of escaped text (no external resources), or 503."""
    if not available():
        raise ApiError(
            503,
            "pdf_unavailable",
            f"This server makes no PDFs (no WeasyPrint here): print the {what} page instead.",
        )
    weasyprint = importlib.import_module("weasyprint")
    for name in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    pdf: bytes = weasyprint.HTML(string=page).write_pdf()
    return pdf
