"""Upload videos to Cloudflare Stream with the tus resumable protocol (`stream_upload.py`).

One file (`--file PATH --name NAME`), one lesson's local video (`--lesson content/.../x.md`,
which then reads `video: stream:<uid>` with its `duration:`), or every such lesson (`--all`).
Uploads go in chunks to `{CLOUDFLARE_API_BASE}/accounts/<account>/stream` with `tuspy`; the
upload URL is kept in `.sillon/uploads.json` under the file's SHA-256, so an interrupted upload
resumes where the server stopped and a file already uploaded is not sent twice.

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
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any, TextIO
from urllib.parse import quote, urljoin, urlsplit

import requests
import yaml
from dotenv import dotenv_values
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError
from tusclient.uploader.uploader import Uploader

DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4"
KIB = 1024
MIB = 1024 * KIB
CHUNK_UNIT = 256 * KIB  # Stream: every chunk but the last is a multiple of 256 KiB ...
MIN_CHUNK = 5 * MIB  # ... and at least 5 MiB
DEFAULT_CHUNK = 50 * MIB  # Stream's recommendation for reliable connections
DEFAULT_STATE = Path(".sillon/uploads.json")
ACCOUNT_VAR = "CLOUDFLARE_ACCOUNT_ID"
TOKEN_VAR = "CLOUDFLARE_STREAM_API_TOKEN"
BASE_VAR = "CLOUDFLARE_API_BASE"
STREAM_PREFIX = "stream:"
FENCE = re.compile(r"^(---|\.\.\.)\s*$")
VIDEO_LINE = re.compile(
    r"^video[ \t]*:(?P<value>[^\r\n]*?)(?P<comment>[ \t]+#[^\r\n]*)?(?P<eol>\r\n|\n|\r)?\Z"
)
DURATION_LINE = re.compile(r"^duration[ \t]*:")
USAGE = 2
FAILED = 1


class UploadError(Exception):
    """A problem for people: printed as one `error: ...` line, with the exit code to use."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Settings:
    """Where and how to upload: the endpoint, the credentials, the chunk size, the state file."""

    api_base: str
    account_id: str
    token: str  # never printed: Settings' repr hides it
    chunk_size: int = DEFAULT_CHUNK
    state_path: Path = DEFAULT_STATE

    @property
    def endpoint(self) -> str:
        """Stream's tus creation URL for the account."""
        return f"{self.api_base}/accounts/{quote(self.account_id, safe='')}/stream"

    def __repr__(self) -> str:
        return f"Settings(endpoint={self.endpoint!r}, chunk_size={self.chunk_size})"


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
) -> Settings:
    """Read the account, token and API base from the environment, then from `.env`."""
    from_file: dict[str, str | None] = {}
    if dotenv_path.is_file():
        from_file = dotenv_values(dotenv_path)

    def value(name: str) -> str:
        return (environ.get(name) or from_file.get(name) or "").strip()

    missing = [name for name in (ACCOUNT_VAR, TOKEN_VAR) if not value(name)]
    if missing:
        raise UploadError(
            f"missing {' and '.join(missing)}: set {'them' if len(missing) > 1 else 'it'} "
            "in the environment or in .env (an API token with the Stream:Edit permission)",
            USAGE,
        )
    api_base = (value(BASE_VAR) or DEFAULT_API_BASE).rstrip("/")
    return Settings(api_base, value(ACCOUNT_VAR), value(TOKEN_VAR), chunk_size, state_path)


