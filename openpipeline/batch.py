"""What the farm scripts of ``standalone/`` share: arguments, exit codes, progress, the cache.

The scripts are the third front door to the engines (beside the DG nodes and the
``openpipeline`` command) and follow the command's contract: ``--help``; exit 0 on
success, 2 on bad input (one sentence on stderr, nothing written), 1 on a failure;
progress as one percentage per line, flushed, for farm logs (``  42% denoise tile 3/8``).

This module lives in the package, not beside the scripts, because the scripts are run
by path (``mayapy standalone/scatter_points.py``) and everything importable belongs
under ``openpipeline``. It is not a CLI area (``openpipeline.cli`` imports every area
at start); it imports the engine and the core only inside functions, so a script's
``--help`` starts fast and never needs torch.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

if TYPE_CHECKING:
    from openpipeline.engine.cache import ResultCache
    from openpipeline.engine.progress import Progress, ProgressCallback

DEBUG_ENV = "OPENPIPELINE_DEBUG"

__all__ = ["DEBUG_ENV", "ScriptError", "ScriptParser", "add_cache_options", "cache_folder",
           "open_cache", "percent_lines", "project_cache", "report", "run_script", "scaled"]


class ScriptError(Exception):
    """Bad input found by a script itself (exit 2); its message is one sentence."""


class ScriptParser(argparse.ArgumentParser):
    """argparse, with a malformed command line reported in one sentence (exit 2)."""

    def error(self, message: str) -> NoReturn:
        raise ScriptError(f"{message[:1].upper()}{message[1:]}; see '{self.prog} --help'.")


def add_cache_options(parser: argparse.ArgumentParser) -> None:
    """``--cache DIR`` and ``--no-cache``: where results are shared, or not at all."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--cache", metavar="DIR",
                       help="result cache folder (default: $OPENPIPELINE_CACHE, else the project's "
                            ".openpipeline/cache, else the user's cache); point every farm machine at one "
                            "shared folder")
    group.add_argument("--no-cache", action="store_true",
                       help="compute everything again and keep no result")


def project_cache(args: argparse.Namespace) -> Path | None:
    """The selected project's cache folder (``--project``, ``$OPENPIPELINE_PROJECT`` or the
    active project), or None when no project is selected (see
    :func:`~openpipeline.core.selection.selected_project_cache`)."""
    from openpipeline.core.selection import selected_project_cache

    return selected_project_cache(getattr(args, "project", None))


def cache_folder(args: argparse.Namespace) -> Path | None:
    """Where results are shared: ``--cache DIR``, else ``$OPENPIPELINE_CACHE``, else the selected
    project's cache, else the user's cache folder; None for ``--no-cache``. Nothing is created."""
    if args.no_cache:
        return None
    from openpipeline.engine.cache import cache_root

    root = Path(args.cache) if args.cache else cache_root(project_cache(args))
    if root.exists() and not root.is_dir():
        raise ScriptError(f"The cache '{root}' is a file, not a folder; give a folder to --cache.")
    return root


def open_cache(args: argparse.Namespace) -> ResultCache | None:
    """The result cache the options name (None for ``--no-cache``; see :func:`cache_folder`).

    Call it after the input is checked: the cache folder is created on first use, and
    a refused command writes nothing.
    """
    root = cache_folder(args)
    if root is None:
        return None
    from openpipeline.engine.cache import ResultCache

    return ResultCache(root)


def percent_lines(out: TextIO | None = None, prefix: str = "") -> ProgressCallback:
    """A progress callback printing ``  42% <prefix><stage> <message>`` lines, flushed.

    A line is printed when the whole percentage or the stage changes, so a farm log
    gets at most about a hundred lines per stage, never a line per iteration.
    """
    last: list[tuple[int, str]] = []

    def show(progress: Progress) -> None:
        percent = int(progress.fraction * 100)
        mark = (percent, progress.stage)
        if last and last[0] == mark:
            return
        last[:] = [mark]
        text = " ".join(part for part in (f"{prefix}{progress.stage}", progress.message) if part)
        stream = out if out is not None else sys.stdout
        stream.write(f"{percent:4d}% {text}\n")
        stream.flush()

    return show


def scaled(progress: ProgressCallback | None, start: float, span: float,
           label: str) -> ProgressCallback | None:
    """A callback mapping one job's 0..1 onto ``start .. start + span`` of the whole run,
    with ``label`` (the file or node at work) before its message."""
    if progress is None:
        return None
    from openpipeline.engine.progress import Progress

    def inner(step: Progress) -> object:
        message = f"{label} {step.message}".strip()
        return progress(Progress(step.stage, start + span * step.fraction, message, step.elapsed,
                                 step.eta, step.values))

    return inner


def report(progress: ProgressCallback | None, stage: str, fraction: float, message: str = "") -> None:
    """One progress update from a script's own steps (a result taken from the cache, a scene opened)."""
    if progress is not None:
        from openpipeline.engine.progress import Progress

        progress(Progress(stage, fraction, message))


def _input_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean bad input (exit 2)."""
    from openpipeline.core.errors import UserError
    from openpipeline.engine.errors import EngineInputError

    return (ScriptError, UserError, EngineInputError)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_script(name: str, main: Callable[[Sequence[str]], None], argv: Sequence[str] | None = None) -> int:
    """Run a script's ``main``; returns the exit code (0, 2 bad input, 1 failure, 130 interrupted).

    Every error is one line on stderr, ``<name>: <sentence>``; set ``$OPENPIPELINE_DEBUG=1``
    for the traceback of a failure. SIGTERM (what a farm manager sends to stop a task) is
    taken like Ctrl-C, so half-written results are removed on the way out.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        main(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print(f"{name}: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:
        from openpipeline.engine.errors import Cancelled

        if isinstance(exc, _input_errors()):
            print(f"{name}: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, Cancelled):
            print(f"{name}: {exc}", file=sys.stderr)
            return 130
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        print(f"{name}: failed ({type(exc).__name__}): {exc} (set {DEBUG_ENV}=1 for details).",
              file=sys.stderr)
        return 1
    return 0
