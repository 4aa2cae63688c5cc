"""Previews taken by a host: a snapshot (a still of the viewport) or a playblast.

openPipeline kept an item's pictures in its notes folder as ``preview.jpg`` and
``playblast.<ext>``; those names are kept for the item's own preview. A preview
of one workshop or version is named after it, like :func:`notes.set_preview` does::

    notes/preview.jpg                  notes/playblast.mov
    notes/workshop_0003.jpg            notes/workshop_0003_playblast.mov
    notes/version_0002.jpg             notes/version_0002_playblast.mov

The host writes the picture to a hidden temporary name beside the final one; it is
flushed and renamed into place only once whole, so a browser never shows half an
image, and a failed capture leaves the previous preview as it was. Each recorded
preview adds a ``preview`` event to the item's history.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from openpipeline.atomic import fsync_path, temp_path_for, unlink_quietly
from openpipeline.core import history
from openpipeline.core.errors import SourceFileError, VersionNotFoundError
from openpipeline.core.events import HistoryEvent, PreviewData
from openpipeline.core.items import Item

SNAPSHOT_SIZE = (164, 105)  # openPipeline's thumbnail size
SNAPSHOT_SUFFIX = ".jpg"
KINDS = ("snapshot", "playblast")


def preview_path(item: Item, kind: str, suffix: str, *, workshop: int | None = None,
                 version: int | None = None) -> Path:
    """Where a ``kind`` preview (``snapshot`` or ``playblast``) of the item or one of its versions lies.

    Raises:
        VersionNotFoundError: the workshop or version is not the item's.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be 'snapshot' or 'playblast', not {kind!r}")
    pad = item.project.config.version_padding
    if workshop is not None or version is not None:
        state = item.state()
        label, number, known = (("workshop", workshop, state.workshops) if workshop is not None
                                else ("version", version, state.versions))
        if number not in known:
            raise VersionNotFoundError(f"Item '{item.ref}' has no {label} {number}; pick one it has.")
        stem = f"{label}_{number:0{pad}d}"
        stem = stem if kind == "snapshot" else f"{stem}_playblast"
    else:
        stem = "preview" if kind == "snapshot" else "playblast"
    return item.notes_dir / f"{stem}{suffix.lower()}"


def record_preview(
    item: Item, writer: Callable[[Path], None], *, kind: str = "snapshot",
    suffix: str = SNAPSHOT_SUFFIX, workshop: int | None = None, version: int | None = None,
    author: str | None = None,
) -> HistoryEvent[PreviewData]:
    """Have ``writer`` capture a preview and publish it whole at :func:`preview_path`.

    Args:
        writer: writes the picture or movie at the path it is given (a hidden
            temporary name with ``suffix``, beside the final one).
        kind: ``snapshot`` or ``playblast``.

    Returns:
        The ``preview`` event written to the history.

    Raises:
        SourceFileError: the writer wrote nothing (nothing changes).

    Cost: the capture, one fsync, one rename and one history event.
    """
    item.require_files()
    target = preview_path(item, kind, suffix, workshop=workshop, version=version)
    target.parent.mkdir(parents=True, exist_ok=True)
    item.project.confine(target)
    staged = temp_path_for(target)
    try:
        writer(staged)
        if not staged.is_file() or staged.stat().st_size == 0:
            raise SourceFileError(f"The host wrote no {kind} for '{item.ref}'; check the viewport "
                                  "and try again.")
        fsync_path(staged)
        os.replace(staged, target)
    except BaseException:
        unlink_quietly(staged)
        raise
    record = history.new_event(item.ref.address, PreviewData(item.project.relative(target)),
                               author=author, version=workshop or version,
                               comment=f"{kind} {target.name}")
    history.write_event(item.meta, record)
    return record
