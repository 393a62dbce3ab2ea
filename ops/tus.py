"""tuspy for Cloudflare Stream: the uid at creation, and chunks that resume after a failed PATCH.

tuspy (`tusclient`) speaks the protocol: creation, `get_offset` (HEAD), `upload_chunk` (PATCH).
Two things Stream uploads need are added here, on its public methods:

- Creation reads Stream's `stream-media-id` header (the video's uid).
- A PATCH that fails in a way resuming can cure (the network; 408, 409, 423, 429, 5xx) is
  resumed: wait, read the server's offset again with HEAD, go on from there. The case it is for:
  an upload killed mid-chunk and rerun at once, while the server still holds the killed PATCH;
  HEAD answers the old offset, the held PATCH lands, and the rerun's PATCH meets
  `409 Conflict: Upload-Offset conflict`. Other answers (401, 403, 404, 413 ...) stop at once.

Bounds: at most `Retry.attempts` resumes in a row without a chunk accepted (`--retries`, default
5), waiting 1, 2, 4, 8, 16 s before each (doubling, at most 30 s): about half a minute. Then
`<file>: gave up after N resumes at <offset> of <size>: <reason>; rerun the same command to
resume` (exit 1; the state file keeps the upload URL, so the rerun goes on from the server's
offset). tuspy's own `retries` stay 0: they wait a fixed delay, say nothing, and re-raise the
first error rather than the last.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from tusclient.exceptions import TusCommunicationError
from tusclient.uploader.uploader import Uploader

from .cloudflare import http_error
from .errors import FAILED, CommandError
from .progress import Progress, human_bytes

TusError: Any = TusCommunicationError  # tuspy's exception (its constructor is untyped)
RERUN = "rerun the same command to resume"
RESUMABLE = frozenset({408, 409, 423, 429})  # and every 5xx, and the network


@dataclass(frozen=True)
class Retry:
    """How often a failed PATCH is resumed in a row, and the first wait (doubled each time)."""

    attempts: int = 5
    first_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before resume number `attempt` (1, 2, ...)."""
        return float(min(self.first_delay * 2 ** (attempt - 1), self.max_delay))


class StreamUploader(Uploader):
    """tuspy's uploader, reading Stream's `stream-media-id` header from the creation response."""

    media_id: str | None = None

    def create_url(self) -> str:
        """tus Creation (POST); remember the uid Stream gives the video."""
        tus: Any = self
        try:
            response = requests.post(
                tus.client.url, headers=tus.get_url_creation_headers(), timeout=60
            )
        except requests.RequestException as exc:
            raise TusError(exc) from exc
        location = response.headers.get("location")
        if response.status_code >= 300 or location is None:
            raise TusError(
                f"upload creation failed with status {response.status_code}",
                response.status_code,
                response.content,
            )
        self.media_id = response.headers.get("stream-media-id")
        return urljoin(str(tus.client.url), location)


# --- sending, and resuming after a failed PATCH ------------------------------------------------


def send(uploader: StreamUploader, progress: Progress, retry: Retry) -> None:
    """PATCH chunk after chunk; after a failure resuming may cure, re-read the offset, go on."""
    tus: Any = uploader  # tuspy's methods are untyped
    failure: TusCommunicationError | None = None
    tries = 0
    progress.update(tus.offset)
    while tus.offset < progress.total:
        try:
            if failure is not None:
                _resume_after(failure, tus, progress, tries, retry)
            tus.upload_chunk()
            failure, tries = None, 0
        except TusCommunicationError as exc:
            if tries >= retry.attempts or not resumable(exc):
                raise _gave_up(exc, str(tus.url), progress, tries) from exc
            failure, tries = exc, tries + 1
        progress.update(tus.offset)
    progress.finish()


def resumable(exc: TusCommunicationError) -> bool:
    """Whether reading the offset again and going on may cure this failure."""
    status = exc.status_code
    return status is None or int(status) in RESUMABLE or int(status) >= 500


def _resume_after(
    failure: TusCommunicationError, tus: Any, progress: Progress, tries: int, retry: Retry
) -> None:
    """Wait, ask the server (HEAD) how much it holds, and say so; bytes it took count as sent."""
    time.sleep(retry.delay(tries))
    held = int(tus.get_offset())
    progress.start += held - progress.offset  # `sent` counts the chunks this run got through
    progress.update(held)
    tus.offset = held
    fresh_line = "\n" if progress.interactive else ""
    progress.stream.write(
        f"{fresh_line}{progress.label}: {failure_reason(failure, str(tus.url))}; the server holds "
        f"{human_bytes(held)} of {human_bytes(progress.total)}: resuming ({tries} of "
        f"{retry.attempts})\n"
    )
    progress.stream.flush()


def _gave_up(exc: TusCommunicationError, url: str, progress: Progress, tries: int) -> CommandError:
    where = f"{human_bytes(progress.offset)} of {human_bytes(progress.total)}"
    how = f"gave up after {tries} resume{'s' if tries > 1 else ''} at" if tries else "stopped at"
    reason = failure_reason(exc, url)
    return CommandError(f"{progress.label}: {how} {where}: {reason}; {RERUN}", FAILED)


# --- errors for people ---------------------------------------------------------------------


def failure_reason(exc: TusCommunicationError, url: str) -> str:
    """What the server answered, or what the network did (and to which host), in a few words."""
    if exc.status_code is None:
        where = urlsplit(url).netloc or "the server"
        return f"{network_reason(str(exc))} ({where})"
    return http_error(int(exc.status_code), exc.response_content)


def network_reason(text: str) -> str:
    """A requests/urllib3 error's text as a few words: connection refused, lost, timed out."""
    lowered = text.lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("reset", "connection lost"),
        ("broken pipe", "connection lost"),
        ("aborted", "connection lost"),
        ("remotedisconnected", "connection lost"),
        ("timed out", "connection timed out"),
        ("name or service", "host not found"),
        ("nameresolution", "host not found"),
    ):
        if needle in lowered:
            return reason
    return "network error"
