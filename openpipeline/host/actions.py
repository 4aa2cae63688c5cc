"""Pipeline actions that involve the open scene: what the Maya menu calls.

They are written against :class:`openpipeline.host.Host`, so the same code runs
in Maya and, with :class:`openpipeline.host.null.NullHost`, in tests.
"""

from __future__ import annotations

from pathlib import Path

from openpipeline.core import versions
from openpipeline.core.errors import VersionNotFoundError
from openpipeline.core.events import HistoryEvent, MasterData, WorkshopData
from openpipeline.core.items import Item
from openpipeline.host import Host

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
    force: bool = False, repair: bool = False,
) -> HistoryEvent[MasterData]:
    """openPipeline's *Master*: save a new workshop from the scene, master it, then
    open the workshop (default), the master, or a new scene (``then``)."""
    if then not in ("workshop", "master", "new"):
        raise ValueError(f"then must be 'workshop', 'master' or 'new', not {then!r}")
    saved = save_workshop(item, host, note, author=author)
    record = versions.master(item, saved.version, note=note, author=author, force=force,
                             repair=repair)
    if then == "master":
        host.open(item.master_path)
    elif then == "new":
        host.new_scene()
    return record


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
