"""Adopting a project made by the original openPipeline MEL plug-in.

Adoption has two halves. :func:`plan_adoption` only reads: it finds the
project's settings (from the original's registry, else from the folder), walks
``<lib>/<type>/<asset>[/components/<comp>]`` and ``<scenes>/<seq>/<shot>[/...]``,
reads each item's description and history, and matches the history with the
workshops, versions and master on disk. Every problem the user must fix raises a
:class:`~openpipeline.core.errors.UserError` before anything is written.
:func:`adopt` then writes only new files: each item's ``.op/`` (history events,
number claims, description, ``item.json`` last), ``.openpipeline/legacy.json``
and, last of all, ``openpipeline.yaml``. The original's files stay byte for byte.

Each legacy note becomes one of our events, with its author, its time (MEL wrote
local time; stored in UTC) and its comment exactly; adopted events carry the host
``legacy`` and pid 0. Files on disk that no note mentions get an event too, dated
by the file. Event file names and ids are derived from the legacy data, so a run
that died half-way can be run again without duplicating anything.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpipeline.core import fsutil, history
from openpipeline.core.address import ItemRef
from openpipeline.core.config import CONFIG_NAME, FORMATS, ProjectConfig, new_config, save_config
from openpipeline.core.errors import InvalidNameError, UserError
from openpipeline.core.events import (
    SCHEMA,
    ArchiveData,
    CreatedData,
    EventData,
    HistoryEvent,
    MasterData,
    WorkshopData,
)
from openpipeline.core.identity import now_iso
from openpipeline.core.items import Item
from openpipeline.core.layout import ITEM_FILE, PROJECT_META, ProjectLayout
from openpipeline.core.legacy.formats import (
    INFO_FILE,
    LegacyNote,
    LegacySettings,
    find_project,
    legacy_date,
    read_description,
    read_notes,
    read_registry,
)
from openpipeline.core.names import validate_name
from openpipeline.core.project import ITEM_SCHEMA

LEGACY_HOST = "legacy"
ADOPTION_RECORD = "legacy.json"
_PLAIN_FOLDER = re.compile(r"[A-Za-z0-9_]+\Z")


# -- what adoption will write ------------------------------------------------------
@dataclass
class PlannedItem:
    """One item to adopt: its events (in order), the numbers to claim, its description."""

    item: Item
    events: list[HistoryEvent[EventData]]
    workshops: tuple[int, ...] = ()
    versions: tuple[int, ...] = ()
    description: str = ""
    notes_file: str = ""

    @property
    def created(self) -> str:
        return self.events[0].time


@dataclass
class AdoptionPlan:
    """Everything :func:`adopt` writes, worked out from the legacy files alone."""

    root: Path
    config: ProjectConfig
    registry: Path | None
    items: list[PlannedItem]
    warnings: list[str]

    def summary(self) -> dict[str, Any]:
        """Counts of what is adopted, and the warnings (what ``project adopt`` prints)."""
        counts = Counter[str]()
        for planned in self.items:
            counts["events"] += len(planned.events)
            if planned.item.ref.holds_files:
                state = planned.item.state(planned.events)
                counts["workshops"] += len(state.workshops)
                counts["versions"] += len(state.versions)
                counts["masters"] += (state.master is not None
                                      and planned.item.master_path.is_file())
        return {"project": self.config.name, "root": str(self.root),
                "registry": None if self.registry is None else str(self.registry),
                "items": len(self.items), "events": counts["events"],
                "workshops": counts["workshops"], "versions": counts["versions"],
                "masters": counts["masters"], "warnings": list(self.warnings)}


# -- planning (read-only) ---------------------------------------------------------
def plan_adoption(
    root: str | os.PathLike[str], *, registry: Path | None = None, name: str | None = None
) -> AdoptionPlan:
    """Read a legacy project and work out its adoption; writes nothing.

    Args:
        root: the legacy project's folder.
        registry: the original's ``openPipeline_projects.xml``, for the settings;
            without it they are inferred from the folder.
        name: our project name (default: the registry's, else the folder's).

    Raises:
        UserError: not a legacy project, adopted already, or a registry without it.

    Cost: one listing per item folder and one read per description and history file.
    """
    path = Path(root).expanduser().absolute()
    _check_folder(path)
    settings = (find_project(read_registry(registry), path, registry) if registry is not None
                else LegacySettings(name=path.name))
    _check_legacy(path, settings)
    warnings: list[str] = []
    refs = _walk(path, settings, warnings)
    _warn_deleted(path, settings, warnings)
    histories = {ref: _read_history(path, settings, ref) for ref in refs if ref.holds_files}
    config = _config(path, settings, refs, name, registry is None, warnings)
    layout = ProjectLayout(path, config)
    names = _EventNames(config.folders["workshop"], _master_name(settings, registry, histories,
                                                                config.folders["workshop"]))
    planned: dict[ItemRef, PlannedItem] = {}
    for ref in refs:
        if ref.holds_files:
            notes, notes_file = histories[ref]
            planned[ref] = _plan_item(Item(layout, ref), names, notes, notes_file, warnings)
    for ref in refs:
        if not ref.holds_files:
            planned[ref] = _plan_container(Item(layout, ref), list(planned.values()))
    items = [planned[ref] for ref in refs]
    return AdoptionPlan(path, config, registry, items, warnings)


def _check_folder(path: Path) -> None:
    if not path.is_dir():
        raise UserError(f"Folder '{path}' does not exist; give the legacy project's folder.")
    if (path / CONFIG_NAME).exists():
        raise UserError(
            f"'{path}' is an OpenPipeline project already (adopted or created); nothing to "
            "adopt, open it with --project."
        )


def _check_legacy(path: Path, settings: LegacySettings) -> None:
    library, scenes = settings.folders["library"], settings.folders["scenes"]
    if not (path / library).is_dir() and not (path / scenes).is_dir():
        raise UserError(
            f"'{path}' is not an openPipeline project (it has no '{library}' or '{scenes}' "
            "folder); give the folder that holds them."
        )


def _walk(root: Path, settings: LegacySettings, warnings: list[str]) -> list[ItemRef]:
    """Every legacy item, parents first: types and assets (and their components), then shots."""
    reserved = {*settings.folders.values(), settings.workshop_name}
    found: list[ItemRef] = []

    def below(folder: Path, tab: str, parts: tuple[str, ...]) -> None:
        for ref in _children(root, folder, tab, parts, reserved, warnings):
            found.append(ref)
            child = folder / ref.name
            if len(ref.parts) == 1:
                below(child, tab, ref.parts)
            elif len(ref.parts) == 2:
                below(child / "components", tab, ref.parts)

    below(root / settings.folders["library"], "asset", ())
    below(root / settings.folders["scenes"], "shot", ())
    return found


def _children(root: Path, folder: Path, tab: str, parts: tuple[str, ...],
              reserved: set[str], warnings: list[str]) -> list[ItemRef]:
    """The item folders in ``folder`` whose names are ours too (others: a warning each)."""
    try:
        names = sorted(e.name for e in os.scandir(folder)
                       if e.is_dir() and not e.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []
    refs = []
    for name in names:
        try:
            ref = ItemRef.make(tab, *parts, name)
            validate_name(name, ref.label, siblings=names, reserved=reserved)
        except InvalidNameError as exc:
            rel = (folder / name).relative_to(root).as_posix()
            warnings.append(f"{rel}: not adopted, left as it is: {exc}")
            continue
        refs.append(ref)
    return refs


def _warn_deleted(root: Path, settings: LegacySettings, warnings: list[str]) -> None:
    """Items the original deleted (``deleted/<name>_deleted_<j>``) are not adopted: say so."""
    folder = settings.folders["deleted"]
    try:
        names = sorted(n for n in os.listdir(root / folder) if not n.startswith("."))
    except OSError:
        return
    if names:
        warnings.append(f"{folder}/ holds {len(names)} item(s) the original deleted "
                        f"({', '.join(names)}); they are not adopted and stay as they are.")


def _legacy_folder(root: Path, settings: LegacySettings, ref: ItemRef) -> Path:
    """Where openPipeline keeps the item (``openPipelineGetFileName``'s folder)."""
    base = root / settings.folders["library" if ref.tab == "asset" else "scenes"]
    folder = base.joinpath(*ref.parts[:2])
    return folder / "components" / ref.parts[2] if ref.is_component else folder


def _notes_name(ref: ItemRef) -> str:
    if ref.is_component:
        return f"{ref.parts[1]}_{ref.parts[2]}_ComponentNote.xml"
    return f"{ref.parts[1]}_{'AssetNote' if ref.tab == 'asset' else 'SceneNote'}.xml"


def _read_history(root: Path, settings: LegacySettings,
                  ref: ItemRef) -> tuple[tuple[list[LegacyNote], list[str]], Path]:
    path = _legacy_folder(root, settings, ref) / "notes" / _notes_name(ref)
    return read_notes(path, path.relative_to(root).as_posix()), path


# -- the config -------------------------------------------------------------------
def _config(root: Path, settings: LegacySettings, refs: list[ItemRef], name: str | None,
            infer: bool, warnings: list[str]) -> ProjectConfig:
    """Our config for the legacy project: its folder names, formats and workshop name."""
    project_name = name or settings.name or root.name
    try:
        validate_name(project_name, "Project")
    except InvalidNameError as exc:
        raise UserError(f"{str(exc)[:-1]}; give our project a name with --name.") from None
    workshop = settings.workshop_name
    if infer:  # no registry: the workshop folder is found from the files
        workshop = _infer_workshop_name(root, settings, refs)
    folders = {"workshop": workshop}
    for key, value in settings.folders.items():
        if _PLAIN_FOLDER.match(value):
            folders[key] = value
        else:
            warnings.append(f"The {key} folder '{value}' is not a folder inside the project; "
                            f"our {key} folder is '{key}', files in '{value}' are not adopted.")
    legacy = _LegacyFiles(root, settings, workshop)
    formats = {which: _format(getattr(settings, f"{which}_format"), legacy.extensions(which, refs),
                              which, warnings) for which in ("master", "workshop")}
    values: dict[str, Any] = {
        "description": settings.description, "status": "on_hold" if settings.status == "0"
        else "active", "users": list(settings.users), "folders": folders,
        "master_format": formats["master"], "workshop_format": formats["workshop"],
        "deadline": legacy_date(settings.deadline),
    }
    if workshop != "workshop":
        values["templates"] = {"workshop": "{workshop}/{stem}_" + workshop + "_{number}.{ext}"}
    if legacy_date(settings.date):
        values["created"] = legacy_date(settings.date)
    if settings.deadline and not values["deadline"]:
        warnings.append(f"The deadline '{settings.deadline}' is not a date; left it out.")
    return new_config(project_name, **values)


def _format(given: str, found: Counter[str], which: str, warnings: list[str]) -> str:
    """The registry's format, else the most common extension on disk, else ``mb``."""
    if given in FORMATS:
        chosen = given
    else:
        if given:
            warnings.append(f"The {which} format '{given}' is not ma or mb; read it from the files.")
        chosen = found.most_common(1)[0][0] if found else "mb"
    others = sorted(ext for ext in found if ext != chosen)
    if others:
        warnings.append(f"Some {which} files are .{', .'.join(others)}, not .{chosen}; "
                        "they are left as they are, not adopted.")
    return chosen


@dataclass
class _LegacyFiles:
    """The scene files of a legacy project, by openPipeline's names (for inferring settings)."""

    root: Path
    settings: LegacySettings
    workshop: str

    def extensions(self, which: str, refs: list[ItemRef]) -> Counter[str]:
        found = Counter[str]()
        for ref in refs:
            if not ref.holds_files:
                continue
            folder = _legacy_folder(self.root, self.settings, ref)
            stem = "_".join(ref.parts[1:])
            if which == "workshop":
                found.update(_numbered(folder / self.workshop, f"{stem}_{self.workshop}").values())
            else:
                found.update(_numbered(folder / "version", f"{stem}_version").values())
                found.update(_masters(folder, ref))
        return found


def _numbered(folder: Path, prefix: str) -> dict[Path, str]:
    """Files ``<prefix>_<digits>.<ext>`` in ``folder``, with their extensions."""
    pattern = re.compile(re.escape(prefix) + r"_(\d+)\.(\w+)\Z")
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return {folder / n: m.group(2) for n in names if (m := pattern.match(n)) is not None}


def _masters(folder: Path, ref: ItemRef) -> list[str]:
    """Extensions of the master files in an item folder (``<asset>_asset.<ext>`` ...)."""
    stem = (f"{ref.parts[1]}_{ref.parts[2]}" if ref.is_component
            else f"{ref.parts[1]}_{'asset' if ref.tab == 'asset' else 'shot'}")
    return [ext for ext in FORMATS if (folder / f"{stem}.{ext}").is_file()]


def _infer_workshop_name(root: Path, settings: LegacySettings, refs: list[ItemRef]) -> str:
    """The workshop folder (and word) most items use: ``F/<W>/<stem>_<W>_NNNN.<ext>``."""
    votes = Counter[str]()
    for ref in refs:
        if not ref.holds_files:
            continue
        folder = _legacy_folder(root, settings, ref)
        stem = "_".join(ref.parts[1:])
        for entry in os.scandir(folder):
            if entry.is_dir() and entry.name not in ("version", "notes", "components", "textures"):
                votes[entry.name] += bool(_numbered(Path(entry.path), f"{stem}_{entry.name}"))
    best = [name for name, count in votes.most_common(1) if count]
    return best[0] if best else "workshop"


def _master_name(settings: LegacySettings, registry: Path | None,
                 histories: dict[ItemRef, Any], workshop: str) -> str:
    """The registry's master name, else the one event name besides created and workshop."""
    if registry is not None:
        return settings.master_name
    seen = {note.event for (notes, _), _ in histories.values() for note in notes
            if not note.event.startswith("created")}
    others = seen - {workshop}
    return others.pop() if len(others) == 1 else settings.master_name


# -- the events of one item ---------------------------------------------------------
@dataclass(frozen=True)
class _EventNames:
    """What the original wrote as the event of a workshop save and of a master."""

    workshop: str
    master: str


@dataclass
class _Draft:
    """An event before it has its file name: ``order`` places it in the history."""

    key: str
    when: _dt.datetime
    data: EventData
    author: str = ""
    version: int | None = None
    comment: str = ""
    order: _dt.datetime | None = None


def _mtime(path: Path) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.timezone.utc)


