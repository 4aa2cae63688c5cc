"""Archive, retrieve, delete, restore, rename, describe, preview and check-out.

Nothing here destroys a file: archive and delete move files into the project's
``archive/`` mirror and ``deleted/`` trees, and retrieve and restore move them
back. Every multi-step change is journalled (see :mod:`journal`), so a crash
half-way is finished by the next process.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

from openpipeline.core import fsutil, history, journal
from openpipeline.core.address import ItemRef
from openpipeline.core.claims import claimed_numbers
from openpipeline.core.errors import (
    ItemExistsError,
    ItemNotFoundError,
    LockHeldError,
    SourceFileError,
    UserError,
    VersionNotFoundError,
)
from openpipeline.core.identity import current_user
from openpipeline.core.items import Item
from openpipeline.core.layout import ITEM_FILE, META_FOLDER, ProjectLayout
from openpipeline.core.names import validate_name
from openpipeline.core.project import Project

DELETED_MARK = "@"


def _event_step(item: Item, record: dict[str, Any], meta: Path | None = None) -> dict[str, Any]:
    return {"event": [item.project.relative(meta or item.meta), record]}


# -- archive ---------------------------------------------------------------
def archive(
    item: Item, keep: int | None = None, *, author: str | None = None, note: str = ""
) -> dict[str, Any] | None:
    """Move all but the newest ``keep`` workshops and versions to the archive.

    Returns:
        The ``archive`` event, or None when there was nothing to move.
    """
    item.require_files()
    project = item.project
    keep = project.config.archive_keep if keep is None else keep
    if keep < 0:
        raise UserError(f"Cannot keep {keep} versions; give 0 or more.")
    state = item.state()
    moved: dict[str, list[int]] = {"workshops": [], "versions": []}
    steps: list[dict[str, Any]] = []
    for kind, key in (("workshop", "workshops"), ("version", "versions")):
        active = state.active(kind)
        for entry in active[: max(len(active) - keep, 0)]:
            if not entry.path.exists():
                continue
            moved[key].append(entry.number)
            steps.append({"move": [project.relative(entry.path),
                                   project.relative(item.archived(entry.path))]})
    if not steps:
        return None
    record = history.new_event("archive", item.ref.address, author=author, comment=note,
                               data={**moved, "keep": keep})
    steps.append(_event_step(item, record))
    journal.run(project.root, project.meta, "archive", steps)
    return record


def retrieve(
    item: Item,
    workshops: list[int] | None = None,
    versions: list[int] | None = None,
    *,
    author: str | None = None,
    note: str = "",
) -> dict[str, Any] | None:
    """Bring archived workshops and versions back (all of them when none are named)."""
    item.require_files()
    project = item.project
    state = item.state()
    everything = workshops is None and versions is None
    moved: dict[str, list[int]] = {"workshops": [], "versions": []}
    steps: list[dict[str, Any]] = []
    for key, table, wanted, live_path in (
        ("workshops", state.workshops, workshops, item.workshop_path),
        ("versions", state.versions, versions, item.version_path),
    ):
        numbers = (sorted(n for n, e in table.items() if e.state == "archived") if everything
                   else wanted or [])
        for number in numbers:
            entry = table.get(number)
            if entry is None or entry.state != "archived":
                raise VersionNotFoundError(
                    f"{key[:-1].capitalize()} {number} of '{item.ref}' is not archived; see "
                    "'openpipeline item show'."
                )
            moved[key].append(number)
            steps.append({"move": [project.relative(entry.path),
                                   project.relative(live_path(number))]})
    if not steps:
        return None
    record = history.new_event("retrieve", item.ref.address, author=author, comment=note,
                               data=moved)
    steps.append(_event_step(item, record))
    journal.run(project.root, project.meta, "retrieve", steps)
    return record


# -- delete and restore -----------------------------------------------------
def _subtree(item: Item) -> list[Item]:
    project = item.project
    return [item, *(Item(project, ref) for ref in project.list_items(item.ref))]


def _check_subtree_locks(item: Item, author: str, action: str) -> None:
    for member in _subtree(item):
        holder = member.checkout.holder_other_than(author)
        if holder is not None:
            raise LockHeldError(
                f"Cannot {action} '{item.ref}': '{member.ref}' is checked out by "
                f"{holder.describe()}; ask them to release it first."
            )


def delete(item: Item, *, author: str | None = None, note: str = "") -> Path:
    """Move the item (and everything below it) into the project's ``deleted/`` tree.

    Returns:
        The folder it now lies in.
    """
    item.require()
    author = author or current_user()
    _check_subtree_locks(item, author, "delete")
    project = item.project
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    target = project.deleted_root / f"{item.rel}{DELETED_MARK}{stamp}"
    record = history.new_event("delete", item.ref.address, author=author, comment=note,
                               data={"deleted_path": project.relative(target)})
    journal.run(project.root, project.meta, "delete", [
        _event_step(item, record),
        {"move": [item.rel, project.relative(target)]},
    ])
    return target


def deleted_items(project: Project) -> list[dict[str, Any]]:
    """Items in the ``deleted/`` tree with their address and deletion stamp."""
    found = []
    root = project.deleted_root
    for folder, dirs, _files in os.walk(root):
        for name in list(dirs):
            if DELETED_MARK in name and os.path.isfile(
                os.path.join(folder, name, META_FOLDER, ITEM_FILE)
            ):
                path = Path(folder) / name
                events = history.read_events(path / META_FOLDER)
                deletion = next((e for e in reversed(events) if e.get("event") == "delete"), None)
                if deletion is not None:
                    found.append({
                        "item": deletion["item"],
                        "stamp": name.rsplit(DELETED_MARK, 1)[1],
                        "path": project.relative(path),
                        "deleted_by": deletion.get("author"),
                        "time": deletion.get("time"),
                    })
                dirs.remove(name)
    return sorted(found, key=lambda d: (d["item"], d["stamp"]))


def restore(
    project: Project, ref: ItemRef, stamp: str | None = None, *, author: str | None = None,
    note: str = ""
) -> Item:
    """Move a deleted item back to its place (the newest deletion by default)."""
    candidates = [d for d in deleted_items(project) if d["item"] == ref.address]
    if stamp is not None:
        candidates = [d for d in candidates if d["stamp"] == stamp]
    if not candidates:
        raise ItemNotFoundError(
            f"No deleted item '{ref}'{' with stamp ' + stamp if stamp else ''}; see "
            "'openpipeline item list --deleted'."
        )
    chosen = candidates[-1]
    item = Item(project, ref)
    if item.path.exists():
        raise ItemExistsError(
            f"Cannot restore '{ref}': an item already lies at '{item.rel}'; rename or delete it "
            "first."
        )
    parent = ref.parent
    if parent is not None and not Item(project, parent).exists():
        if parent.holds_files:
            raise ItemNotFoundError(f"Cannot restore '{ref}': its parent '{parent}' is gone.")
        project.create_item(parent, author=author)
    record = history.new_event("restore", ref.address, author=author, comment=note,
                               data={"from": chosen["path"]})
    journal.run(project.root, project.meta, "restore", [
        {"move": [chosen["path"], item.rel]},
        _event_step(item, record),
    ])
    return item


# -- rename ------------------------------------------------------------------
def rename(item: Item, new_name: str, *, author: str | None = None, note: str = "") -> Item:
    """Rename an item: its folder, its archive mirror and every file named after it.

    Refused while anybody else has it (or an item below it) checked out.
    """
    item.require()
    author = author or current_user()
    project = item.project
    new_ref = item.ref.renamed(new_name)
    if new_ref == item.ref:
        raise UserError(f"'{item.ref}' already has the name '{new_name}'.")
    siblings = [r.name for r in project.list_items(item.ref.parent, depth=1, tab=item.ref.tab)]
    validate_name(new_name, item.ref.label,
                  siblings=[s for s in siblings if s != item.ref.name],
                  reserved=project.config.folders.values())
    new_item = Item(project, new_ref)
    if new_item.path.exists():
        raise ItemExistsError(f"{new_ref.label} '{new_ref}' already exists.")
    _check_subtree_locks(item, author, "rename")
    old_archive = project.archive_root / item.rel
    new_archive = project.archive_root / new_item.rel
    steps: list[dict[str, Any]] = [{"move": [item.rel, new_item.rel]}]
    if old_archive.exists():
        if new_archive.exists():
            raise ItemExistsError(
                f"Cannot rename to '{new_ref}': its archive folder '{project.relative(new_archive)}' "
                "already exists."
            )
        steps.append({"move": [project.relative(old_archive), project.relative(new_archive)]})
    for member in _subtree(item):
        suffix = member.ref.parts[len(item.ref.parts):]
        renamed = Item(project, ItemRef(new_ref.tab, (*new_ref.parts, *suffix)))
        if not member.ref.holds_files:
            continue
        pairs = [(member.master_path, renamed.master_path)]
        pairs += [(member.workshop_path(n), renamed.workshop_path(n))
                  for n in claimed_numbers(member.claims_dir("workshop"))]
        pairs += [(member.version_path(n), renamed.version_path(n))
                  for n in claimed_numbers(member.claims_dir("version"))]
        for old, new in pairs:
            # after the folder moves, the old file name lies in the new folders
            for old_at, new_at in ((old, new), (member.archived(old), renamed.archived(new))):
                moved_old = _relocate(project, old_at, item, new_item)
                if old_at.exists() and moved_old != new_at:
                    steps.append({"move": [project.relative(moved_old),
                                           project.relative(new_at)]})
    record = history.new_event("rename", new_ref.address, author=author, comment=note,
                               data={"from": item.ref.address, "to": new_ref.address})
    steps.append({"event": [project.relative(new_item.meta), record]})
    journal.run(project.root, project.meta, "rename", steps)
    return new_item


def _relocate(project: ProjectLayout, path: Path, old_item: Item, new_item: Item) -> Path:
    """Where ``path`` lies once the item's folders have moved (it is checked there)."""
    rel = project.relative(path)
    for old_base, new_base in (
        (old_item.rel, new_item.rel),
        (project.relative(project.archive_root / old_item.rel),
         project.relative(project.archive_root / new_item.rel)),
    ):
        if rel == old_base or rel.startswith(old_base + "/"):
            return project.root / (new_base + rel[len(old_base):])
    return path


