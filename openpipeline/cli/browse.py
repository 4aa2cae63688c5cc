"""``openpipeline browse``: the browser window on its own (the Qt extra is needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

from openpipeline.cli.common import CliError, Commands, emit

TABS = ("current", "asset", "shot", "projects")


def register(cli: Commands) -> None:
    """Add the ``browse`` command."""
    p = cli.command("browse", cmd_browse, "open the browser window (Currently Open, Assets, Shots)")
    p.add_argument("--screenshot", type=Path, metavar="FILE",
                   help="write the window to FILE (.png) once the project is read, then exit")
    p.add_argument("--tab", choices=TABS, default="asset",
                   help="the tab shown first (projects: the Project Manager)")
    p.add_argument("--select", metavar="ITEM", help="select this item (e.g. asset/prop/chair)")
    p.add_argument("--open", metavar="ITEM", dest="open_item",
                   help="start with the item's latest workshop as the open scene")


def qt_problem() -> str | None:
    """Why the browser cannot start here (one sentence), or None when Qt imports."""
    try:
        import Qt  # noqa: F401  (Qt.py raises ImportError when it finds no binding)
    except ImportError:
        return ("The browser needs Qt, which is not installed; install it with "
                "pip install 'openpipeline[ui]'.")
    return None


def cmd_browse(args: argparse.Namespace) -> None:
    problem = qt_problem()
    if problem:
        raise CliError(problem)
    from openpipeline.ui.app import browse  # here: the CLI imports without Qt

    code = browse(args.project, args.screenshot, tab=args.tab, select=args.select,
                  open_item=args.open_item)
    if args.screenshot is not None:
        emit(args, {"screenshot": str(args.screenshot)}, f"Wrote {args.screenshot}.")
    if code:
        raise CliError(f"The browser closed with exit code {code}.")
