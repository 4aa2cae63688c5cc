"""Rename an item: its folder, its archive mirror and every file named after it.

The item folder moves first; then each workshop, version and master file (live
and archived, of the item and of its components) is renamed where it now lies.
All of it is one journalled operation (see :mod:`journal`), run while holding the
mutex of the item, of every item below it and of the new address, so no save,
master or archive runs in a folder that is moving.
"""

from __future__ import annotations

from pathlib import Path

from openpipeline.core import checkout, history, journal
from openpipeline.core.address import ItemRef
from openpipeline.core.claims import claimed_numbers
from openpipeline.core.errors import ItemExistsError, UserError
from openpipeline.core.events import RenameData
from openpipeline.core.identity import current_user
from openpipeline.core.items import Item, holding
from openpipeline.core.journal import EventStep, MoveStep, Step
from openpipeline.core.layout import ProjectLayout
from openpipeline.core.names import validate_name
from openpipeline.core.versions import storage_errors


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
    with storage_errors(f"rename '{item.ref}'"), holding([*item.subtree(), new_item]):
        item.require()  # another rename or a delete may have moved it meanwhile
        if new_item.path.exists():
            raise ItemExistsError(f"{new_ref.label} '{new_ref}' already exists.")
        checkout.refuse_if_held_below(item, author, "rename")
        steps = [*_folder_moves(item, new_item), *_file_moves(item, new_item)]
        record = history.new_event(new_ref.address, RenameData(item.ref.address, new_ref.address),
                                   author=author, comment=note)
        steps.append(EventStep(project.relative(new_item.meta), record))
        journal.run(project.root, project.meta, "rename", steps)
    return new_item


def _folder_moves(item: Item, new_item: Item) -> list[Step]:
    """Move the item folder, and its archive mirror if it has one."""
    project = item.project
    old_archive = project.archive_root / item.rel
    new_archive = project.archive_root / new_item.rel
    steps: list[Step] = [MoveStep(item.rel, new_item.rel)]
    if old_archive.exists():
        if new_archive.exists():
            raise ItemExistsError(
                f"Cannot rename to '{new_item.ref}': its archive folder "
                f"'{project.relative(new_archive)}' already exists."
            )
        steps.append(MoveStep(project.relative(old_archive), project.relative(new_archive)))
    return steps


def _file_moves(item: Item, new_item: Item) -> list[Step]:
    """Rename every master, workshop and version file (live and archived) named after the item.

    Cost: one listing of the subtree, two claim listings and a few ``stat`` calls per
    file-holding item.
    """
    project = item.project
    steps: list[Step] = []
    for member in item.subtree():
        suffix = member.ref.parts[len(item.ref.parts):]
        renamed = Item(project, ItemRef(new_item.ref.tab, (*new_item.ref.parts, *suffix)))
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
                    steps.append(MoveStep(project.relative(moved_old), project.relative(new_at)))
    return steps


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
