"""``openpipeline archive|retrieve|delete|restore|lock ...``: an item's life after its saves."""

from __future__ import annotations

import argparse

from openpipeline.cli.common import Commands, emit, item_from, project_from, short_time
from openpipeline.core import archive, checkout, removal
from openpipeline.core.address import ItemRef
from openpipeline.core.events import HistoryEvent, MovedData
from openpipeline.core.items import Item

LOCK_ACTIONS = (("acquire", "check the item out"),
                ("release", "give your check-out back"),
                ("status", "who has the item checked out"),
                ("steal", "take the check-out from its holder (recorded)"))


def register(cli: Commands) -> None:
    """Add the ``archive``, ``retrieve``, ``delete``, ``restore`` and ``lock`` commands."""
    p = cli.command("archive", cmd_archive, "move old workshops and versions to the archive")
    p.add_argument("item")
    p.add_argument("--keep", type=int, help="how many of each to keep (default: project setting)")
    p.add_argument("--note")
    p = cli.command("retrieve", cmd_retrieve, "bring archived workshops and versions back")
    p.add_argument("item")
    p.add_argument("--workshop", type=int, action="append")
    p.add_argument("--version", type=int, action="append")
    p.add_argument("--note")
    p = cli.command("delete", cmd_delete, "move an item to the deleted/ tree")
    p.add_argument("item")
    p.add_argument("--note")
    p = cli.command("restore", cmd_restore, "bring a deleted item back")
    p.add_argument("item")
    p.add_argument("--stamp", help="which deletion (default: the newest)")
    p.add_argument("--note")

    lock = cli.group("lock", "check items out and in")
    for action, help_text in LOCK_ACTIONS:
        p = cli.leaf(lock, action, cmd_lock, help_text)
        p.set_defaults(action=action)
        p.add_argument("item")
        p.add_argument("--note")


def _moved(args: argparse.Namespace, item: Item, record: HistoryEvent[MovedData] | None,
           verb: str, nothing: str) -> None:
    """Report an archive or a retrieve: what moved, or that nothing did.

    Under ``--json`` both print an object with the item and, under ``archived`` or
    ``retrieved``, the numbers moved (empty lists when nothing moved); a move
    also carries the history event's fields.
    """
    key = verb.lower()
    if record is None:
        emit(args, {"item": item.ref.address, key: {"workshops": [], "versions": []}}, nothing)
        return
    data = record.data
    moved = {"workshops": list(data.workshops), "versions": list(data.versions)}
    emit(args, {**record.to_dict(), key: moved}, f"{verb} {len(data.workshops)} workshop(s) and "
                                                 f"{len(data.versions)} version(s) of '{item.ref}'.")


def cmd_archive(args: argparse.Namespace) -> None:
    item = item_from(args)
    record = archive.archive(item, args.keep, author=args.user, note=args.note or "")
    _moved(args, item, record, "Archived", f"Nothing to archive in '{item.ref}'.")


def cmd_retrieve(args: argparse.Namespace) -> None:
    item = item_from(args)
    record = archive.retrieve(item, args.workshop, args.version, author=args.user,
                              note=args.note or "")
    _moved(args, item, record, "Retrieved", f"Nothing archived in '{item.ref}'.")


def cmd_delete(args: argparse.Namespace) -> None:
    item = item_from(args)
    target = removal.delete(item, author=args.user, note=args.note or "")
    rel = item.project.relative(target)
    emit(args, {"item": item.ref.address, "path": rel},
         f"Moved '{item.ref}' to {rel}; 'openpipeline restore {item.ref}' brings it back.")


def cmd_restore(args: argparse.Namespace) -> None:
    item = removal.restore(project_from(args), ItemRef.parse(args.item), args.stamp,
                           author=args.user, note=args.note or "")
    emit(args, {"item": item.ref.address, "path": item.rel}, f"Restored '{item.ref}' to {item.rel}.")


def _lock_status_text(item: Item, status: checkout.LockStatus | None) -> str:
    if status is None:
        return f"'{item.ref}' is not checked out."
    holder = status.holder
    return (f"'{item.ref}' is checked out by {holder.user} on {holder.host} since "
            f"{short_time(holder.acquired)}" + (" (stale)." if status.stale else "."))


def cmd_lock(args: argparse.Namespace) -> None:
    item = item_from(args)
    note = args.note or ""
    if args.action == "acquire":
        lock = checkout.acquire(item, author=args.user, note=note)
        data = lock.to_record()
        text = f"'{item.ref}' is checked out by {lock.user}."
    elif args.action == "release":
        data = checkout.release(item, author=args.user, note=note).to_record()
        text = f"'{item.ref}' is released."
    elif args.action == "steal":
        stolen = checkout.steal(item, author=args.user, note=note)
        data = stolen.to_dict()
        taken = stolen.taken_from
        text = (f"'{item.ref}' is now checked out by {stolen.lock.user}"
                + (f" (taken from {taken.user} on {taken.host})." if taken else "."))
    else:
        status = checkout.status(item)
        data = {"item": item.ref.address, "lock": status.to_dict() if status else None}
        text = _lock_status_text(item, status)
    emit(args, data, text)
