"""Delete and restore: items go to the project's ``deleted/`` tree, and come back.

Deleting moves the item folder (with everything below it) to
``deleted/<its path>@<UTC stamp>``; nothing is destroyed. Restoring moves the
newest (or a chosen) deletion back. Both are journalled (see :mod:`journal`), and
the event is written after the move it records, into the folder where the item
now lies. Delete holds the mutex of the item and of every item below it; restore
holds the item's.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpipeline.core import checkout, history, journal
from openpipeline.core.address import ItemRef
from openpipeline.core.errors import ItemExistsError, ItemNotFoundError
from openpipeline.core.events import DeleteData, RestoreData
from openpipeline.core.identity import current_user
from openpipeline.core.items import Item, holding
from openpipeline.core.journal import EventStep, MoveStep
from openpipeline.core.layout import META_FOLDER, ProjectLayout, is_item_folder
from openpipeline.core.project import Project
from openpipeline.core.versions import storage_errors

DELETED_MARK = "@"


@dataclass(frozen=True)
class DeletedItem:
    """An item in the ``deleted/`` tree: its address, deletion stamp and folder."""

    item: str
    stamp: str
    path: str
    deleted_by: str
    time: str

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "stamp": self.stamp, "path": self.path,
                "deleted_by": self.deleted_by, "time": self.time}


def delete(item: Item, *, author: str | None = None, note: str = "") -> Path:
    """Move the item (and everything below it) into the project's ``deleted/`` tree.

    Returns:
        The folder it now lies in.
    """
    item.require()
    author = author or current_user()
    with storage_errors(f"delete '{item.ref}'"), holding(item.subtree()):
        item.require()  # a rename or another delete may have moved it meanwhile
        checkout.refuse_if_held_below(item, author, "delete")
        project = item.project
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        target = project.deleted_root / f"{item.rel}{DELETED_MARK}{stamp}"
        record = history.new_event(item.ref.address, DeleteData(project.relative(target)),
                                   author=author, comment=note)
        journal.run(project.root, project.meta, "delete", [
            MoveStep(item.rel, project.relative(target)),
            EventStep(project.relative(target / META_FOLDER), record),
        ])
    return target


def deleted_items(project: ProjectLayout) -> list[DeletedItem]:
    """Items in the ``deleted/`` tree with their address and deletion stamp.

    Cost: a walk of the ``deleted/`` tree and a history read per deleted item.
    """
    found = []
    root = project.deleted_root
    for folder, dirs, _files in os.walk(root):
        for name in list(dirs):
            if DELETED_MARK in name and is_item_folder(os.path.join(folder, name)):
                path = Path(folder) / name
                events = history.read_events(path / META_FOLDER)
                deletion = next((e for e in reversed(events) if e.event == "delete"), None)
                if deletion is not None:
                    found.append(DeletedItem(
                        item=deletion.item,
                        stamp=name.rsplit(DELETED_MARK, 1)[1],
                        path=project.relative(path),
                        deleted_by=deletion.author,
                        time=deletion.time,
                    ))
                dirs.remove(name)
    return sorted(found, key=lambda d: (d.item, d.stamp))


def restore(
    project: Project, ref: ItemRef, stamp: str | None = None, *, author: str | None = None,
    note: str = ""
) -> Item:
    """Move a deleted item back to its place (the newest deletion by default)."""
    candidates = [d for d in deleted_items(project) if d.item == ref.address]
    if stamp is not None:
        candidates = [d for d in candidates if d.stamp == stamp]
    if not candidates:
        raise ItemNotFoundError(
            f"No deleted item '{ref}'{' with stamp ' + stamp if stamp else ''}; see "
            "'openpipeline item list --deleted'."
        )
    item = Item(project, ref)
    with storage_errors(f"restore '{ref}'"), holding([item]):
        return _restore(project, item, candidates[-1], author, note)


def _restore(project: Project, item: Item, chosen: DeletedItem, author: str | None,
             note: str) -> Item:
    """Restore with the item's mutex held."""
    ref = item.ref
    if item.path.exists():
        raise ItemExistsError(
            f"Cannot restore '{ref}': an item already lies at '{item.rel}'; rename or delete it "
            "first."
        )
    parent = ref.parent
    made: Item | None = None
    if parent is not None and not Item(project, parent).exists():
        if parent.holds_files:
            raise ItemNotFoundError(f"Cannot restore '{ref}': its parent '{parent}' is gone.")
        made = project.create_item(parent, author=author)
    record = history.new_event(ref.address, RestoreData(chosen.path), author=author,
                               comment=note)
    try:
        journal.run(project.root, project.meta, "restore", [
            MoveStep(chosen.path, item.rel),
            EventStep(project.relative(item.meta), record),
        ])
    except BaseException:
        if made is not None:
            _take_back(made)
        raise
    return item


def _take_back(made: Item) -> None:
    """Remove a type or sequence made for a restore that failed, if it still holds only its metadata."""
    if [entry.name for entry in os.scandir(made.path)] == [META_FOLDER]:
        shutil.rmtree(made.path, ignore_errors=True)