def chunk_bytes(mib: float) -> int:
    """Turn a chunk size in MiB into bytes that follow Stream's rules, or refuse it."""
    size = round(mib * MIB)
    if size < MIN_CHUNK or size % CHUNK_UNIT or abs(size - mib * MIB) > 0.5:
        raise UploadError(
            "--chunk-size must be at least 5 MiB and a multiple of 0.25 MiB (256 KiB), "
            f"got {mib:g}",
            USAGE,
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
                raise UploadError(message, USAGE) from exc
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


# --- progress ------------------------------------------------------------------------------


def human_bytes(size: float) -> str:
    """1.5 MiB, 2.0 GiB: sizes as people read them."""
    if size >= 1024 * MIB:
        return f"{size / (1024 * MIB):.2f} GiB"
    if size >= MIB:
        return f"{size / MIB:.1f} MiB"
    return f"{size / KIB:.0f} KiB"


def human_seconds(seconds: float) -> str:
    """A duration as h:mm:ss or m:ss."""
    total = int(seconds + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """A progress bar on stderr (bytes, rate, ETA); off a terminal, only the final line."""

    WIDTH = 24

    def __init__(
        self,
        label: str,
        total: int,
        start: int,
        stream: TextIO,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total, self.start, self.stream = label, total, start, stream
        self.clock = clock
        self.began = clock()
        self.interactive = stream.isatty()
        self.offset = start

    def rate(self) -> float:
        """Bytes per second sent in this run."""
        elapsed = max(self.clock() - self.began, 1e-6)
        return (self.offset - self.start) / elapsed

    def update(self, offset: int) -> None:
        """Redraw the bar at a new offset (on a terminal only)."""
        self.offset = offset
        if not self.interactive:
            return
        share = offset / self.total if self.total else 1.0
        filled = int(share * self.WIDTH)
        rate = self.rate()
        eta = human_seconds((self.total - offset) / rate) if rate > 0 else "--:--"
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(
            f"\r{self.label} [{bar}] {share:4.0%} {human_bytes(offset)}/{human_bytes(self.total)}"
            f" {human_bytes(rate)}/s ETA {eta}  "
        )
        self.stream.flush()

    def finish(self) -> None:
        """The final line, on a terminal or not."""
        elapsed = self.clock() - self.began
        end = "\n" if self.interactive else ""
        self.stream.write(
            f"{end}{self.label}: {human_bytes(self.offset - self.start)} sent in "
            f"{human_seconds(elapsed)} ({human_bytes(self.rate())}/s)\n"
        )
        self.stream.flush()


# --- the tus client ------------------------------------------------------------------------


TusError: Any = TusCommunicationError  # tuspy's exception (its constructor is untyped)


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


def _client(settings: Settings) -> TusClient:
    return TusClient(settings.endpoint, headers={"Authorization": f"Bearer {settings.token}"})


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
            _send(tus, size, progress)
    except TusCommunicationError as exc:
        url = str(entry["url"]) if entry else settings.endpoint
        raise _server_error(exc, url, progress.offset, size) from exc
    entry = dict(entry, done=True)
    state.put(digest, entry)
    return Uploaded(str(entry["uid"]), already=False, sent=progress.offset - progress.start)


def _check_file(path: Path) -> int:
    if not path.is_file():
        raise UploadError(f"no such file: {path}", USAGE)
    size = path.stat().st_size
    if size == 0:
        raise UploadError(f"{path} is empty: nothing to upload", USAGE)
    return size


def _create(
    settings: Settings, stream: IO[bytes], name: str, size: int, path: Path
) -> tuple[StreamUploader, dict[str, Any]]:
    """tus Creation: a new upload URL and the Stream uid, recorded before any byte is sent."""
    tus = _uploader(settings, stream, name)
    url = tus.create_url()
    if not tus.media_id:
        raise UploadError(
            f"the server created the upload but sent no stream-media-id header ({url})"
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


def _send(tus: StreamUploader, size: int, progress: Progress) -> None:
    """PATCH chunk after chunk until the server holds the whole file."""
    progress.update(tus.offset)
    while tus.offset < size:
        tus.upload_chunk()  # type: ignore[no-untyped-call]
        progress.update(tus.offset)
    progress.finish()


# --- errors for people ---------------------------------------------------------------------


def _server_error(exc: TusCommunicationError, url: str, done: int, size: int) -> UploadError:
    """Say what the server or the network did, in one line."""
    if exc.status_code is None:
        reason = _network_reason(str(exc))
        where = urlsplit(url).netloc or "the server"
        return UploadError(
            f"{reason} ({where}) with {human_bytes(done)} of {human_bytes(size)} uploaded; "
            "the upload can be resumed by running the same command again"
        )
    return UploadError(http_error(int(exc.status_code), exc.response_content))


def _network_reason(text: str) -> str:
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


def http_error(status: int, body: bytes | str | None) -> str:
    """`the server answered 401 Unauthorized: Authentication error (code 10000)`."""
    try:
        phrase = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        phrase = str(status)
    detail = _cloudflare_errors(body)
    message = f"the server answered {phrase}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        message += f" (check {TOKEN_VAR} and {ACCOUNT_VAR})"
    return message


def _cloudflare_errors(body: bytes | str | None) -> str:
    """Cloudflare's `{"errors": [{"code", "message"}]}` as text, or a short plain body."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        plain = " ".join(text.split())
        return plain[:200] if plain and "<" not in plain else ""
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors:
        if isinstance(error, dict) and error.get("message"):
            code = f" (code {error['code']})" if "code" in error else ""
            parts.append(f"{error['message']}{code}")
    return "; ".join(parts)


# --- lessons -------------------------------------------------------------------------------


@dataclass
class Lesson:
    """A lesson's front matter, as far as the upload needs it."""

    path: Path
    title: str
    module_id: str
    video: str | None
    duration: float | None

    @property
    def video_path(self) -> Path:
        """The local video, relative to the module directory."""
        assert self.video is not None
        return self.path.parent / self.video

    @property
    def on_stream(self) -> bool:
        """Whether the video is already `stream:<uid>`."""
        return bool(self.video and self.video.startswith(STREAM_PREFIX))


def _front_matter(lines: list[str], path: Path) -> tuple[int, dict[str, Any]]:
    """The index of the closing fence and the parsed front matter."""
    if not lines or lines[0].strip() != "---":
        raise UploadError(f"{path}: no front matter (the file must start with '---')", USAGE)
    for index in range(1, len(lines)):
        if FENCE.match(lines[index]):
            try:
                data = yaml.safe_load("".join(lines[1:index])) or {}
            except yaml.YAMLError as exc:
                raise UploadError(f"{path}: invalid front matter: {exc}", USAGE) from exc
            if not isinstance(data, dict):
                raise UploadError(f"{path}: the front matter must be a mapping", USAGE)
            return index, data
    raise UploadError(f"{path}: the front matter has no closing '---'", USAGE)


def read_lesson(path: Path) -> Lesson:
    """Read a lesson and its module's id (from the module.yaml beside it)."""
    if not path.is_file():
        raise UploadError(f"no such lesson: {path}", USAGE)
    _, data = _front_matter(path.read_text(encoding="utf-8").splitlines(keepends=True), path)
    module_yaml = path.parent / "module.yaml"
    try:
        module = yaml.safe_load(module_yaml.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        message = f"{path}: cannot read its module's {module_yaml.name}: {exc}"
        raise UploadError(message, USAGE) from exc
    video, duration = data.get("video"), data.get("duration")
    seconds = None
    if isinstance(duration, int | float) and not isinstance(duration, bool) and duration > 0:
        seconds = float(duration)
    return Lesson(
        path=path,
        title=str(data.get("title") or path.stem),
        module_id=str(module.get("id") or path.parent.name) if isinstance(module, dict) else "",
        video=str(video) if video else None,
        duration=seconds,
    )


def format_seconds(seconds: float) -> str:
    """9 -> "9", 9.04 -> "9.04": a duration for the front matter."""
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


def rewrite_front_matter(text: str, uid: str, duration: str | None) -> str:
    """Set `video: stream:<uid>` (and `duration:` if given); every other byte stays."""
    lines = text.splitlines(keepends=True)
    close, _ = _front_matter(lines, Path("lesson"))
    video_at = next((i for i in range(1, close) if VIDEO_LINE.match(lines[i])), None)
    if video_at is None:
        raise UploadError("the front matter has no 'video:' line to rewrite", USAGE)
    match = VIDEO_LINE.match(lines[video_at])
    assert match is not None
    eol = match["eol"] or "\n"
    lines[video_at] = f"video: {STREAM_PREFIX}{uid}{match['comment'] or ''}{eol}"
    if duration is not None:
        new = f"duration: {duration}{eol}"
        duration_at = next((i for i in range(1, close) if DURATION_LINE.match(lines[i])), None)
        if duration_at is None:
            lines.insert(video_at + 1, new)
        else:
            lines[duration_at] = new
    return "".join(lines)


def probe_duration(video: Path) -> float:
    """The video's length in seconds, measured by ffprobe."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise UploadError(
            f"cannot tell the duration of {video}: the lesson has no 'duration:' and ffprobe "
            "is not installed (add 'duration: <seconds>' or install ffmpeg)",
            USAGE,
        )
    command = [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
    result = subprocess.run(
        [*command, str(video)], capture_output=True, text=True, check=False, timeout=120
    )
    try:
        seconds = float(result.stdout.strip())
    except ValueError:
        seconds = 0.0
    if result.returncode != 0 or seconds <= 0:
        raise UploadError(
            f"ffprobe cannot read the duration of {video}: add 'duration: <seconds>' to the lesson",
            USAGE,
        )
    return seconds


@dataclass(frozen=True)
class LessonPlan:
    """One lesson to upload: its video, the Stream name and the duration to write (if any)."""

    lesson: Lesson
    name: str
    new_duration: str | None


def plan_lesson(path: Path, name: str | None = None) -> LessonPlan | None:
    """Check a lesson before uploading anything; None if its video is already on Stream."""
    lesson = read_lesson(path)
    if lesson.video is None:
        raise UploadError(f"{path}: the lesson has no 'video:' to upload", USAGE)
    if lesson.on_stream:
        return None
    if not lesson.video_path.is_file():
        raise UploadError(f"{path}: no such video file: {lesson.video_path}", USAGE)
    new_duration = None
    if lesson.duration is None:
        new_duration = format_seconds(probe_duration(lesson.video_path))
    return LessonPlan(lesson, name or f"{lesson.module_id} - {lesson.title}", new_duration)


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


def course_lessons(content: Path) -> Iterator[Path]:
    """Every lesson file of the course, in the learner's order."""
    course_yaml = content / "course.yaml"
    if not course_yaml.is_file():
        raise UploadError(f"no course.yaml in {content}", USAGE)
    course = yaml.safe_load(course_yaml.read_text(encoding="utf-8")) or {}
    for module_dir in course.get("modules") or []:
        module_yaml = content / "modules" / str(module_dir) / "module.yaml"
        if not module_yaml.is_file():
            raise UploadError(f"no such module: {module_yaml}", USAGE)
        module = yaml.safe_load(module_yaml.read_text(encoding="utf-8")) or {}
        for step in module.get("steps") or []:
            if str(step).endswith(".md"):
                yield module_yaml.parent / str(step)


def plan_all(content: Path) -> tuple[list[LessonPlan], int]:
    """Plans for every lesson with a local video, and how many are already on Stream."""
    plans, on_stream = [], 0
    for path in course_lessons(content):
        if read_lesson(path).video is None:
            continue
        plan = plan_lesson(path)
        if plan is None:
            on_stream += 1
        else:
            plans.append(plan)
    return plans, on_stream


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
    return cli


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Carry out a parsed command line."""
    if args.name is not None and args.all:
        raise UploadError("--name applies to one upload, not to --all", USAGE)
    chunk = chunk_bytes(args.chunk_size)
    plans: list[LessonPlan | None] = []
    on_stream = 0
    if args.file is not None:
        _check_file(args.file)
    elif args.lesson is not None:
        plans = [plan_lesson(args.lesson, args.name)]
    else:
        found, on_stream = plan_all(args.content)
        plans = list(found)
    settings = load_settings(os.environ, Path.cwd() / ".env", chunk, args.state)
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
    except UploadError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write(
            "\nerror: interrupted; the upload can be resumed by running the same command again\n"
        )
        return 130