# -- description, preview ----------------------------------------------------
def describe(item: Item, text: str, *, author: str | None = None) -> dict[str, Any]:
    """Set the item's description (a note shown in the browser)."""
    item.require()
    fsutil.atomic_write_text(item.meta / "description.txt", text)
    record = history.new_event("describe", item.ref.address, author=author, comment=text)
    history.write_event(item.meta, record)
    return record


PREVIEW_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".exr")


def set_preview(
    item: Item, image: Path, *, workshop: int | None = None, version: int | None = None,
    author: str | None = None,
) -> Path:
    """Store a preview image for the item, or for one of its workshops or versions.

    Stored in the item's notes folder as ``preview.<ext>``,
    ``workshop_<NNNN>.<ext>`` or ``version_<NNNN>.<ext>``.
    """
    item.require_files()
    image = Path(image)
    if not image.is_file():
        raise SourceFileError(f"Preview image '{image}' does not exist; check the path.")
    ext = image.suffix.lower()
    if ext not in PREVIEW_EXTENSIONS:
        raise SourceFileError(
            f"Preview '{image.name}' must be one of {', '.join(PREVIEW_EXTENSIONS)}."
        )
    state = item.state()
    pad = item.project.config.version_padding
    if workshop is not None:
        if workshop not in state.workshops:
            raise VersionNotFoundError(f"Item '{item.ref}' has no workshop {workshop}.")
        name = f"workshop_{workshop:0{pad}d}{ext}"
    elif version is not None:
        if version not in state.versions:
            raise VersionNotFoundError(f"Item '{item.ref}' has no version {version}.")
        name = f"version_{version:0{pad}d}{ext}"
    else:
        name = f"preview{ext}"
    target = item.notes_dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    fsutil.atomic_copy(image, target)
    history.write_event(item.meta, history.new_event(
        "preview", item.ref.address, author=author, version=workshop or version,
        data={"path": item.project.relative(target)}))
    return target


