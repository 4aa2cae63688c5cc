"""Projects: a folder with an ``openpipeline.yaml`` config and the item trees.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "demo"
    >>> project = Project.create(root, "demo")
    >>> project.create_item(ItemRef.parse("asset/prop/chair")).rel
    'lib/prop/chair'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from openpipeline.core import fsutil, history, journal
from openpipeline.core.address import ItemRef
from openpipeline.core.config import (
    CONFIG_NAME,
    ProjectConfig,
    load_config,
    new_config,
    save_config,
)
from openpipeline.core.errors import ConfigError, ItemExistsError, ItemNotFoundError, UserError
from openpipeline.core.events import CreatedData
from openpipeline.core.identity import now_iso
from openpipeline.core.items import Item
from openpipeline.core.layout import ITEM_FILE, META_FOLDER, ProjectLayout, is_item_folder
from openpipeline.core.locks import Mutex
from openpipeline.core.names import validate_name

ITEM_SCHEMA = 1
# The settings that decide where an item's folder and files lie.
LAYOUT_SETTINGS = ("folders", "templates", "version_padding", "master_format", "workshop_format")
# Root folders for files that are not items' (textures, renders...): renamed, their files stay behind.
SHARED_FOLDERS = ("textures", "renders", "particles", "scripts")


class Project(ProjectLayout):
    """A project folder and its checked config.

    Paths and listing come from :class:`~openpipeline.core.layout.ProjectLayout`;
    this class adds opening, creating and editing a project, and its items.
    """

    # -- opening -----------------------------------------------------------
    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> Project:
        """Open an existing project and finish any operation a crash interrupted.

        Cost: one config read and one directory listing.
        """
        path = Path(root).expanduser().absolute()
        if not path.is_dir():
            raise ConfigError(
                f"Project folder '{path}' does not exist; check the path or create the project "
                "with 'openpipeline project create'."
            )
        project = cls(path, load_config(path))
        project.recover()
        return project

    @classmethod
    def create(cls, root: str | os.PathLike[str], name: str, **settings: Any) -> Project:
        """Create a new project folder with the default layout.

        Raises:
            UserError: the folder already holds a project or other files.
        """
        validate_name(name, "Project")
        path = Path(root).expanduser().absolute()
        config = new_config(name, **settings)
        if (path / CONFIG_NAME).exists():
            raise ItemExistsError(f"'{path}' already holds a project; open it instead.")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise UserError(
                f"'{path}' exists and is not an empty folder; choose a new folder for the project."
            )
        path.mkdir(parents=True, exist_ok=True)
        project = cls(path, config)
        for key in ("library", "scenes", "archive", "deleted", "textures", "renders",
                    "particles", "scripts"):
            (path / config.folders[key]).mkdir(exist_ok=True)
        project.meta.mkdir(exist_ok=True)
        save_config(path, config)  # written last: a project exists once its config does
        return project

    def recover(self) -> list[str]:
        """Finish operations whose process died (see :mod:`journal`)."""
        if not journal.pending(self.meta):
            return []
        return journal.recover(self.root, self.meta)

    def edit(self, **changes: Any) -> ProjectConfig:
        """Change settings (checked like a loaded file) and save them atomically.

        A change of where files lie (formats, padding, folders, templates) is refused
        while files saved under the current settings exist: they would be orphaned.

        Cost: one config read and write; for a layout change, every item's history.
        """
        with Mutex(self.meta / "config.mutex", "Editing the project config").held():
            current = load_config(self.root)
            updated = current.edited(**changes)
            orphaned = orphaned_paths(ProjectLayout(self.root, current),
                                      ProjectLayout(self.root, updated))
            if orphaned:
                changed = ", ".join(k for k in LAYOUT_SETTINGS
                                    if getattr(current, k) != getattr(updated, k))
                raise ConfigError(
                    f"Changing {changed} would orphan {len(orphaned)} existing file(s) or item "
                    f"folder(s) (first: '{orphaned[0]}'); keep the setting, or create a new "
                    "project for the new layout and migrate the work into it."
                )
            save_config(self.root, updated)
        self.config = updated
        self.__dict__.pop("templates", None)
        return updated

    # -- items -------------------------------------------------------------
    def item(self, ref: ItemRef | str) -> Item:
        """An existing item. Raises :class:`ItemNotFoundError` if it is not there."""
        if isinstance(ref, str):
            ref = ItemRef.parse(ref)
        return Item(self, ref).require()

    def create_item(
        self, ref: ItemRef, description: str = "", author: str | None = None
    ) -> Item:
        """Create an item; a missing asset type or sequence above it is created too.

        Raises:
            ItemExistsError: it exists already.
            ItemNotFoundError: the asset or shot above a component does not exist.
            InvalidNameError: the name collides by case with a sibling or a folder name.
        """
        parent = ref.parent
        if parent is not None and not Item(self, parent).exists():
            if parent.holds_files:
                raise ItemNotFoundError(
                    f"'{parent}' does not exist; create it before adding component '{ref.name}'."
                )
            self.create_item(parent, author=author)
        siblings = [child.name for child in self.list_items(parent, depth=1, tab=ref.tab)]
        validate_name(ref.name, ref.label, siblings=siblings,
                      reserved=self.config.folders.values())
        item = Item(self, ref)
        if item.exists():
            raise ItemExistsError(f"{ref.label} '{ref}' already exists.")
        item.path.mkdir(parents=True, exist_ok=True)
        item.meta.mkdir(exist_ok=True)
        if ref.holds_files:
            for folder in (item.workshop_path(1).parent, item.version_path(1).parent,
                           item.notes_dir):
                folder.mkdir(parents=True, exist_ok=True)
        if description:
            fsutil.atomic_write_text(item.description_file, description)
        history.write_event(item.meta, history.new_event(
            ref.address, CreatedData(ref.kind, item.rel), author=author, comment=description))
        record = {"schema": ITEM_SCHEMA, "kind": ref.kind, "created": now_iso(),
                  "id": os.urandom(8).hex()}
        if not fsutil.create_exclusive(item.meta / ITEM_FILE, fsutil.dump_json(record)):
            raise ItemExistsError(f"{ref.label} '{ref}' was created by somebody else just now.")
        return item


def orphaned_paths(old: ProjectLayout, new: ProjectLayout) -> list[str]:
    """Existing item folders and files that ``new`` settings would look for elsewhere.

    Returns the paths (relative to the root) that lie where ``old`` puts them and
    where ``new`` does not: item folders, workshops and versions (archived ones
    too), masters, deleted items holding files (a restore would bring them back
    under the new layout), and renamed shared folders (``textures``...) holding
    files. Empty when no layout setting changed.

    Cost: nothing when no layout setting changed; else one listing of the items and
    one history read and a few ``stat`` calls per item.
    """
    if all(getattr(old.config, k) == getattr(new.config, k) for k in LAYOUT_SETTINGS):
        return []
    found: list[str] = []
    for ref in old.list_items():
        before, after = Item(old, ref), Item(new, ref)
        if before.rel != after.rel:
            found.append(before.rel)
        elif ref.holds_files:
            found.extend(old.relative(path) for path in _moved_files(before, after))
    found.extend(_deleted_with_files(old))
    for key in SHARED_FOLDERS:
        folder = old.root / old.config.folders[key]
        if old.config.folders[key] != new.config.folders[key] and _holds_saved_files(str(folder)):
            found.append(old.relative(folder))
    return found


def _deleted_with_files(layout: ProjectLayout) -> list[str]:
    """Deleted items holding saved files: restored under a new layout, they would be orphaned."""
    found = []
    for folder, dirs, _files in os.walk(layout.deleted_root):
        for name in sorted(dirs):
            path = os.path.join(folder, name)
            if is_item_folder(path):
                dirs.remove(name)
                if _holds_saved_files(path):
                    found.append(layout.relative(Path(path)))
    return found


def _holds_saved_files(folder: str) -> bool:
    """True if a file lies below ``folder`` outside the items' hidden metadata folders."""
    for _folder, dirs, files in os.walk(folder):
        if META_FOLDER in dirs:
            dirs.remove(META_FOLDER)
        if files:
            return True
    return False


def _moved_files(before: Item, after: Item) -> list[Path]:
    """The item's existing files whose path differs between ``before`` and ``after``."""
    events = before.events()
    old_state, new_state = before.state(events), after.state(events)
    pairs = [(before.master_path, after.master_path)]
    for old_table, new_table in ((old_state.workshops, new_state.workshops),
                                 (old_state.versions, new_state.versions)):
        pairs.extend((entry.path, new_table[number].path)
                     for number, entry in old_table.items())
    return [old_path for old_path, new_path in pairs
            if old_path != new_path and old_path.exists()]
