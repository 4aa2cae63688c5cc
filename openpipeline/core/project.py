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
import sys
from functools import cached_property
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from openpipeline.core import fsutil, history, journal
from openpipeline.core.config import (
    CONFIG_NAME,
    ProjectConfig,
    load_config,
    new_config,
    save_config,
)
from openpipeline.core.errors import ConfigError, ItemExistsError, ItemNotFoundError, UserError
from openpipeline.core.identity import now_iso
from openpipeline.core.items import ITEM_FILE, META_FOLDER, Item, ItemRef
from openpipeline.core.locks import Mutex
from openpipeline.core.names import validate_name
from openpipeline.core.templates import SegmentPattern, Template, compile_segments

PROJECT_META = ".openpipeline"
ITEM_SCHEMA = 1


def current_platform() -> str:
    """``linux``, ``windows`` or ``darwin``: the key of this machine's root."""
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "darwin"
    return "linux"


class Project:
    """A project folder and its checked config."""

    def __init__(self, root: Path, config: ProjectConfig) -> None:
        self.root = root
        self.config = config

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

    @property
    def meta(self) -> Path:
        return self.root / PROJECT_META

    @cached_property
    def templates(self) -> dict[str, Template]:
        return self.config.compiled_templates()

    @property
    def archive_root(self) -> Path:
        return self.root / self.config.folders["archive"]

    @property
    def deleted_root(self) -> Path:
        return self.root / self.config.folders["deleted"]

    def recover(self) -> list[str]:
        """Finish operations whose process died (see :mod:`journal`)."""
        if not journal.pending(self.meta):
            return []
        return journal.recover(self.root, self.meta)

    def edit(self, **changes: Any) -> ProjectConfig:
        """Change settings (checked like a loaded file) and save them atomically."""
        with Mutex(self.meta / "config.mutex", "Editing the project config").held():
            current = load_config(self.root)
            updated = current.edited(**changes)
            save_config(self.root, updated)
        self.config = updated
        self.__dict__.pop("templates", None)
        return updated

    # -- paths -------------------------------------------------------------
    def relative(self, path: Path) -> str:
        """A path inside the project as stored in metadata: relative, ``/``-separated."""
        return PurePath(os.path.relpath(path, self.root)).as_posix()

    def resolve(self, relative: str, platform: str | None = None) -> PurePath:
        """Where a stored relative path lies on ``platform`` (default: this machine).

        The project's ``roots`` give the root per OS; this machine falls back to
        the folder the project was opened from.
        """
        platform = platform or current_platform()
        parts = PurePosixPath(relative).parts
        if ".." in parts or PurePosixPath(relative).is_absolute():
            raise UserError(f"Stored path '{relative}' is not inside the project.")
        root = self.config.roots.get(platform)
        if root is None:
            if platform != current_platform():
                raise ConfigError(
                    f"The project has no root for '{platform}'; add one under 'roots' in "
                    f"{CONFIG_NAME}."
                )
            return self.root.joinpath(*parts)
        flavour = PureWindowsPath if platform == "windows" else PurePosixPath
        return flavour(root).joinpath(*parts)

    def item_relpath(self, ref: ItemRef) -> str:
        """The item's folder relative to the root, from the templates."""
        folders = self.config.folders
        if ref.is_component:
            parent = ref.parent
            assert parent is not None
            return self.templates["component"].render(
                parent=self.item_relpath(parent), component=ref.name, **folders
            )
        template = self.templates[ref.tab]
        names = ({"type": ref.parts[0], "asset": ref.parts[-1]} if ref.tab == "asset"
                 else {"sequence": ref.parts[0], "shot": ref.parts[-1]})
        if len(ref.parts) == 1:
            container = "{type}" if ref.tab == "asset" else "{sequence}"
            segments = template.text.split("/")
            cut = next(i for i, seg in enumerate(segments) if container in seg)
            template = Template(ref.tab, "/".join(segments[: cut + 1]))
        return template.render(**names, **folders)

    def item(self, ref: ItemRef | str) -> Item:
        """An existing item. Raises :class:`ItemNotFoundError` if it is not there."""
        if isinstance(ref, str):
            ref = ItemRef.parse(ref)
        return Item(self, ref).require()

    # -- creating ----------------------------------------------------------
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
            fsutil.atomic_write_text(item.meta / "description.txt", description)
        history.write_event(item.meta, history.new_event(
            "created", ref.address, author=author, comment=description,
            data={"kind": ref.kind, "path": item.rel}))
        record = {"schema": ITEM_SCHEMA, "kind": ref.kind, "created": now_iso(),
                  "id": os.urandom(8).hex()}
        if not fsutil.create_exclusive(item.meta / ITEM_FILE, fsutil.dump_json(record)):
            raise ItemExistsError(f"{ref.label} '{ref}' was created by somebody else just now.")
        return item

    # -- listing -----------------------------------------------------------
    def list_items(
        self, under: ItemRef | None = None, depth: int = 3, tab: str | None = None
    ) -> list[ItemRef]:
        """Items below ``under`` (all items when None), down to ``depth`` levels.

        Cost: one directory listing per folder level walked plus one ``stat`` per
        item; about 0.1 s for 10,000 items on a local disk (see bench/).
        """
        if under is not None:
            tabs = [under.tab]
            base_level = len(under.parts)
        else:
            tabs = [tab] if tab else ["asset", "shot"]
            base_level = 0
        found: list[ItemRef] = []
        for tab_name in tabs:
            found.extend(self._walk(tab_name, under, base_level + depth))
        return sorted(found, key=_ref_key)

    def _walk(self, tab: str, under: ItemRef | None, max_level: int) -> list[ItemRef]:
        text = self.templates[tab].text
        segments = compile_segments(text, self.config.folders)
        container = "type" if tab == "asset" else "sequence"
        container_at = next(i for i, seg in enumerate(segments) if container in seg.fields)
        component_segments = compile_segments(self.templates["component"].text,
                                              self.config.folders)[1:]
        results: list[ItemRef] = []
        if under is None:
            starts: list[tuple[Path, int, dict[str, str]]] = [(self.root, 0, {})]
        else:
            item = Item(self, under)
            level = len(under.parts)
            captured = ({container: under.parts[0]} if level == 1 else
                        {container: under.parts[0], tab: under.parts[1]})
            seg_index = container_at + 1 if level == 1 else len(segments)
            starts = [(item.path, seg_index, captured)]
            if level == 3:
                return []
        for folder, index, captured in starts:
            self._walk_level(tab, segments, container_at, component_segments, folder, index,
                             dict(captured), max_level, under, results)
        return results

    def _walk_level(
        self,
        tab: str,
        segments: list[SegmentPattern],
        container_at: int,
        component_segments: list[SegmentPattern],
        folder: Path,
        index: int,
        captured: dict[str, str],
        max_level: int,
        under: ItemRef | None,
        results: list[ItemRef],
    ) -> None:
        container = "type" if tab == "asset" else "sequence"
        if index == len(segments):
            # at an asset or shot folder: its components
            if max_level >= 3:
                for path, values in _match_levels(folder, component_segments, captured):
                    if _is_item(path):
                        ref = ItemRef(tab, (captured[container], captured[tab],
                                            values["component"]))
                        if under is None or len(under.parts) < 3:
                            results.append(ref)
            return
        for path, values in _match_levels(folder, [segments[index]], captured):
            merged = {**captured, **values}
            if index == container_at:
                if not _is_item(path):
                    continue
                if under is None:
                    results.append(ItemRef(tab, (merged[container],)))
                if max_level >= 2:
                    self._walk_level(tab, segments, container_at, component_segments, path,
                                     index + 1, merged, max_level, under, results)
            elif index == len(segments) - 1:
                if not _is_item(path):
                    continue
                results.append(ItemRef(tab, (merged[container], merged[tab])))
                if max_level >= 3:
                    self._walk_level(tab, segments, container_at, component_segments, path,
                                     index + 1, merged, max_level, under, results)
            else:
                self._walk_level(tab, segments, container_at, component_segments, path,
                                 index + 1, merged, max_level, under, results)


def _is_item(path: Path) -> bool:
    return os.path.isfile(os.path.join(path, META_FOLDER, ITEM_FILE))


def _ref_key(ref: ItemRef) -> tuple[str, tuple[str, ...]]:
    return ref.tab, ref.parts


def _match_levels(
    folder: Path, segments: list[SegmentPattern], known: dict[str, str]
) -> list[tuple[Path, dict[str, str]]]:
    """Folders below ``folder`` matching each segment in turn, with captured names.

    Works on plain strings (this is the hot loop of listing 10,000 items).
    """
    current: list[tuple[str, dict[str, str]]] = [(str(folder), dict(known))]
    for segment in segments:
        following: list[tuple[str, dict[str, str]]] = []
        if segment.literal is not None:
            following = [(os.path.join(path, segment.literal), values)
                         for path, values in current]
        else:
            for path, values in current:
                try:
                    entries = os.scandir(path)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                with entries:
                    for entry in entries:
                        match = segment.match(entry.name, values)
                        if match is not None and entry.is_dir():
                            following.append((entry.path, {**values, **match}))
        current = following
    return [(Path(path), values) for path, values in current]