@dataclass
class _FilesOnDisk:
    """An item's numbered files found live and in the archive mirror."""

    workshops: dict[int, Path] = field(default_factory=dict)
    versions: dict[int, Path] = field(default_factory=dict)
    archived_workshops: list[int] = field(default_factory=list)
    archived_versions: list[int] = field(default_factory=list)

    @classmethod
    def scan(cls, item: Item, warnings: list[str]) -> _FilesOnDisk:
        config = item.project.config
        found = cls()
        found.workshops, found.archived_workshops = _scan_numbered(
            item, item.workshop_path, config.workshop_format, warnings)
        found.versions, found.archived_versions = _scan_numbered(
            item, item.version_path, config.master_format, warnings)
        return found

    def size(self, path: Path | None) -> int:
        return path.stat().st_size if path is not None and path.is_file() else 0


def _scan_numbered(item: Item, path_of: Callable[[int], Path], ext: str,
                   warnings: list[str]) -> tuple[dict[int, Path], list[int]]:
    """Numbered files of one kind: number -> where it lies (live first), and the archived ones."""
    live_folder = path_of(1).parent
    prefix = path_of(1).name.rsplit("_", 1)[0]
    table: dict[int, Path] = {}
    archived: list[int] = []
    for folder, in_archive in ((live_folder, False), (item.archived(live_folder), True)):
        for path, found_ext in sorted(_numbered(folder, prefix).items()):
            number = int(path.name[len(prefix) + 1:].split(".")[0])
            expected = item.archived(path_of(number)) if in_archive else path_of(number)
            if path != expected:
                if found_ext == ext:
                    warnings.append(f"{item.project.relative(path)}: its number is not written "
                                    "with the project's padding; left as it is, not adopted.")
                continue
            if in_archive and number not in table:
                archived.append(number)
            table.setdefault(number, path)
    return table, archived


