"""The ``openpipeline`` command.

Exit codes: 0 on success, 2 on a user error (one sentence on stderr, nothing
changed on disk), 1 on an internal error, 130 when cancelled (Ctrl-C or SIGTERM).
Every command takes ``--json`` for scripts. ``--project DIR|NAME`` (before the sub-command) or the
``OPENPIPELINE_PROJECT`` environment variable selects the project; otherwise the
registry's active project is used.

One module per area registers its own sub-commands beside their handlers
(:mod:`.projects`, :mod:`.items`, :mod:`.versions`, :mod:`.lifecycle`,
:mod:`.scatter`, :mod:`.texture`); a new area adds a module and a line to ``AREAS``.
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

from openpipeline import __version__
from openpipeline.cli import items, lifecycle, projects, scatter, texture, versions
from openpipeline.cli.common import PROJECT_ENV, Commands
from openpipeline.core.errors import OpenPipelineError, UserError
from openpipeline.engine.errors import Cancelled, EngineInputError

DEBUG_ENV = "OPENPIPELINE_DEBUG"
AREAS = (projects, items, versions, lifecycle, scatter, texture)


def cmd_demo(args: argparse.Namespace) -> None:
    from openpipeline import demo

    demo.run(Path(args.dir), as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print machine-readable JSON")
    common.add_argument("--user", default=argparse.SUPPRESS,
                        help="author name to record (default: $OPENPIPELINE_USER or login)")

    parser = argparse.ArgumentParser(
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
    try:
        args = parser.parse_args(argv)  # a type converter may refuse a value with a UserError
        with sigterm_as_interrupt():
            args.func(args)
    except (UserError, EngineInputError) as exc:
        print(f"openpipeline: {exc}", file=sys.stderr)
        return 2
    except Cancelled as exc:
        print(f"openpipeline: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("openpipeline: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        kind = "error" if isinstance(exc, OpenPipelineError) else f"internal error ({type(exc).__name__})"
        print(f"openpipeline: {kind}: {exc} (set {DEBUG_ENV}=1 for details).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
