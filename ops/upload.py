"""Upload videos to Cloudflare Stream with the tus resumable protocol (`stream_upload.py`).

One file (`--file PATH --name NAME`), one lesson's local video (`--lesson content/.../x.md`,
which then reads `video: stream:<uid>` with its `duration:`), or every such lesson (`--all`).
Uploads go in chunks to `{CLOUDFLARE_API_BASE}/accounts/<account>/stream` with `tuspy`; the
upload URL is kept in `.sillon/uploads.json` under the file's SHA-256, so an interrupted upload
resumes where the server stopped and a file already uploaded is not sent twice. Within a run, a
failed PATCH is resumed from the server's offset a bounded number of times (`--retries`, default
5, waiting 1, 2, 4, 8, 16 s): the rules and the reasons are in ops/tus.py.

Credentials (`CLOUDFLARE_ACCOUNT_ID`, `CLOUDFLARE_STREAM_API_TOKEN`) come from the environment
or a `.env` file in the current directory; the token is sent in a header and never printed.
Exit codes: 0 done, 1 the server or the network failed, 2 wrong usage, a missing file or missing
credentials.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO
from urllib.parse import quote

from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from .cloudflare import ACCOUNT_VAR, TOKEN_VAR, Credentials
from .errors import FAILED, USAGE, CommandError
from .lessons import (
    STREAM_PREFIX,
    LessonPlan,
    format_seconds,
    plan_all,
    plan_lesson,
    rewrite_front_matter,
)
from .progress import KIB, MIB, Progress, human_bytes
from .tus import RERUN, Retry, StreamUploader, failure_reason, send

CHUNK_UNIT = 256 * KIB  # Stream: every chunk but the last is a multiple of 256 KiB ...
MIN_CHUNK = 5 * MIB  # ... and at least 5 MiB
DEFAULT_CHUNK = 50 * MIB  # Stream's recommendation for reliable connections
DEFAULT_STATE = Path(".sillon/uploads.json")


@dataclass(frozen=True)
class Settings:
    """Where and how to upload: the endpoint, the credentials, the chunk size, the state file."""

    credentials: Credentials  # its repr leaves the token out
    chunk_size: int = DEFAULT_CHUNK
    state_path: Path = DEFAULT_STATE
    retry: Retry = field(default_factory=Retry)  # resuming a failed PATCH within the run

    @property
    def endpoint(self) -> str:
        """Stream's tus creation URL for the account."""
        account = quote(self.credentials.account_id, safe="")
        return f"{self.credentials.api_base}/accounts/{account}/stream"


@dataclass(frozen=True)
class Uploaded:
    """The outcome of one file: its Stream uid, and whether it was already there."""

    uid: str
    already: bool
    sent: int


# --- credentials and settings -------------------------------------------------------------


def load_settings(
    environ: Mapping[str, str],
    dotenv_path: Path,
    chunk_size: int = DEFAULT_CHUNK,
    state_path: Path = DEFAULT_STATE,
    retry: Retry | None = None,
) -> Settings:
    """Read the account, token and API base from the environment, then from `.env`."""
    found = Credentials.load(environ, dotenv_path)
    if found.missing:
        raise CommandError(
            f"missing {' and '.join(found.missing)}: set "
            f"{'them' if len(found.missing) > 1 else 'it'} "
            "in the environment or in .env (an API token with the Stream:Edit permission)"
        )
    return Settings(found, chunk_size, state_path, retry or Retry())


def chunk_bytes(mib: float) -> int:
    """Turn a chunk size in MiB into bytes that follow Stream's rules, or refuse it."""
    size = round(mib * MIB)
    if size < MIN_CHUNK or size % CHUNK_UNIT or abs(size - mib * MIB) > 0.5:
        raise CommandError(
            f"--chunk-size must be at least 5 MiB and a multiple of 0.25 MiB (256 KiB), got {mib:g}"
        )
    return size


# --- the state file ----------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """Hash a file's content (the key of the state file)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