@dataclass
class _ItemAdoption:
    """Turns one item's legacy notes and files into our events."""

    item: Item
    names: _EventNames
    files: _FilesOnDisk
    warnings: list[str]
    notes_source: str
    fallback_time: _dt.datetime
    drafts: list[_Draft] = field(default_factory=list)
    noted_workshops: set[int] = field(default_factory=set)
    masters: int = 0
    last_workshop: int = 0

    def add_note(self, note: LegacyNote) -> None:
        when = note.when()
        if when is None:
            self.warnings.append(f"{self.notes_source}: note {note.index} has no valid date and "
                                 f"time ('{note.date} {note.time}'); dated it by the note before.")
            when = self.drafts[-1].when if self.drafts else self.fallback_time
        data, version = self._data_of(note)
        if data is None:
            return
        previous = self.drafts[-1].order if self.drafts else None
        order = when if previous is None or when > previous else previous
        self.drafts.append(_Draft(f"note:{note.index}", when, data, note.author, version,
                                  note.comment, order))

    def _data_of(self, note: LegacyNote) -> tuple[EventData | None, int | None]:
        item, files = self.item, self.files
        if note.event.startswith("created"):
            return CreatedData(item.ref.kind, item.rel), None
        if note.event == self.names.workshop and note.version:
            self.noted_workshops.add(note.version)
            self.last_workshop = note.version
            path = files.workshops.get(note.version)
            return WorkshopData(item.project.relative(item.workshop_path(note.version)), "",
                                files.size(path)), note.version
        if note.event == self.names.master:
            self.masters += 1
            workshop = self._mastered_workshop()
            return self._master_data(self.masters, workshop), workshop or None
        what = "a workshop note without a version" if note.event == self.names.workshop else (
            f"event '{note.event}' is neither created, {self.names.workshop} nor {self.names.master}")
        self.warnings.append(f"{self.notes_source}: note {note.index} is {what}; skipped it.")
        return None, None

    def _mastered_workshop(self) -> int:
        """The workshop the original saved just before the master (same comment), else the last."""
        last = self.drafts[-1] if self.drafts else None
        if last is not None and isinstance(last.data, WorkshopData) and last.version:
            return last.version
        return self.last_workshop

    def _master_data(self, k: int, workshop: int) -> MasterData:
        """The k-th master: it kept the (k-1)-th version; its file is version k, or the master."""
        versions = sorted(self.files.versions)
        preserved = versions[k - 2] if 2 <= k <= len(versions) + 1 else None
        made = self.files.versions[versions[k - 1]] if k <= len(versions) else self.item.master_path
        return MasterData(workshop=workshop, preserved_version=preserved,
                          path=self.item.project.relative(self.item.master_path),
                          size=self.files.size(made), forced=False, problems=(), repaired=())

    def add_files_without_notes(self) -> None:
        """Workshops and masters on disk that no note mentions, dated by their files."""
        unnoted = [n for n in sorted(self.files.workshops) if n not in self.noted_workshops]
        for number in unnoted:
            path = self.files.workshops[number]
            self.drafts.append(_Draft(
                f"workshop-file:{number}", _mtime(path),
                WorkshopData(self.item.project.relative(self.item.workshop_path(number)), "",
                             self.files.size(path)), version=number))
        versions = sorted(self.files.versions)
        made = [self.files.versions[n] for n in versions]
        if self.item.master_path.is_file():
            made.append(self.item.master_path)
        for k in range(self.masters + 1, len(made) + 1):
            self.drafts.append(_Draft(f"master-file:{k}", _mtime(made[k - 1]),
                                      self._master_data(k, 0)))
        lost = sorted(self.noted_workshops - set(self.files.workshops))
        if lost:
            self.warnings.append(
                f"{self.item.rel}: the history names workshop(s) {', '.join(map(str, lost))} "
                "but no such file is in the item or the archive; recorded them as they are.")
        missing = len(unnoted) + max(0, len(made) - self.masters)
        if missing:
            self.warnings.append(
                f"{self.item.rel}: {missing} workshop or master file(s) have no note in the "
                "history; recorded them with their file times and no author.")

    def add_archive(self) -> None:
        """One ``archive`` event for what lies in the archive mirror, last in the history."""
        files = self.files
        if not (files.archived_workshops or files.archived_versions):
            return
        when = max(d.when for d in self.drafts) if self.drafts else self.fallback_time
        keep = len(files.workshops) - len(files.archived_workshops)
        self.drafts.append(_Draft("archive", when, ArchiveData(
            tuple(files.archived_workshops), tuple(files.archived_versions), keep)))


