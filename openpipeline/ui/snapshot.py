"""What the browser shows, read from the project into plain data (no Qt).

The browser's models never touch the disk while they paint: a loader thread runs
:func:`list_rows` (names only, one listing of the project) and then
:func:`detail_rows` in chunks (each item's history, master and check-out), and the
models hold the :class:`ItemRow` values it returns. :func:`versions_of` reads one
item's versions when it is selected.

Example:
    >>> import tempfile, pathlib
    >>> from openpipeline.core import ItemRef, Project
    >>> project = Project.create(pathlib.Path(tempfile.mkdtemp()) / "p", "p")
    >>> _ = project.create_item(ItemRef.parse("asset/prop/chair"))
    >>> rows = detail_rows(project, list_rows(project, "asset"))
    >>> [(row.address, row.marker) for row in rows]
    [('asset/prop', 'folder'), ('asset/prop/chair', 'empty')]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from openpipeline.core import checkout
from openpipeline.core.address import ItemRef
from openpipeline.core.errors import OpenPipelineError
from openpipeline.core.identity import short_time
from openpipeline.core.items import Item
from openpipeline.core.layout import ProjectLayout
from openpipeline.core.notes import PREVIEW_EXTENSIONS

# List markers, as openPipeline drew them: has a master, workshops only, nothing yet.
MARKERS = ("master", "workshops", "empty", "folder", "unknown")


@dataclass(frozen=True)
class ItemRow:
    """One item of a browser list, as plain data.

    ``marker`` is ``master`` (it has a master), ``workshops`` (workshops only),
    ``empty`` (no saves yet), ``folder`` (an asset type or sequence) or ``unknown``
    (listed, details not read yet). ``locked_by`` names the check-out holder.
    """

    ref: ItemRef
    marker: str = "unknown"
    workshops: int = 0
    locked_by: str = ""
    lock_stale: bool = False
    description: str = ""

    @property
    def address(self) -> str:
        return self.ref.address

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def level(self) -> int:
        """1 for asset types and sequences, 2 for assets and shots, 3 for components."""
        return len(self.ref.parts)

    @property
    def parent_address(self) -> str:
        parent = self.ref.parent
        return parent.address if parent is not None else ""


@dataclass(frozen=True)
class VersionRow:
    """One line of the versions list: the master, a workshop or a superseded master."""

    kind: str  # "master" | "workshop" | "version"
    number: int
    state: str  # "active" | "archived"
    author: str
    time: str
    note: str
    path: Path
    preview_names: tuple[str, ...]  # file names in the notes folder to look for, best first

    @property
    def label(self) -> str:
        if self.kind == "master":
            return "master"
        archived = " (archived)" if self.state == "archived" else ""
        return f"{self.kind} {self.number:04d}{archived}"


def list_rows(project: ProjectLayout, tab: str, under: ItemRef | None = None,
              depth: int = 3) -> list[ItemRow]:
    """The items of one tab (below ``under``, ``depth`` levels down), names only
    (marker ``unknown``).

    Cost: one listing of the folders walked (about 0.1-0.3 s for 10,000 items).
    """
    refs = project.list_items(under, depth=depth) if under else project.list_items(tab=tab, depth=depth)
    return [ItemRow(ref, marker="unknown" if ref.holds_files else "folder") for ref in refs]


def detail_rows(project: ProjectLayout, rows: Iterable[ItemRow]) -> list[ItemRow]:
    """The rows with their markers, check-out holder and description read.

    Cost: per item holding files, one history read and one check-out read.
    """
    return [detail_row(project, row) for row in rows]


def detail_row(project: ProjectLayout, row: ItemRow) -> ItemRow:
    """One row with its details read from disk (damaged metadata reads as empty)."""
    if not row.ref.holds_files:
        return dataclasses.replace(row, marker="folder")
    item = Item(project, row.ref)
    try:
        state = item.state()
        lock = checkout.status(item)
        description = item.description
    except (OpenPipelineError, OSError):
        return dataclasses.replace(row, marker="empty")
    workshops = len(state.active("workshop"))
    marker = "master" if state.master is not None else "workshops" if state.workshops else "empty"
    return ItemRow(row.ref, marker=marker, workshops=workshops,
                   locked_by=lock.holder.user if lock else "", lock_stale=bool(lock and lock.stale),
                   description=description)


def versions_of(item: Item) -> list[VersionRow]:
    """The item's master, workshops and versions, newest first.

    Cost: one history read; no file is opened (thumbnails load later).
    """
    state = item.state()
    pad = item.project.config.version_padding
    rows: list[VersionRow] = []
    if state.master is not None:
        master = state.master
        rows.append(VersionRow("master", master.version or 0, "active", master.author,
                               short_time(master.time), master.comment, item.master_path,
                               _previews("preview")))
    for kind, table in (("workshop", state.workshops), ("version", state.versions)):
        for number, entry in sorted(table.items(), reverse=True):
            event = entry.event
            rows.append(VersionRow(kind, number, entry.state, event.author, short_time(event.time),
                                   event.comment, entry.path,
                                   _previews(f"{kind}_{number:0{pad}d}") + _previews("preview")))
    return rows


def _previews(stem: str) -> tuple[str, ...]:
    return tuple(stem + ext for ext in PREVIEW_EXTENSIONS)
