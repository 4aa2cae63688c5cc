"""``openpipeline asset|shot|component|item ...``: make, list, show and change items."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from openpipeline.cli.common import CliError, Commands, emit, item_from, project_from, short_time
from openpipeline.core import checkout, notes, removal, rename
from openpipeline.core.address import ItemRef
from openpipeline.core.items import Item


def register(cli: Commands) -> None:
    """Add the ``asset``, ``shot``, ``component`` and ``item`` commands."""
    asset = cli.group("asset", "asset types and assets")
    p = cli.leaf(asset, "create-type", cmd_asset_create_type, "create an asset type")
    p.add_argument("type")
    p = cli.leaf(asset, "create", cmd_asset_create, "create an asset (and its type if needed)")
    p.add_argument("type")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p = cli.leaf(asset, "list", cmd_asset_list, "list asset types, assets and components")
    p.add_argument("type", nargs="?")

    shot = cli.group("shot", "sequences and shots")
    p = cli.leaf(shot, "create-sequence", cmd_shot_create_sequence, "create a sequence")
    p.add_argument("sequence")
    p = cli.leaf(shot, "create", cmd_shot_create, "create a shot (and its sequence if needed)")
    p.add_argument("sequence")
    p.add_argument("shot")
    p.add_argument("--description", default="")
    p = cli.leaf(shot, "list", cmd_shot_list, "list sequences, shots and components")
    p.add_argument("sequence", nargs="?")

    component = cli.group("component", "components of assets and shots")
    p = cli.leaf(component, "create", cmd_component_create, "create a component of an asset or shot")
    p.add_argument("item")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p = cli.leaf(component, "list", cmd_component_list, "list an item's components")
    p.add_argument("item")

    item = cli.group("item", "list, show, history, rename, describe, preview items")
    p = cli.leaf(item, "list", cmd_item_list, "list items (all, or below ITEM)")
    p.add_argument("item", nargs="?")
    p.add_argument("--deleted", action="store_true", help="list deleted items instead")
    p = cli.leaf(item, "show", cmd_item_show, "show an item: master, workshops, versions, lock")
    p.add_argument("item")
    p = cli.leaf(item, "history", cmd_item_history, "show an item's event history")
    p.add_argument("item")
    p = cli.leaf(item, "rename", cmd_item_rename, "rename an item; files and history follow")
    p.add_argument("item")
    p.add_argument("new_name")
    p.add_argument("--note")
    p = cli.leaf(item, "describe", cmd_item_describe, "set an item's description")
    p.add_argument("item")
    p.add_argument("text")
    p = cli.leaf(item, "preview", cmd_item_preview, "store a preview image for an item or version")
    p.add_argument("item")
    p.add_argument("image")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--workshop", type=int)
    which.add_argument("--version", type=int)
    cli.leaf(item, "recover", cmd_item_recover, "finish operations interrupted by a crash")


# -- create and list ------------------------------------------------------------------
def _create(args: argparse.Namespace, ref: ItemRef) -> None:
    project = project_from(args)
    item = project.create_item(ref, description=getattr(args, "description", "") or "",
                               author=args.user)
    emit(args, {"item": ref.address, "kind": ref.kind, "path": item.rel},
         f"Created {ref.label.lower()} '{ref}' at {item.rel}.")


def _tree(refs: list[ItemRef]) -> str:
    return "\n".join("  " * (len(r.parts) - 1) + r.address for r in refs)


def _list(args: argparse.Namespace, ref: ItemRef | None, tab: str, depth: int) -> None:
    project = project_from(args)
    if ref is not None:
        project.item(ref)
    refs = project.list_items(ref, depth=depth, tab=tab)
    rows = [{"item": r.address, "kind": r.kind} for r in refs]
    emit(args, rows, lambda: _tree(refs) or "No items.")


def cmd_asset_create_type(args: argparse.Namespace) -> None:
    _create(args, ItemRef.make("asset", args.type))


def cmd_asset_create(args: argparse.Namespace) -> None:
    _create(args, ItemRef.make("asset", args.type, args.name))


def cmd_asset_list(args: argparse.Namespace) -> None:
    _list(args, ItemRef.make("asset", args.type) if args.type else None, "asset", 3)


def cmd_shot_create_sequence(args: argparse.Namespace) -> None:
    _create(args, ItemRef.make("shot", args.sequence))


def cmd_shot_create(args: argparse.Namespace) -> None:
    _create(args, ItemRef.make("shot", args.sequence, args.shot))


def cmd_shot_list(args: argparse.Namespace) -> None:
    _list(args, ItemRef.make("shot", args.sequence) if args.sequence else None, "shot", 3)


def cmd_component_create(args: argparse.Namespace) -> None:
    parent = ItemRef.parse(args.item)
    if len(parent.parts) != 2:
        raise CliError(
            f"Components belong to an asset or a shot; '{parent}' is a {parent.label.lower()}."
        )
    _create(args, parent.child(args.name))


def cmd_component_list(args: argparse.Namespace) -> None:
    ref = ItemRef.parse(args.item)
    _list(args, ref, ref.tab, 1)


def cmd_item_list(args: argparse.Namespace) -> None:
    if args.deleted:
        deleted = removal.deleted_items(project_from(args))
        emit(args, [d.to_dict() for d in deleted], lambda: "\n".join(
            f"{d.item:<40} deleted {short_time(d.time)} by {d.deleted_by} "
            f"(stamp {d.stamp})" for d in deleted) or "No deleted items.")
        return
    if args.item:
        ref = ItemRef.parse(args.item)
        _list(args, ref, ref.tab, 3)
        return
    refs = project_from(args).list_items()
    rows = [{"item": r.address, "kind": r.kind} for r in refs]
    emit(args, rows, lambda: _tree(refs)
         or "No items yet; create one with 'openpipeline asset create TYPE NAME'.")


# -- show and history -------------------------------------------------------------------
def _item_summary(item: Item) -> dict[str, Any]:
    project = item.project
    events = item.events()
    state = item.state(events)
    lock = checkout.status(item)
    created = next((e for e in events if e.event == "created"), None)
    summary: dict[str, Any] = {
        "item": item.ref.address,
        "kind": item.ref.kind,
        "path": item.rel,
        "description": item.description,
        "lock": None if lock is None else lock.to_dict(),
        "children": [r.address for r in item.children()],
        "created": None if created is None else created.to_dict(),
    }
    if item.ref.holds_files:
        master = state.master
        summary.update(
            master=None if master is None else {
                "path": project.relative(item.master_path),
                "workshop": master.data.workshop,
                "author": master.author,
                "time": master.time,
                "comment": master.comment,
                "forced": master.data.forced,
            },
            workshops=[e.to_dict(project) for _, e in sorted(state.workshops.items())],
            versions=[e.to_dict(project) for _, e in sorted(state.versions.items())],
            uncommitted=item.uncommitted(state),
        )
    return summary


def _file_lines(summary: dict[str, Any]) -> list[str]:
    """The master, workshop, version and uncommitted rows of ``item show``."""
    lines = []
    master = summary["master"]
    if master:
        lines.append(
            f"  master   {master['path']} (workshop {master['workshop']}, "
            f"{master['author']}, {short_time(master['time'])})"
            + ("  FORCED past validators" if master["forced"] else "")
        )
    else:
        lines.append("  master   none yet")
    for key in ("workshops", "versions"):
        for row in summary[key]:
            lines.append(
                f"  {row['kind']:<8} {row['number']:>4}  {row['state']:<8} "
                f"{row['author']:<10} {short_time(row['time'])}  {row['comment']}"
            )
    for rel in summary["uncommitted"]:
        lines.append(f"  uncommitted file (left by an interrupted save): {rel}")
    return lines


def cmd_item_show(args: argparse.Namespace) -> None:
    item = item_from(args)
    summary = _item_summary(item)

    def text() -> str:
        lines = [f"{item.ref.label} {item.ref}", f"  folder   {item.rel}"]
        if summary["description"]:
            lines.append(f"  about    {summary['description']}")
        lock = summary["lock"]
        if lock:
            stale = " (stale)" if lock["stale"] else ""
            lines.append(f"  checked out by {lock['user']} on {lock['host']}{stale}")
        if item.ref.holds_files:
            lines.extend(_file_lines(summary))
        lines.extend(f"  contains {child}" for child in summary["children"])
        return "\n".join(lines)

    emit(args, summary, text)


def cmd_item_history(args: argparse.Namespace) -> None:
    item = item_from(args)
    events = item.events()

    def text() -> str:
        lines = []
        for e in events:
            version = f" v{e.version}" if e.version is not None else ""
            lines.append(f"{short_time(e.time)}  {e.author:<10} {e.event:<9}"
                         f"{version:<6} {e.comment}".rstrip())
        return "\n".join(lines) or "No history."

    emit(args, [e.to_dict() for e in events], text)


# -- change -----------------------------------------------------------------------------
def cmd_item_rename(args: argparse.Namespace) -> None:
    item = item_from(args)
    new = rename.rename(item, args.new_name, author=args.user, note=args.note or "")
    emit(args, {"from": item.ref.address, "to": new.ref.address, "path": new.rel},
         f"Renamed '{item.ref}' to '{new.ref}'.")


def cmd_item_describe(args: argparse.Namespace) -> None:
    item = item_from(args)
    record = notes.describe(item, args.text, author=args.user)
    emit(args, record.to_dict(), f"Description of '{item.ref}' updated.")


def cmd_item_preview(args: argparse.Namespace) -> None:
    item = item_from(args)
    path = notes.set_preview(item, Path(args.image), workshop=args.workshop,
                             version=args.version, author=args.user)
    rel = item.project.relative(path)
    emit(args, {"item": item.ref.address, "path": rel}, f"Preview stored at {rel}.")


def cmd_item_recover(args: argparse.Namespace) -> None:
    finished = project_from(args).recover()
    emit(args, {"recovered": finished},
         f"Finished {len(finished)} interrupted operation(s)." if finished else "Nothing to recover.")