def _plan_item(item: Item, names: _EventNames, notes: tuple[list[LegacyNote], list[str]],
               notes_file: Path, warnings: list[str]) -> PlannedItem:
    """The events, claims and description of an asset, shot or component."""
    project = item.project
    legacy_notes, note_warnings = notes
    warnings.extend(note_warnings)
    fallback = _mtime(notes_file if notes_file.is_file() else item.path)
    adoption = _ItemAdoption(item, names, _FilesOnDisk.scan(item, warnings), warnings,
                             project.relative(notes_file), fallback)
    for note in legacy_notes:
        adoption.add_note(note)
    adoption.add_files_without_notes()
    adoption.add_archive()
    description = read_description(item.notes_dir / INFO_FILE)
    if description is None:
        warnings.append(f"{project.relative(item.notes_dir / INFO_FILE)}: no <description> in "
                        "it; the item has no description.")
    return PlannedItem(
        item=item, events=_records(item, adoption.drafts, fallback),
        workshops=tuple(sorted(adoption.noted_workshops | set(adoption.files.workshops))),
        versions=tuple(sorted(adoption.files.versions)), description=description or "",
        notes_file=project.relative(notes_file) if notes_file.is_file() else "")


def _plan_container(item: Item, planned: list[PlannedItem]) -> PlannedItem:
    """An asset type or sequence: only a ``created`` event, as old as its oldest child."""
    times = [_dt.datetime.fromisoformat(p.created) for p in planned
             if item.ref.contains(p.item.ref)]
    when = min(times) if times else _mtime(item.path)
    draft = _Draft("created", when, CreatedData(item.ref.kind, item.rel))
    return PlannedItem(item=item, events=_records(item, [draft], when))