class UploadState:
    """`.sillon/uploads.json`: for each content hash, its upload URL, Stream uid and status."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.uploads: dict[str, dict[str, Any]] = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                message = f"cannot read {path}: {exc}; delete it to start over"
                raise CommandError(message) from exc
            self.uploads = dict(data.get("uploads", {})) if isinstance(data, dict) else {}

    def get(self, digest: str, endpoint: str) -> dict[str, Any] | None:
        """The entry for this content on this account, if any."""
        entry = self.uploads.get(digest)
        if isinstance(entry, dict) and entry.get("endpoint") == endpoint:
            return entry
        return None

    def put(self, digest: str, entry: dict[str, Any]) -> None:
        """Record an entry and write the file at once (atomically)."""
        self.uploads[digest] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        text = json.dumps({"version": 1, "uploads": self.uploads}, indent=2, sort_keys=True)
        temporary.write_text(text + "\n", encoding="utf-8")
        temporary.replace(self.path)


# --- the tus client ------------------------------------------------------------------------


def _client(settings: Settings) -> TusClient:
    return TusClient(settings.endpoint, headers=settings.credentials.headers)


def _uploader(
    settings: Settings, stream: IO[bytes], name: str, url: str | None = None
) -> StreamUploader:
    """A tuspy uploader; with `url`, it asks the server for the offset to resume from."""
    return StreamUploader(
        file_stream=stream,
        url=url,
        client=_client(settings),
        chunk_size=settings.chunk_size,
        metadata={"name": name, "requiresignedurls": "true"},
    )


def _resume(
    settings: Settings, stream: IO[bytes], name: str, entry: dict[str, Any] | None
) -> StreamUploader | None:
    """Reopen a recorded upload at the server's offset; None if the server forgot it."""
    if not entry or not entry.get("url"):
        return None
    try:
        return _uploader(settings, stream, name, str(entry["url"]))
    except TusCommunicationError as exc:
        if exc.status_code in (403, 404, 410):
            return None  # expired or deleted: start again
        raise


def upload_file(path: Path, name: str, settings: Settings, err: TextIO) -> Uploaded:
    """Upload one file (resuming or skipping it as the state file says); return its uid."""
    size = _check_file(path)
    digest = file_sha256(path)
    state = UploadState(settings.state_path)
    entry = state.get(digest, settings.endpoint)
    if entry and entry.get("done") and entry.get("uid"):
        return Uploaded(str(entry["uid"]), already=True, sent=0)
    progress = Progress(path.name, size, 0, err)
    try:
        with path.open("rb") as stream:
            tus = _resume(settings, stream, name, entry)
            if tus is None or entry is None:
                tus, entry = _create(settings, stream, name, size, path)
                state.put(digest, entry)
            else:
                err.write(
                    f"resuming {path.name} at {human_bytes(tus.offset)} of {human_bytes(size)}\n"
                )
            progress = Progress(path.name, size, tus.offset, err)
            send(tus, progress, settings.retry)
    except TusCommunicationError as exc:
        url = str(entry["url"]) if entry else settings.endpoint
        raise _server_error(exc, url, progress.offset, size) from exc
    entry = dict(entry, done=True)
    state.put(digest, entry)
    return Uploaded(str(entry["uid"]), already=False, sent=progress.offset - progress.start)


def _check_file(path: Path) -> int:
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CommandError(f"{path} is empty: nothing to upload")
    return size


def _create(
    settings: Settings, stream: IO[bytes], name: str, size: int, path: Path
) -> tuple[StreamUploader, dict[str, Any]]:
    """tus Creation: a new upload URL and the Stream uid, recorded before any byte is sent."""
    tus = _uploader(settings, stream, name)
    url = tus.create_url()
    if not tus.media_id:
        raise CommandError(
            f"the server created the upload but sent no stream-media-id header ({url})",
            FAILED,
        )
    tus.set_url(url)
    tus.offset = 0
    entry = {
        "endpoint": settings.endpoint,
        "url": url,
        "uid": tus.media_id,
        "name": name,
        "size": size,
        "file": str(path),
        "done": False,
    }
    return tus, entry


# --- errors for people ---------------------------------------------------------------------


def _server_error(exc: TusCommunicationError, url: str, done: int, size: int) -> CommandError:
    """Say what the server or the network did (creating the upload or reading its offset)."""
    reason = failure_reason(exc, url)
    if exc.status_code is None:
        reason += f" with {human_bytes(done)} of {human_bytes(size)} uploaded; {RERUN}"
    return CommandError(reason, FAILED)


# --- a lesson's video ------------------------------------------------------------------


