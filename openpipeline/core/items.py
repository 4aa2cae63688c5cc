"""Items: asset types, assets, components, sequences, shots.

An :class:`Item` is an address (:class:`~openpipeline.core.address.ItemRef`) in a
project: it knows the paths of its files (workshops, versions, the master, from
the project's templates), its hidden ``.op`` metadata folder (see
:mod:`openpipeline.core.layout`) and what its history says it holds now.
Assets, shots and components hold files; types and sequences only hold items.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpipeline.core import fsutil, history
from openpipeline.core.address import ItemRef
from openpipeline.core.errors import (
    InvalidAddressError,
    ItemNotFoundError,
    MetadataError,
    VersionNotFoundError,
    warn_once,
)
from openpipeline.core.events import (
    ArchiveData,
    EventData,
    HistoryEvent,
    MasterData,
    MovedData,
    WorkshopData,
    is_event_of,
)
from openpipeline.core.layout import (
    CLAIMS_FOLDER,
    DESCRIPTION_FILE,
    ITEM_FILE,
    LOCK_FILE,
    META_FOLDER,
    MUTEX_PREFIX,
    ProjectLayout,
)
from openpipeline.core.locks import CheckOut, Mutex


@dataclass
class VersionEntry:
    """One committed workshop or superseded master."""

    kind: str  # "workshop" | "version"
    number: int
    state: str  # "active" | "archived"
    event: HistoryEvent[EventData]
    path: Path

    def to_dict(self, project: ProjectLayout) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "number": self.number,
            "state": self.state,
            "path": project.relative(self.path),
            "author": self.event.author,
            "time": self.event.time,
            "comment": self.event.comment,
        }


@dataclass
class ItemState:
    """What an item's history says it holds now."""

    workshops: dict[int, VersionEntry] = field(default_factory=dict)
    versions: dict[int, VersionEntry] = field(default_factory=dict)
    master: HistoryEvent[MasterData] | None = None

    def active(self, kind: str) -> list[VersionEntry]:
        table = self.workshops if kind == "workshop" else self.versions
        return [entry for _, entry in sorted(table.items()) if entry.state == "active"]


