"""Archive and retrieve: old workshops and versions out of the way, and back.

Archiving moves all but the newest workshops and versions of an item into the
project's ``archive/`` mirror (the same relative path below ``archive/``);
retrieving moves them back. Nothing is deleted, nothing is overwritten (a file in
the way refuses the whole operation before it starts), and both are journalled
(see :mod:`journal`), so a crash half-way is finished by the next process. Both
hold the item's mutex, so they never run beside a save, a master or a rename.
"""

from __future__ import annotations

from openpipeline.core import history, journal
from openpipeline.core.errors import UserError, VersionNotFoundError
from openpipeline.core.events import ArchiveData, HistoryEvent, RetrieveData
from openpipeline.core.items import Item, holding
from openpipeline.core.journal import EventStep, MoveStep, Step
from openpipeline.core.versions import storage_errors


def archive(
    item: Item, keep: int | None = None, *, author: str | None = None, note: str = ""
) -> HistoryEvent[ArchiveData] | None:
    """Move all but the newest ``keep`` workshops and versions to the archive.

    Returns:
        The ``archive`` event, or None when there was nothing to move.
    """
    item.require_files()
    project = item.project
    keep = project.config.archive_keep if keep is None else keep
    if keep < 0:
        raise UserError(f"Cannot keep {keep} versions; give 0 or more.")
    with storage_errors(f"archive '{item.ref}'"), holding([item]):
        item.require_files()  # a rename or a delete may have moved it meanwhile
        return _archive(item, keep, author, note)


def _archive(item: Item, keep: int, author: str | None, note: str) -> HistoryEvent[ArchiveData] | None:
    """Archive with the item's mutex held."""
    project = item.project
    state = item.state()
    moved: dict[str, list[int]] = {"workshops": [], "versions": []}
    steps: list[Step] = []
    for kind, key in (("workshop", "workshops"), ("version", "versions")):
        active = state.active(kind)
        for entry in active[: max(len(active) - keep, 0)]:
            if not entry.path.exists():
                continue
            moved[key].append(entry.number)
            steps.append(MoveStep(project.relative(entry.path),
                                  project.relative(item.archived(entry.path))))
    if not steps:
        return None
    record = history.new_event(
        item.ref.address, ArchiveData(tuple(moved["workshops"]), tuple(moved["versions"]), keep),
        author=author, comment=note)
    steps.append(EventStep(project.relative(item.meta), record))
    journal.run(project.root, project.meta, "archive", steps)
    return record


def retrieve(
    item: Item,
    workshops: list[int] | None = None,
    versions: list[int] | None = None,
    *,
    author: str | None = None,
    note: str = "",
) -> HistoryEvent[RetrieveData] | None:
    """Bring archived workshops and versions back (all of them when none are named).

    Refused, with nothing changed, when a file already lies where one would go back.
    """
    item.require_files()
    with storage_errors(f"retrieve into '{item.ref}'"), holding([item]):
        item.require_files()  # a rename or a delete may have moved it meanwhile
        return _retrieve(item, workshops, versions, author, note)


def _retrieve(item: Item, workshops: list[int] | None, versions: list[int] | None,
              author: str | None, note: str) -> HistoryEvent[RetrieveData] | None:
    """Retrieve with the item's mutex held."""
    project = item.project
    state = item.state()
    everything = workshops is None and versions is None
    moved: dict[str, list[int]] = {"workshops": [], "versions": []}
    steps: list[Step] = []
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
            steps.append(MoveStep(project.relative(entry.path),
                                  project.relative(live_path(number))))
    if not steps:
        return None
    record = history.new_event(
        item.ref.address, RetrieveData(tuple(moved["workshops"]), tuple(moved["versions"])),
        author=author, comment=note)
    steps.append(EventStep(project.relative(item.meta), record))
    journal.run(project.root, project.meta, "retrieve", steps)
    return record
