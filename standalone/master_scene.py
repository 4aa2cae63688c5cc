"""Master an item's workshop headlessly, with the project's validators (mayapy only).

Opens the workshop (the latest, or ``--workshop N``) in ``maya.standalone``, then does
what the menu's *Master* does through the Maya host: the project's ``master_options``
(checks for unsaved changes, missing textures, unknown nodes; repairs: import all
references, delete display layers, a custom command, switched on for this run by
``--import-references``, ``--delete-display-layers``, ``--command``), the project's
validators, then the master, the old master kept in ``version/``. A refusing check or
blocking validator exits 2 with the first problem; ``--repair`` runs the validators'
repairs, ``--force`` masters past validator problems (recorded in the history).

    mayapy standalone/master_scene.py asset/prop/chair --project /mnt/film --note "farm master"

Under plain python it says that mastering needs mayapy and exits 2.
Exit codes: 0 done, 2 bad input or a blocked master (one sentence on stderr), 1 failure.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import openpipeline  # noqa: F401  # on PYTHONPATH inside Maya (module.mod) or when installed
except ImportError:  # run by path from a checkout: the package is the folder above
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpipeline import batch
from openpipeline.batch import ScriptError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

NAME = "master_scene"
NEEDS_MAYAPY = ("Mastering a scene needs Maya: run this script with mayapy "
                "('mayapy standalone/master_scene.py ITEM --note TEXT').")


def build_parser() -> batch.ScriptParser:
    parser = batch.ScriptParser(
        prog="master_scene.py",
        description="Master an item's workshop headlessly under mayapy, with the project's validators.",
        epilog="Exit codes: 0 done, 2 bad input or a blocked master, 1 failure.",
    )
    parser.add_argument("item", help="the item's address: asset/TYPE/ASSET[/COMPONENT], shot/SEQ/SHOT[/...]")
    parser.add_argument("--note", required=True, help="what this master holds (recorded in the history)")
    parser.add_argument("--workshop", type=int, help="the workshop to master (default: the latest)")
    parser.add_argument("--project", help="project folder or registered name (or $OPENPIPELINE_PROJECT)")
    parser.add_argument("--user", help="author name to record (default: $OPENPIPELINE_USER or login)")
    parser.add_argument("--repair", action="store_true", help="run the validators' repairs")
    parser.add_argument("--force", action="store_true", help="master even if validators find problems")
    parser.add_argument("--import-references", action="store_true",
                        help="import every reference into the master (besides the project's options)")
    parser.add_argument("--delete-display-layers", action="store_true",
                        help="delete the display layers of the master (besides the project's options)")
    parser.add_argument("--command", help="Python code run on the master scene before it is saved")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def _options(args: argparse.Namespace, item: Any) -> Any:
    """The project's master options, with this run's repairs switched on."""
    from dataclasses import replace

    options = item.project.config.master_options
    if args.import_references:
        options = replace(options, import_references=True)
    if args.delete_display_layers:
        options = replace(options, delete_display_layers=True)
    if args.command:
        options = replace(options, command=args.command, command_language="python")
    return options


def _has_maya() -> bool:
    try:
        import maya.standalone  # noqa: F401
    except ImportError:
        return False
    return True


def _item(args: argparse.Namespace) -> Any:
    from openpipeline.core.selection import select_project

    if not args.note.strip():
        raise ScriptError("The note is empty; say in --note what this master holds.")
    project = select_project(args.project, how="pass --project DIR, set OPENPIPELINE_PROJECT")
    item = project.item(args.item).require_files()
    workshop = item.workshop(args.workshop)
    if not workshop.path.is_file():
        raise ScriptError(f"Workshop {workshop.number} of '{item.ref}' is recorded but its file is "
                          "missing; master another with --workshop N.")
    return item, workshop.path


def main(argv: Sequence[str]) -> None:
    args = build_parser().parse_args(argv)
    if not _has_maya():
        raise ScriptError(NEEDS_MAYAPY)
    item, workshop = _item(args)

    import maya.standalone

    from openpipeline.host.actions import master_scene
    from openpipeline.host.maya import MayaHost

    progress = None if args.quiet else batch.percent_lines()

    def step(fraction: float, message: str) -> None:
        batch.report(progress, "master", fraction, message)

    step(0.0, "starting maya")
    maya.standalone.initialize(name="python")  # type: ignore[no-untyped-call]  # untyped in the stubs
    try:
        host = MayaHost()
        step(0.2, f"opening {workshop.name}")
        host.open(workshop)
        step(0.5, f"mastering {item.ref}")
        record = master_scene(item, host, args.note, then="workshop", author=args.user,
                              force=args.force, repair=args.repair, options=_options(args, item))
        step(1.0, "done")
    finally:
        maya.standalone.uninitialize()  # type: ignore[no-untyped-call]  # untyped in the stubs
    forced = " (forced past validator problems)" if record.data.forced else ""
    data = record.data
    print(f"Mastered workshop {data.workshop} of {item.ref} -> {data.path}{forced}.", flush=True)


if __name__ == "__main__":
    sys.exit(batch.run_script(NAME, main))
