#!/usr/bin/env python3
"""Sillon's command line: build, check or serve a course.

python build.py [build] [--content DIR] [--out DIR]
python build.py check [--content DIR] [--strict]
python build.py serve [--content DIR] [--host H] [--port P]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from builder.config import BuildConfig
from builder.errors import BuildError, ConfigError, Problem
from ops.errors import CommandError

COMMANDS = (
    "build",
    "check",
    "serve",
    "fields",
    "publish",
    "learners",
    "worker",
    "stream-key",
    "issuer-key",
    "certificates",
    "prune",
    "upload",
    "cohorts",
)


def parser() -> argparse.ArgumentParser:
    """Describe the command line (kept stable: tools and operators rely on it)."""
    main = argparse.ArgumentParser(
        prog="build.py", description="Build, check or serve a Sillon course."
    )
    sub = main.add_subparsers(
        dest="command",
        metavar="{build,check,serve,publish,learners,certificates,prune,upload,worker,"
        "stream-key,issuer-key,cohorts,fields}",
    )
    build = sub.add_parser("build", help="render content/ into site/ (the default command)")
    _common(build)
    build.add_argument("--out", default="site", help="output directory (default: site)")
    build.add_argument(
        "--private",
        default=None,
        help="where the API's course manifest goes (default: <out>-private)",
    )
    check = sub.add_parser("check", help="validate the content without writing anything")
    _common(check)
    serve = sub.add_parser(
        "serve", help="build, serve at http://HOST:PORT and rebuild on every change"
    )
    _common(serve)
    serve.add_argument("--out", default="site", help="output directory (default: site)")
    _address(serve, "address to listen on")
    sub.add_parser(
        "fields", help="print the content reference tables (Markdown) from the declarations"
    )
    _admin_commands(sub)
    prune = sub.add_parser("prune", help="delete now what the retention policy lets go")
    _database_file(prune)
    several = sub.add_parser("cohorts", help="list the cohorts' databases (SILLON_COHORTS)")
    several.add_argument(
        "--cloudflare", action="store_true", help="print how to create and migrate their D1s"
    )
    keys = sub.add_parser(
        "stream-key", help="create a Cloudflare Stream signing key (signed playback)"
    )
    keys.add_argument(
        "--out", default=".sillon/stream-signing-key.json", help="where to save it (mode 600)"
    )
    _certificate_commands(sub)
    worker = sub.add_parser("worker", help="stage the Python Worker for `wrangler deploy`")
    worker.add_argument("--site", default="site", help="the built site to serve (default: site)")
    worker.add_argument(
        "--out", default=".sillon/worker", help="staging directory (default: .sillon/worker)"
    )
    return main


def _admin_commands(sub: Any) -> None:
    publish = sub.add_parser(
        "publish", help="build, then make it the current course in the database"
    )
    _common(publish)
    publish.add_argument("--out", default="site", help="output directory (default: site)")
    publish.add_argument(
        "--private", default=None, help="manifest directory (default: <out>-private)"
    )
    _database(publish)
    learners = sub.add_parser("learners", help="enroll, re-invite, list, export or reset learners")
    actions = learners.add_subparsers(
        dest="action", metavar="{add,import,invite,list,export,reset,nudge}"
    )
    actions.required = True
    add = actions.add_parser("add", help="enroll one learner and print their invite link")
    add.add_argument("--name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--team", required=True, help="team id (leaderboards are per team)")
    add.add_argument("--tz", default="", help="IANA time zone for streak days (default: SILLON_TZ)")
    bulk = actions.add_parser("import", help="enroll learners from a CSV (name,email,teamId[,tz])")
    bulk.add_argument("csv", help="CSV file with a header row")
    bulk.add_argument(
        "--invites", default=None, help="write the invite links here (default: stdout)"
    )
    invite = actions.add_parser(
        "invite", help="re-issue a learner's sign-in link (the old one stops working)"
    )
    invite.add_argument("email")
    invite.add_argument(
        "--revoke-sessions", action="store_true", help="also sign the learner out everywhere"
    )
    listing = actions.add_parser("list", help="print every learner's progress")
    export = actions.add_parser("export", help="write every learner's progress as CSV")
    export.add_argument("--to", default=None, help="CSV file (default: stdout)")
    again = actions.add_parser("reset", help="start a learner's course again (redoubler)")
    again.add_argument("user_id")
    remind = actions.add_parser(
        "nudge", help="email stalled learners a reminder with a fresh sign-in link (once a day)"
    )
    who = remind.add_mutually_exclusive_group(required=True)
    who.add_argument("--team", help="every stalled learner of this team")
    who.add_argument(
        "user_ids", nargs="*", default=[], help="these learners (each must be stalled)"
    )
    for action in (add, bulk, invite, listing, export, again, remind):
        _database(action)
    for action in (add, bulk, invite, remind):  # their links lead to serve, wherever it listens
        _address(action, "serve's address, for the links when no base URL is set")


def _database_file(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--db", default=None, help="SQLite file (default: $SILLON_DB or .sillon/sillon.sqlite3)"
    )


def _certificate_commands(sub: Any) -> None:
    """`issuer-key` (the signing key) and `certificates list|revoke` (ops/certificates.py)."""
    issuer = sub.add_parser(
        "issuer-key", help="create the RSA key that signs certificates (SILLON_ISSUER_KEY)"
    )
    issuer.add_argument(
        "--out", default=".sillon/issuer-key.pem", help="where to save it (mode 600)"
    )
    issuer.add_argument("--force", action="store_true", help="replace an existing key")
    issuer.add_argument(
        "--bits", type=int, choices=(2048, 3072, 4096), default=3072, help="key size (3072)"
    )
    certificates = sub.add_parser("certificates", help="list or revoke certificates")
    kinds = certificates.add_subparsers(dest="action", metavar="{list,revoke}")
    kinds.required = True
    issued = kinds.add_parser("list", help="print every certificate issued")
    revoke = kinds.add_parser("revoke", help="revoke a certificate, for good")
    revoke.add_argument("certificate_id")
    revoke.add_argument("--reason", default="", help="why (kept for the teacher's records)")
    for action in (issued, revoke):
        _database(action)


def _address(command: argparse.ArgumentParser, what: str) -> None:
    """--host and --port, with serve's defaults (serve listens there; links point there)."""
    from api.settings import DEFAULT_HOST, DEFAULT_PORT

    command.add_argument("--host", default=DEFAULT_HOST, help=f"{what} (default: {DEFAULT_HOST})")
    command.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})"
    )