def _records(item: Item, drafts: list[_Draft], fallback: _dt.datetime) -> list[HistoryEvent[EventData]]:
    """Our event records, in history order: created first, notes and files by time."""
    created = next((d for d in drafts if isinstance(d.data, CreatedData)), None)
    rest = [d for d in drafts if d is not created]
    if created is None:
        first = min((d.when for d in rest), default=fallback)
        created = _Draft("created", first, CreatedData(item.ref.kind, item.rel))
    archive = [d for d in rest if isinstance(d.data, ArchiveData)]
    ordered = sorted((d for d in rest if d not in archive), key=lambda d: d.order or d.when)
    records = []
    previous = 0
    for draft in [created, *ordered, *archive]:
        stamp = max(int((draft.order or draft.when).timestamp() * 1e9), previous + 1, 0)
        previous = stamp
        records.append(_record(item, draft, stamp))
    return records


def _record(item: Item, draft: _Draft, stamp: int) -> HistoryEvent[EventData]:
    """One adopted event; its id and file name come from the legacy data alone."""
    address = item.ref.address
    event_id = hashlib.sha256(f"{address}\n{draft.key}".encode()).hexdigest()[:32]
    kind = draft.data.KIND
    return HistoryEvent(schema=SCHEMA, id=event_id, event=kind, item=address,
                        time=draft.when.isoformat(), author=draft.author, host=LEGACY_HOST, pid=0,
                        version=draft.version, comment=draft.comment, data=draft.data,
                        file=f"{stamp:020d}-{kind}-{event_id[:12]}.json")