# -- check-out -----------------------------------------------------------------
def lock_acquire(item: Item, *, author: str | None = None, note: str = "") -> dict[str, Any]:
    """Check the item out (or refresh your own check-out)."""
    item.require()
    author = author or current_user()
    was = item.checkout.status()
    info, taken = item.checkout.acquire(author, note)
    if taken is not None:
        history.write_event(item.meta, history.new_event(
            "steal", item.ref.address, author=author, comment=note or "stale lock taken over",
            data={"from": taken.to_record(), "to": info.to_record(), "stale": True}))
    elif was is None or was.user != author:
        history.write_event(item.meta, history.new_event(
            "lock", item.ref.address, author=author, comment=note, data=info.to_record()))
    return info.to_record()


def lock_release(item: Item, *, author: str | None = None, note: str = "") -> dict[str, Any]:
    """Give your check-out back."""
    item.require()
    author = author or current_user()
    info = item.checkout.release(author)
    history.write_event(item.meta, history.new_event(
        "unlock", item.ref.address, author=author, comment=note, data=info.to_record()))
    return info.to_record()


def lock_steal(item: Item, *, author: str | None = None, note: str = "") -> dict[str, Any]:
    """Take the check-out from whoever holds it; the history records from whom."""
    item.require()
    author = author or current_user()
    info, taken = item.checkout.steal(author, note)
    history.write_event(item.meta, history.new_event(
        "steal", item.ref.address, author=author, comment=note,
        data={"from": taken.to_record() if taken else None, "to": info.to_record(),
              "stale": bool(taken and item.checkout.is_stale(taken))}))
    return {"lock": info.to_record(), "taken_from": taken.to_record() if taken else None}


def lock_status(item: Item) -> dict[str, Any] | None:
    """The holder of the check-out, with whether it has gone stale."""
    item.require()
    info = item.checkout.status()
    if info is None:
        return None
    return {**info.to_record(), "stale": item.checkout.is_stale(info)}
