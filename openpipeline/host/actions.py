"""Pipeline actions that involve the open scene: what the Maya menu calls.

They are written against :class:`openpipeline.host.Host`, so the same code runs
in Maya and, with :class:`openpipeline.host.null.NullHost`, in tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

from openpipeline.core import previews, versions
from openpipeline.core.address import ItemRef
from openpipeline.core.claims import claimed_numbers
from openpipeline.core.errors import VersionNotFoundError
from openpipeline.core.events import HistoryEvent, MasterData, PreviewData, WorkshopData
from openpipeline.core.items import Item
from openpipeline.core.master_options import MasterOptions
from openpipeline.host import Host, keepalive, mastering

SCENE_INFO_ITEM = "openpipeline_item"
SCENE_INFO_VERSION = "openpipeline_workshop"


def save_workshop(item: Item, host: Host, note: str, author: str | None = None,
                  ignore_lock: bool = False) -> HistoryEvent[WorkshopData]:
    """Save the open scene as the item's next workshop and keep working in it.

    The host writes the scene straight to a temporary name beside the final one;
    the core then claims it as the next version. Afterwards the open scene is
    named after the new workshop.
    """
    host.set_scene_info(SCENE_INFO_ITEM, item.ref.address)
    previous = host.current_file()
    try:
        record = versions.save_workshop(item, writer=host.save_as, note=note, author=author,
                                        ignore_lock=ignore_lock)
    except BaseException:
        if previous is not None:  # the scene was saved under a temporary name that is gone now
            host.rename_current(previous)
        raise
    final = item.project.root / record.data.path
    host.set_scene_info(SCENE_INFO_VERSION, str(record.version))
    host.rename_current(final)
    return record


def master_scene(
    item: Item, host: Host, note: str, *, then: str = "workshop", author: str | None = None,
    force: bool = False, repair: bool = False, options: MasterOptions | None = None,
) -> HistoryEvent[MasterData]:
    """openPipeline's *Master*: save a new workshop from the scene, master it, then
    open the workshop (default), the master, or a new scene (``then``).

    The project's master options (or ``options``) apply: their checks run first and
    a refusing one changes nothing; a scene without unsaved changes that is the
    item's latest workshop is mastered as it is, without saving another workshop.
    With repairs switched on, they run on the open scene after its workshop was
    saved, the repaired scene is written as the master, and the workshop is reopened,
    so the workshop never carries the repairs.

    Raises:
        MasterRefusedError: a check set to ``refuse`` found a problem.
        HostCommandError: a repair failed (the workshop is saved; nothing is mastered).
    """
    if then not in ("workshop", "master", "new"):
        raise ValueError(f"then must be 'workshop', 'master' or 'new', not {then!r}")
    options = options or item.project.config.master_options
    warnings = mastering.check_before_master(str(item.ref), host, options)
    number = _workshop_to_master(item, host, note, author)
    for warning in warnings:
        host.warn(warning)
    workshop = item.workshop_path(number)
    if not options.repairs():
        record = versions.master(item, number, note=note, author=author, force=force, repair=repair)
    else:
        try:
            mastering.apply_repairs(host, options)
            record = versions.master(item, number, note=note, author=author, force=force,
                                     repair=repair, writer=host.save_as)
        except BaseException:
            _reopen(host, workshop)  # the repaired scene goes; the workshop comes back
            raise
        if then == "workshop":
            _reopen(host, workshop)
    if then == "master":
        _reopen(host, item.master_path)
    elif then == "new":
        host.new_scene()
    return record


def _reopen(host: Host, path: Path) -> None:
    """Open another file of the same item; its check-out stays kept alive."""
    with keepalive.reopening():
        host.open(path)


def _workshop_to_master(item: Item, host: Host, note: str, author: str | None) -> int:
    """The workshop to master: the open scene if it is an unchanged active workshop, else a new one.

    An older workshop opened to master it (master_scene.py --workshop N) is mastered as
    workshop N: re-saving it would make the old scene the latest workshop.
    """
    current = host.current_file()
    if current is not None and not host.has_unsaved_changes():
        for entry in reversed(item.state().active("workshop")):
            if entry.path == current:
                return entry.number
    saved = save_workshop(item, host, note, author=author).version
    assert saved is not None  # a workshop event always carries its number
    return saved


def capture_preview(kind: str, item: Item, host: Host,
                    author: str | None = None) -> HistoryEvent[PreviewData]:
    """Record a snapshot or playblast of the open scene as the item's preview, and also
    as its workshop's when the open scene is that workshop (the menu's and the browser's).

    Raises:
        SourceFileError: the host wrote nothing (nothing changes).
    """
    if kind == "snapshot":
        suffix = previews.SNAPSHOT_SUFFIX
        def write(path: Path) -> None:
            host.snapshot(path)
    elif kind == "playblast":
        suffix = ".avi" if sys.platform.startswith("win") else ".mov"
        def write(path: Path) -> None:
            host.playblast(path)
    else:
        raise ValueError(f"kind must be 'snapshot' or 'playblast', not {kind!r}")
    record = previews.record_preview(item, write, kind=kind, suffix=suffix, author=author)
    workshop = host.scene_info(SCENE_INFO_VERSION)
    if workshop and workshop.isdigit() and host.current_file() == item.workshop_path(int(workshop)):
        previews.record_preview(item, write, kind=kind, suffix=suffix, workshop=int(workshop),
                                author=author)
    return record


def follow_rename(host: Host, old: Item, renamed: Item) -> None:
    """After ``old`` was renamed to ``renamed``, point the open scene at its item's new address
    when that item is ``old`` or lies below it, and name the scene after its moved file
    (a master, workshop or version of that item); any other scene is left alone.

    Cost: two claim listings when the open scene belongs to the renamed subtree.
    """
    address = host.scene_info(SCENE_INFO_ITEM)
    base = old.ref.address
    if not address or (address != base and not address.startswith(base + "/")):
        return
    was = Item(old.project, ItemRef.parse(address))
    now = Item(renamed.project, ItemRef(renamed.ref.tab,
                                        (*renamed.ref.parts, *was.ref.parts[len(old.ref.parts):])))
    host.set_scene_info(SCENE_INFO_ITEM, now.ref.address)
    current = host.current_file()
    if current is None:
        return
    pairs = [(was.master_path, now.master_path)]
    for kind, old_path, new_path in (("workshop", was.workshop_path, now.workshop_path),
                                     ("version", was.version_path, now.version_path)):
        pairs += [(old_path(n), new_path(n)) for n in claimed_numbers(now.claims_dir(kind))]
    for before, after in pairs:
        if current == before:
            host.rename_current(after)
            return


def bring_in(item: Item, host: Host, mode: str = "reference", workshop: int | None = None,
             namespace: str | None = None) -> Path:
    """Import or reference the item's master (or one of its workshops)."""
    path = item.workshop(workshop).path if workshop is not None else item.master_path
    if not path.is_file():
        raise VersionNotFoundError(f"'{item.ref}' has no master yet; master a workshop first.")
    namespace = namespace or item.stem
    if mode == "reference":
        host.reference(path, namespace)
    elif mode == "import":
        host.import_file(path, namespace)
    else:
        raise ValueError(f"mode must be 'reference' or 'import', not {mode!r}")
    return path