class Item:
    """An existing (or about to be created) item of a project.

    ``project`` is the :class:`~openpipeline.core.project.Project` it belongs to,
    typed as the :class:`~openpipeline.core.layout.ProjectLayout` an item needs
    (paths, config, listing), so that this module does not import the project's.
    """

    def __init__(self, project: ProjectLayout, ref: ItemRef) -> None:
        self.project = project
        self.ref = ref
        self.rel = project.item_relpath(ref)
        self.path = project.root / self.rel

    # -- places ------------------------------------------------------------
    @property
    def meta(self) -> Path:
        return self.path / META_FOLDER

    def exists(self) -> bool:
        return (self.meta / ITEM_FILE).is_file()

    def require(self) -> Item:
        if not self.exists():
            raise ItemNotFoundError(
                f"Item '{self.ref}' does not exist; list items with 'openpipeline item list'."
            )
        return self

    def require_files(self) -> Item:
        self.require()
        if not self.ref.holds_files:
            raise InvalidAddressError(
                f"'{self.ref}' is {self.ref.label.lower()}, which holds items, not files; "
                "address an asset, shot or component."
            )
        return self

    @property
    def stem(self) -> str:
        if self.ref.is_component:
            return f"{self.ref.parts[1]}_{self.ref.parts[2]}"
        return self.ref.name

    def _fields(self) -> dict[str, str]:
        values = dict(self.project.config.folders)
        parts = self.ref.parts
        if self.ref.tab == "asset":
            values.update(type=parts[0], asset=parts[1] if len(parts) > 1 else "")
        else:
            values.update(sequence=parts[0], shot=parts[1] if len(parts) > 1 else "")
        if self.ref.is_component:
            values.update(component=parts[2], parent_name=parts[1])
        values["stem"] = self.stem
        return values

    def _numbered_paths(self, key: str, ext: str) -> Callable[[int], Path]:
        """A function giving the path of number ``n`` from template ``key``.

        The item's template fields are gathered once, so folding a long history
        renders each path without gathering them again.
        """
        values = {**self._fields(), "ext": ext}
        template = self.project.templates[key]
        padding = self.project.config.version_padding

        def path_of(number: int) -> Path:
            return self.path / template.render(**values, number=f"{number:0{padding}d}")

        return path_of

    @property
    def master_path(self) -> Path:
        key = "master_component" if self.ref.is_component else f"master_{self.ref.kind}"
        values = {**self._fields(), "ext": self.project.config.master_format}
        return self.path / self.project.templates[key].render(**values)

    def workshop_path(self, number: int) -> Path:
        return self._workshop_paths()(number)

    def version_path(self, number: int) -> Path:
        return self._version_paths()(number)

    def _workshop_paths(self) -> Callable[[int], Path]:
        return self._numbered_paths("workshop", self.project.config.workshop_format)

    def _version_paths(self) -> Callable[[int], Path]:
        return self._numbered_paths("version", self.project.config.master_format)

    @property
    def notes_dir(self) -> Path:
        return self.path / self.project.templates["notes"].render(**self._fields())

    def archived(self, live_path: Path) -> Path:
        """Where a file of this item lies in the project's archive mirror."""
        return self.project.archive_root / self.project.relative(live_path)

    @property
    def checkout(self) -> CheckOut:
        return CheckOut(self.meta / LOCK_FILE, self.project.config.lock_ttl_seconds)

    @property
    def mutex(self) -> Mutex:
        """The mutex every change of the item's files holds (save, master, archive, rename...).

        It lies in the project's ``.openpipeline`` folder, named by the address
        (``item--asset--prop--chair.mutex``), so it stays put while a rename or a
        delete moves the item's folder.
        """
        name = "--".join((MUTEX_PREFIX, self.ref.tab, *self.ref.parts))
        return Mutex(self.project.meta / f"{name}.mutex", f"A change of '{self.ref}'")

    @property
    def master_mutex(self) -> Mutex:
        """The item's :attr:`mutex` (mastering holds it like every other change)."""
        return self.mutex

    def claims_dir(self, kind: str) -> Path:
        return self.meta / CLAIMS_FOLDER / kind

    @property
    def description_file(self) -> Path:
        return self.meta / DESCRIPTION_FILE

    # -- records -----------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """The item's record (``item.json``); empty, with a warning, if it is damaged."""
        path = self.meta / ITEM_FILE
        try:
            record = fsutil.read_json(path)
        except MetadataError as exc:
            warn_once(str(path), f"{exc} It was read as empty; repair or move the file.")
            return {}
        return record if isinstance(record, dict) else {}

    def events(self) -> list[HistoryEvent[EventData]]:
        """The item's history, oldest first (see :func:`history.read_events`)."""
        return history.read_events(self.meta)

    @property
    def description(self) -> str:
        """The item's description; text that is not UTF-8 is shown with replacement marks."""
        path = self.description_file
        try:
            data = fsutil.read_bytes(path)
        except FileNotFoundError:
            return ""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            warn_once(str(path), f"Description file '{path}' is not UTF-8 text; it is shown "
                      "with undecodable bytes replaced; set it again with 'openpipeline item "
                      "describe'.")
            return data.decode("utf-8", errors="replace")

    def state(self, events: list[HistoryEvent[EventData]] | None = None) -> ItemState:
        """Fold the history into what the item holds now.

        A version row carries the ``master`` event of the master it was (its
        author, time and note), not of the master that replaced it; only when
        that event is not in the history (skipped as damaged) does it carry the
        replacing one.

        Cost: the history read (unless ``events`` is given) and one path per workshop
        or version.
        """
        state = ItemState()
        workshop_path, version_path = self._workshop_paths(), self._version_paths()
        for event in self.events() if events is None else events:
            if isinstance(event.data, WorkshopData) and event.version is not None:
                number = event.version
                state.workshops[number] = VersionEntry(
                    "workshop", number, "active", event, workshop_path(number)
                )
            elif is_event_of(event, MasterData):
                was, state.master = state.master or event, event
                preserved = event.data.preserved_version
                if preserved is not None:
                    state.versions[preserved] = VersionEntry(
                        "version", preserved, "active", was, version_path(preserved)
                    )
            elif isinstance(event.data, MovedData):
                self._fold_moved(state, event.data, workshop_path, version_path)
        return state

    def _fold_moved(
        self, state: ItemState, moved: MovedData, workshop_path: Callable[[int], Path],
        version_path: Callable[[int], Path],
    ) -> None:
        """Mark what an archive (or a retrieve) moved, and where each file lies now."""
        archived = isinstance(moved, ArchiveData)
        for numbers, table, live_path in (
            (moved.workshops, state.workshops, workshop_path),
            (moved.versions, state.versions, version_path),
        ):
            for number in numbers:
                entry = table.get(number)
                if entry is not None:
                    entry.state = "archived" if archived else "active"
                    live = live_path(entry.number)
                    entry.path = self.archived(live) if archived else live

    def workshop(self, number: int | None = None, state: ItemState | None = None) -> VersionEntry:
        """The latest active workshop, or the given one."""
        state = state or self.state()
        if number is None:
            active = state.active("workshop")
            if not active:
                raise VersionNotFoundError(
                    f"Item '{self.ref}' has no workshop yet; save one with "
                    "'openpipeline workshop save'."
                )
            return active[-1]
        entry = state.workshops.get(number)
        if entry is None:
            raise VersionNotFoundError(
                f"Item '{self.ref}' has no workshop {number}; see 'openpipeline item show'."
            )
        if entry.state != "active":
            raise VersionNotFoundError(
                f"Workshop {number} of '{self.ref}' is archived; bring it back with "
                "'openpipeline retrieve'."
            )
        return entry

    def uncommitted(self, state: ItemState | None = None) -> list[str]:
        """Files left by interrupted saves: never deleted, reported for a human to judge."""
        state = state or self.state()
        known = {entry.path for entry in (*state.workshops.values(), *state.versions.values())}
        known.add(self.master_path)
        folders = {self.path, self.workshop_path(1).parent, self.version_path(1).parent}
        found = []
        for folder in sorted(folders):
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                if not entry.is_file() or entry.name.endswith(".json"):
                    continue
                path = Path(entry.path)
                if path in known:
                    continue
                if fsutil.is_temp_name(entry.name) or _looks_like_ours(entry.name, self.stem):
                    found.append(self.project.relative(path))
        return sorted(found)

    def children(self) -> list[ItemRef]:
        return self.project.list_items(self.ref, depth=1)

    def subtree(self) -> list[Item]:
        """This item and every item below it. Cost: one listing of the subtree."""
        return [self, *(Item(self.project, ref) for ref in self.project.list_items(self.ref))]


@contextmanager
def holding(items: Iterable[Item], wait_seconds: float = 30.0) -> Iterator[None]:
    """Hold the mutex of every item given, taken in address order (so two holders never deadlock).

    A rename or a delete holds its item's whole :meth:`Item.subtree`, so no save, master
    or archive of an item below it runs while its folder moves.
    """
    ordered = sorted({(item.ref.tab, item.ref.parts): item for item in items}.items())
    with ExitStack() as stack:
        for _key, item in ordered:
            stack.enter_context(item.mutex.held(wait_seconds))
        yield


def _looks_like_ours(name: str, stem: str) -> bool:
    return re.match(re.escape(stem) + r"_(workshop|version)_\d+\.", name) is not None

