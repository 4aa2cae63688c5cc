"""Notes on an item: its description and its preview images.

The description is the item's ``.op/description.txt``; previews are images in
the item's notes folder, one for the item and one per workshop or version.
Each change is recorded in the history (``describe``, ``preview``).
"""

from __future__ import annotations

from pathlib import Path

from openpipeline.core import fsutil, history
from openpipeline.core.errors import SourceFileError, VersionNotFoundError
from openpipeline.core.events import DescribeData, HistoryEvent, PreviewData
from openpipeline.core.items import Item

PREVIEW_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".exr")


def describe(item: Item, text: str, *, author: str | None = None) -> HistoryEvent[DescribeData]:
    """Set the item's description (a note shown in the browser)."""
    item.require()
    fsutil.atomic_write_text(item.description_file, text)
    record = history.new_event(item.ref.address, DescribeData(), author=author, comment=text)
    history.write_event(item.meta, record)
    return record


def set_preview(
    item: Item, image: Path, *, workshop: int | None = None, version: int | None = None,
    author: str | None = None,
) -> Path:
    """Store a preview image for the item, or for one of its workshops or versions.

    Stored in the item's notes folder as ``preview.<ext>``,
    ``workshop_<NNNN>.<ext>`` or ``version_<NNNN>.<ext>``.
    Cost: one copy of the image and one history event.
    """
    item.require_files()
    image = Path(image)
    if not image.is_file():
        raise SourceFileError(f"Preview image '{image}' does not exist; check the path.")
    ext = image.suffix.lower()
    if ext not in PREVIEW_EXTENSIONS:
        raise SourceFileError(
            f"Preview '{image.name}' must be one of {', '.join(PREVIEW_EXTENSIONS)}."
        )
    target = item.notes_dir / _preview_name(item, ext, workshop, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    fsutil.atomic_copy(image, target)
    history.write_event(item.meta, history.new_event(
        item.ref.address, PreviewData(item.project.relative(target)), author=author,
        version=workshop or version))
    return target


def _preview_name(item: Item, ext: str, workshop: int | None, version: int | None) -> str:
    """``preview.<ext>``, or ``workshop_<NNNN>.<ext>`` / ``version_<NNNN>.<ext>`` if it exists."""
    state = item.state()
    pad = item.project.config.version_padding
    if workshop is not None:
        if workshop not in state.workshops:
            raise VersionNotFoundError(f"Item '{item.ref}' has no workshop {workshop}.")
        return f"workshop_{workshop:0{pad}d}{ext}"
    if version is not None:
        if version not in state.versions:
            raise VersionNotFoundError(f"Item '{item.ref}' has no version {version}.")
        return f"version_{version:0{pad}d}{ext}"
    return f"preview{ext}"