def apply_plan(plan: LessonPlan, settings: Settings, out: TextIO, err: TextIO) -> Uploaded:
    """Upload the lesson's video, then point its front matter at Stream."""
    lesson = plan.lesson
    done = upload_file(lesson.video_path, plan.name, settings, err)
    raw = lesson.path.read_bytes().decode("utf-8")
    lesson.path.write_bytes(rewrite_front_matter(raw, done.uid, plan.new_duration).encode("utf-8"))
    duration = plan.new_duration or format_seconds(lesson.duration or 0)
    note = " (already uploaded)" if done.already else ""
    out.write(f"{lesson.path}: video: {STREAM_PREFIX}{done.uid}, duration: {duration}{note}\n")
    return done


# --- command line --------------------------------------------------------------------------


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command line of `stream_upload.py` (and `build.py upload`)."""
    cli = argparse.ArgumentParser(
        prog=prog,
        description="Upload videos to Cloudflare Stream (tus, resumable). Credentials: "
        f"{ACCOUNT_VAR} and {TOKEN_VAR} in the environment or in .env.",
    )
    what = cli.add_mutually_exclusive_group(required=True)
    what.add_argument("--file", type=Path, help="a video file to upload")
    what.add_argument(
        "--lesson",
        type=Path,
        help="a lesson (.md): upload its local video, then write video: stream:<uid> into it",
    )
    what.add_argument(
        "--all", action="store_true", help="every lesson with a local video in the course"
    )
    cli.add_argument(
        "--name", help="the video's name on Stream (default: the file name, or 'MODULE - Title')"
    )
    cli.add_argument(
        "--content", type=Path, default=Path("content"), help="course directory for --all"
    )
    cli.add_argument(
        "--chunk-size",
        type=float,
        default=DEFAULT_CHUNK / MIB,
        metavar="MIB",
        help="chunk size in MiB: at least 5, a multiple of 0.25 (default: 50)",
    )
    cli.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE,
        help=f"where upload URLs are kept for resuming (default: {DEFAULT_STATE})",
    )
    cli.add_argument(
        "--retries",
        type=int,
        default=Retry.attempts,
        metavar="N",
        help="resume a failed chunk from the server's offset up to N times in a row, waiting "
        f"1, 2, 4 ... s (default: {Retry.attempts})",
    )
    return cli


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Carry out a parsed command line."""
    if args.name is not None and args.all:
        raise CommandError("--name applies to one upload, not to --all")
    chunk = chunk_bytes(args.chunk_size)
    if args.retries < 0:
        raise CommandError(f"--retries must be 0 or more, got {args.retries}")
    plans: list[LessonPlan | None] = []
    on_stream = 0
    if args.file is not None:
        _check_file(args.file)
    elif args.lesson is not None:
        plans = [plan_lesson(args.lesson, args.name)]
    else:
        found, on_stream = plan_all(args.content)
        plans = list(found)
    retry = Retry(attempts=args.retries)
    settings = load_settings(os.environ, Path.cwd() / ".env", chunk, args.state, retry)
    if args.file is not None:
        done = upload_file(args.file, args.name or args.file.name, settings, err)
        note = " (already uploaded)" if done.already else ""
        out.write(f"{args.file}: {STREAM_PREFIX}{done.uid}{note}\n")
        return 0
    return _run_lessons(plans, on_stream, settings, out, err)


def _run_lessons(
    plans: Sequence[LessonPlan | None], on_stream: int, settings: Settings, out: TextIO, err: TextIO
) -> int:
    uploaded = 0
    for plan in plans:
        if plan is None:
            out.write("the lesson's video is already on Stream: nothing to do\n")
            continue
        if not apply_plan(plan, settings, out, err).already:
            uploaded += 1
    if len(plans) != 1 or on_stream:
        out.write(
            f"{uploaded} uploaded, {len(plans) - uploaded} already uploaded, "
            f"{on_stream} already on Stream\n"
        )
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Entry point: parse, upload, print `error: ...` and return the exit code."""
    try:
        args = parser(prog).parse_args(argv)
    except SystemExit as exc:  # argparse printed its usage error or the help
        return exc.code if isinstance(exc.code, int) else USAGE
    try:
        return run(args, sys.stdout, sys.stderr)
    except CommandError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write(f"\nerror: interrupted; {RERUN}\n")
        return 130
