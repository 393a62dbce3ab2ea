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

from builder.config import BuildConfig
from builder.errors import BuildError, ConfigError, Problem

COMMANDS = ("build", "check", "serve", "fields")


def parser() -> argparse.ArgumentParser:
    """Describe the command line (kept stable: tools and operators rely on it)."""
    main = argparse.ArgumentParser(
        prog="build.py", description="Build, check or serve a Sillon course."
    )
    sub = main.add_subparsers(dest="command", metavar="{build,check,serve,fields}")
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
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    sub.add_parser(
        "fields", help="print the content reference tables (Markdown) from the declarations"
    )
    return main


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
        if args.command == "serve":
            return _serve(args)
        return _build(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BuildError as exc:
        _report(exc.problems)
        return 1


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


def _serve(args: argparse.Namespace) -> int:
    from builder.serve import serve

    return serve(_config(args, dev=True), host=args.host, port=args.port)


def _report(problems: list[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if problems:
        print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