# -- writing ---------------------------------------------------------------------------
def adopt(plan: AdoptionPlan) -> dict[str, Any]:
    """Write the plan: new metadata files only; the config last.

    An item whose ``item.json`` exists was adopted by an earlier run and is left as
    it is. Returns the summary, also kept in ``.openpipeline/legacy.json``.

    Cost: a few small file writes per event and per item.
    """
    meta = plan.root / PROJECT_META
    meta.mkdir(exist_ok=True)
    for planned in plan.items:
        _write_item(planned)
    summary = plan.summary()
    fsutil.atomic_write_json(meta / ADOPTION_RECORD, {**summary, "adopted": now_iso()})
    save_config(plan.root, plan.config)  # written last: a project exists once its config does
    return summary


def _write_item(planned: PlannedItem) -> None:
    item = planned.item
    item.meta.mkdir(exist_ok=True)
    if item.exists():
        return
    for record in planned.events:
        history.write_event(item.meta, record)
    for kind, numbers in (("workshop", planned.workshops), ("version", planned.versions)):
        if numbers:
            item.claims_dir(kind).mkdir(parents=True, exist_ok=True)
        for number in numbers:
            fsutil.create_exclusive(item.claims_dir(kind) / str(number))
    if planned.description:
        fsutil.atomic_write_text(item.description_file, planned.description)
    info = {"schema": ITEM_SCHEMA, "kind": item.ref.kind, "created": planned.created,
            "id": os.urandom(8).hex(), "legacy": {"notes": planned.notes_file}}
    fsutil.create_exclusive(item.meta / ITEM_FILE, fsutil.dump_json(info))