def _database(command: argparse.ArgumentParser) -> None:
    _database_file(command)
    command.add_argument(
        "--cohort", default=None, help="the cohort's database (of SILLON_COHORTS; publish: all)"
    )
    command.add_argument(
        "--base-url",
        default=None,
        help="site address for invite links (default: $SILLON_BASE_URL, else http://HOST:PORT)",
    )


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--content", default="content", help="course directory (default: content)")
    command.add_argument("--strict", action="store_true", help="treat warnings as errors")
    command.add_argument(
        "--jobs", type=int, default=0, help="processes for Markdown (default: one per core)"
    )
    command.add_argument(
        "--no-cache",
        action="store_true",
        help="render all Markdown afresh (ignore the build cache)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["upload"]:  # Stream uploads have their own options (stream_upload.py)
        from ops import upload

        return upload.main(args_list[1:], prog="build.py upload")
    if not args_list or args_list[0] not in (*COMMANDS, "-h", "--help"):
        args_list.insert(0, "build")
    args = parser().parse_args(args_list)
    try:
        if args.command == "fields":
            from builder.reference import markdown_tables

            print(markdown_tables())
            return 0
        if args.command == "check":
            return _check(args)
        if args.command in ("publish", "learners", "certificates"):
            return _admin(args)
        if args.command == "worker":
            return _worker(args)
        if args.command == "stream-key":
            return _stream_key(args)
        if args.command == "issuer-key":
            return _issuer_key(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "prune":
            return _prune(args)
        if args.command == "cohorts":
            return _cohorts(args)
        return _build(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BuildError as exc:
        _report(exc.problems)
        return 1
    except CommandError as exc:  # an operator command (ops/) refused or failed
        print(f"error: {exc}", file=sys.stderr)
        return exc.code


def _config(args: argparse.Namespace, **extra: object) -> BuildConfig:
    return BuildConfig.make(
        content=args.content,
        out=getattr(args, "out", "site"),
        private=getattr(args, "private", None),
        strict=args.strict,
        jobs=args.jobs,
        disk_cache=not args.no_cache,
        **extra,
    )


def _check(args: argparse.Namespace) -> int:
    from builder.pipeline import check

    problems = check(_config(args))
    _report(problems.sorted())
    if problems.fatal(args.strict):
        return 1
    print(f"{args.content}: OK", file=sys.stderr)
    return 0


def _build(args: argparse.Namespace) -> int:
    from builder.pipeline import build

    result = build(_config(args), progress=lambda line: print(line, file=sys.stderr))
    _report(result.warnings)
    print(
        f"Built {result.pages} files into {args.out}/ in {result.seconds:.2f} s "
        f"(course version {result.version[:12]})",
        file=sys.stderr,
    )
    return 0


def _admin(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from api.csvfile import csv_text
    from api.settings import CLI, Settings
    from ops import cohorts
    from ops import learners as admin

    try:
        settings = Settings.from_env(os.environ, CLI, db_path=args.db, base_url=args.base_url)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if hasattr(args, "port"):  # links to serve: the address it listens at, unless a base URL
        settings.base_url = settings.site_url(args.host, args.port)
    targets = cohorts.chosen(settings, args.cohort, every=args.command == "publish")
    settings, db = targets[0], targets[0].db_path
    if args.command == "publish":
        _build(args)
        config = _config(args)
        for one in targets:  # every cohort's database gets the course
            version = admin.publish(one, config.private / "manifest.json")
            print(f"Published course version {version[:12]} to {one.db_path}", file=sys.stderr)
    elif args.command == "certificates":
        return _certificates(args, settings)
    elif args.action == "add":
        row = {"name": args.name, "email": args.email, "teamId": args.team, "tz": args.tz}
        print(admin.enroll(settings, [row])[0]["inviteUrl"])
    elif args.action == "import":
        invites = admin.enroll(settings, admin.read_csv(Path(args.csv)))
        _output(csv_text(invites, bom=False), args.invites)
        print(f"Enrolled {len(invites)} learner(s) in {db}", file=sys.stderr)
    elif args.action == "invite":
        url, ended = admin.reinvite(settings, args.email, args.revoke_sessions)
        print(url)
        print(f"Old links revoked; {ended} session(s) ended", file=sys.stderr)
    elif args.action == "list":
        print(admin.table(admin.progress_rows(settings)))
    elif args.action == "nudge":
        results = admin.nudge(settings, args.user_ids, args.team)
        for result in results:
            name, reason = result.get("name", result["userId"]), result.get("reason", "")
            print(f"{result['status']:8} {name}  {reason}")
        print(f"{sum(r['status'] == 'sent' for r in results)} reminder(s) sent", file=sys.stderr)
    elif args.action == "export":
        _output(csv_text(admin.progress_rows(settings), bom=False), args.to)
    else:
        print(f"{args.user_id} starts again at {admin.reset(settings, args.user_id)}")
    return 0


def _stream_key(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ops import stream_keys

    key_id = stream_keys.create(Path(args.out))
    print(stream_keys.instructions(key_id, Path(args.out)))
    return 0


def _issuer_key(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ops import certificates

    key = certificates.create_key(Path(args.out), args.force, args.bits)
    print(certificates.instructions(key, Path(args.out)))
    return 0


def _certificates(args: argparse.Namespace, settings: Any) -> int:
    from ops import certificates

    if args.action == "list":
        print(certificates.table(certificates.listed(settings)))
    else:
        done = certificates.revoke(settings, args.certificate_id, args.reason)
        print(f"Revoked {done['id']} ({done['name']}) on {done['revokedAt']}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ops.worker import stage

    config = stage(Path(args.out), Path(args.site))
    print(f"Staged the Worker: npx wrangler deploy -c {config}", file=sys.stderr)
    return 0


def _prune(args: argparse.Namespace) -> int:
    import os

    from api.settings import Settings
    from ops import retention

    try:  # serve's settings: the policy serve applies (with or without an LRS)
        settings = Settings.from_env(os.environ, db_path=args.db)
    except ValueError as exc:
        raise CommandError(str(exc)) from None

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    found = [retention.prune(one, say) for one in settings.per_cohort()]
    total = found[0]
    for more in found[1:]:  # every cohort's database (SILLON_COHORTS)
        total = total + more
    print(f"Removed {total}")
    return 0


def _cohorts(args: argparse.Namespace) -> int:
    import os

    from api.settings import Settings
    from ops import cohorts

    try:
        settings = Settings.from_env(os.environ)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(cohorts.cloudflare_steps(settings) if args.cloudflare else cohorts.listing(settings))
    return 0


def _output(text: str, path: str | None) -> None:
    if path is None:
        sys.stdout.write(text)
    else:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def _serve(args: argparse.Namespace) -> int:
    from serve.server import ListenError, serve

    try:
        return serve(_config(args, dev=True), host=args.host, port=args.port)
    except ValueError as exc:  # half-configured settings (Stream keys, Cloudflare Access)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ListenError as exc:  # a busy port: before anything is built or published
        raise CommandError(str(exc)) from None


def _report(problems: list[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if problems:
        print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
