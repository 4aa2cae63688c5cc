"""``openpipeline workshop ...`` and ``openpipeline master``: save and publish versions."""

from __future__ import annotations

import argparse
from pathlib import Path

from openpipeline.cli.common import Commands, emit, item_from, note_text, short_time
from openpipeline.core import versions


def register(cli: Commands) -> None:
    """Add the ``workshop`` and ``master`` commands."""
    workshop = cli.group("workshop", "save and list workshop versions")
    p = cli.leaf(workshop, "save", cmd_workshop_save, "save FILE as the item's next workshop")
    p.add_argument("item")
    p.add_argument("file")
    p.add_argument("--note", required=True, type=note_text, help="what changed")
    p.add_argument("--ignore-lock", action="store_true",
                   help="save even if somebody else has the item checked out")
    p = cli.leaf(workshop, "list", cmd_workshop_list, "list an item's workshops")
    p.add_argument("item")

    p = cli.command("master", cmd_master, "promote a workshop to the item's master")
    p.add_argument("item")
    p.add_argument("--workshop", type=int, help="workshop number (default: the latest)")
    p.add_argument("--note", required=True, type=note_text, help="what this master is")
    p.add_argument("--force", action="store_true", help="master despite validator problems")
    p.add_argument("--repair", action="store_true", help="run validators' repairs first")
    p.add_argument("--ignore-lock", action="store_true")


def cmd_workshop_save(args: argparse.Namespace) -> None:
    item = item_from(args)
    source = Path(args.file) if args.file else None  # Path("") would be the current folder
    record = versions.save_workshop(item, source, note=args.note, author=args.user,
                                    ignore_lock=args.ignore_lock)
    emit(args, record.to_dict(), f"Saved workshop {record.version} of '{item.ref}': {record.data.path}")


def cmd_workshop_list(args: argparse.Namespace) -> None:
    item = item_from(args).require_files()
    state = item.state()
    rows = [e.to_dict(item.project) for _, e in sorted(state.workshops.items())]
    emit(args, rows, lambda: "\n".join(
        f"{r['number']:>4}  {r['state']:<8} {r['author']:<10} {short_time(r['time'])}  {r['path']}"
        for r in rows) or "No workshops yet.")


def cmd_master(args: argparse.Namespace) -> None:
    item = item_from(args)
    record = versions.master(item, args.workshop, note=args.note, author=args.user,
                             force=args.force, repair=args.repair, ignore_lock=args.ignore_lock)
    data = record.data
    kept = (f"; previous master kept as version {data.preserved_version}"
            if data.preserved_version is not None else "")
    forced = f" (forced past {len(data.problems)} problem(s))" if data.forced else ""
    emit(args, record.to_dict(), f"Mastered workshop {data.workshop} of '{item.ref}' to "
                                 f"{data.path}{kept}{forced}.")
