"""Master an item's workshop headlessly, with the project's validators (mayapy only).

Opens the workshop (the latest, or ``--workshop N``) in ``maya.standalone``, then does
what the menu's *Master* does through the Maya host: saves the scene as the next
workshop and masters it, the old master kept in ``version/``. A master the validators
block exits 2 with the first problem; ``--repair`` runs their repairs, ``--force``
masters anyway (recorded in the history).

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
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


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
                              force=args.force, repair=args.repair)
        step(1.0, "done")
    finally:
        maya.standalone.uninitialize()  # type: ignore[no-untyped-call]  # untyped in the stubs
    forced = " (forced past validator problems)" if record.data.forced else ""
    print(f"Mastered workshop {record.version} of {item.ref} -> {record.data.path}{forced}.", flush=True)


if __name__ == "__main__":
    sys.exit(batch.run_script(NAME, main))
