"""The ``openpipeline`` command.

Exit codes: 0 on success, 2 on a user error (one sentence on stderr, nothing
changed on disk), 1 on an internal error, 130 when cancelled (Ctrl-C or SIGTERM).
Every command takes ``--json`` for scripts. ``--project DIR|NAME`` (before the sub-command) or the
``OPENPIPELINE_PROJECT`` environment variable selects the project; otherwise the
registry's active project is used.

One module per area registers its own sub-commands beside their handlers
(:mod:`.projects`, :mod:`.items`, :mod:`.versions`, :mod:`.lifecycle`,
:mod:`.scatter`, :mod:`.texture`, :mod:`.cache`, :mod:`.maya`, :mod:`.farm`,
:mod:`.browse`); a new area adds a module and a line to ``AREAS``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from openpipeline import __version__
from openpipeline.cli import browse, cache, farm, items, lifecycle, maya, projects, scatter, texture, versions
from openpipeline.cli.common import PROJECT_ENV, CliError, Commands, error_json
from openpipeline.core.errors import OpenPipelineError, UserError
from openpipeline.engine.allocator import keep_freed_memory
from openpipeline.engine.errors import Cancelled, EngineInputError

DEBUG_ENV = "OPENPIPELINE_DEBUG"
AREAS = (projects, items, versions, lifecycle, scatter, texture, cache, maya, farm, browse)


def cmd_demo(args: argparse.Namespace) -> None:
    from openpipeline import demo

    demo.run(Path(args.dir), as_json=args.json)


class _Parser(argparse.ArgumentParser):
    """argparse, with a malformed command line reported like every other user error.

    The usage text is left out: one sentence names the problem and the ``--help``
    to read, and ``--json`` gets its error object (see :func:`main`).
    """

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message[:1].upper()}{message[1:]}; see '{self.prog} --help'.")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print machine-readable JSON")
    common.add_argument("--user", default=argparse.SUPPRESS,
                        help="author name to record (default: $OPENPIPELINE_USER or login)")

    parser = _Parser(
        prog="openpipeline",
        description="Asset and shot pipeline: workshops, masters, check-out, history.",
    )
    parser.add_argument("--version", action="version", version=f"openpipeline {__version__}")
    parser.add_argument("--project", help=f"project folder or registered name (or ${PROJECT_ENV})")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--user", help="author name to record")
    cli = Commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True), common)
    for area in AREAS:
        area.register(cli)
    p = cli.command("demo", cmd_demo, "build a sample project and print its tree")
    p.add_argument("dir", nargs="?", default="demo_output")
    return parser


def _fail(message: str, code: int, as_json: bool, problems: object = None) -> int:
    """Say why the command failed: one sentence on stderr and, under ``--json``, on stdout too.

    The JSON object holds the sentence and ``problems`` (a blocked master's validator
    report; empty for every other error). Returns ``code``, the exit code.
    """
    print(f"openpipeline: {message}", file=sys.stderr)
    if as_json:
        print(error_json(message, problems if isinstance(problems, list) else []))
    return code


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (what farm managers and ``kill`` send) raises
    KeyboardInterrupt like Ctrl-C, so half-written files are cleaned up on the way out
    (:func:`openpipeline.atomic.publish`) and the command exits 130 with one sentence.

    Only the main thread can take signals; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    parser = build_parser()
    as_json = "--json" in (sys.argv[1:] if argv is None else argv)  # before parsing succeeds
    try:
        args = parser.parse_args(argv)  # a type converter may refuse a value with a UserError
        as_json = bool(args.json)
        keep_freed_memory()  # a process of our own (see openpipeline.engine.allocator)
        with sigterm_as_interrupt():
            args.func(args)
    except (UserError, EngineInputError) as exc:
        return _fail(f"{exc}", 2, as_json, getattr(exc, "report", None))
    except Cancelled as exc:
        return _fail(f"{exc}", 130, as_json)
    except KeyboardInterrupt:
        return _fail("interrupted.", 130, as_json)
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        kind = "error" if isinstance(exc, OpenPipelineError) else f"internal error ({type(exc).__name__})"
        return _fail(f"{kind}: {exc} (set {DEBUG_ENV}=1 for details).", 1, as_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
