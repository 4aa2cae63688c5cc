"""Qt models over the plain data of :mod:`openpipeline.ui.snapshot`.

- :class:`ScanThread` reads a tab off the UI thread: names first (the lists paint
  at once), then details in chunks (markers, check-outs fill in).
- :class:`ItemListModel` holds one tab's rows; painting reads only memory.
- :class:`LevelFilter` shows one level (types, assets, components) under the
  selected parent, filtered by the search text.
- :class:`VersionsModel` lists one item's versions; :class:`ThumbnailCache` loads
  their previews on a thread pool and keeps them.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from Qt import QtCore, QtGui

from openpipeline.core.layout import ProjectLayout
from openpipeline.ui.snapshot import ItemRow, VersionRow, detail_rows, list_rows

ROW_ROLE = int(QtCore.Qt.ItemDataRole.UserRole) + 1
MARKER_ROLE = int(QtCore.Qt.ItemDataRole.UserRole) + 2
ADDRESS_ROLE = int(QtCore.Qt.ItemDataRole.UserRole) + 3
DISPLAY = int(QtCore.Qt.ItemDataRole.DisplayRole)
THUMBNAIL_SIZE = (164, 105)  # openPipeline's thumbnails
CHUNK = 200
MARKER_COLOURS = {"master": "#3fae49", "workshops": "#e0a030", "empty": "#8a8a8a",
                  "folder": "#6a8caf", "unknown": "#b0b0b0", "open": "#2f7fe0"}
MARKER_TIPS = {"master": "has a master", "workshops": "workshops only, no master yet",
               "empty": "nothing saved yet", "folder": "holds items", "unknown": "reading...",
               "open": "open now"}


class ScanThread(QtCore.QThread):
    """Reads one tab of a project off the UI thread.

    Emits ``listed`` once with the asset types (or sequences), ``added`` with the items
    below each of them in turn (names only: the lists paint after the first), then
    ``detailed`` with chunks of rows whose details are read. ``failed`` carries an
    error sentence.
    """

    listed = QtCore.Signal(object)
    added = QtCore.Signal(object)
    detailed = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, project: ProjectLayout, tab: str, parent: Any = None) -> None:
        super().__init__(parent)
        self.project, self.tab = project, tab

    def run(self) -> None:
        try:
            tops = list_rows(self.project, self.tab, depth=1)
            self.listed.emit(tops)
            rows = list(tops)
            for top in tops:
                if self.isInterruptionRequested():
                    return
                below = list_rows(self.project, self.tab, under=top.ref)
                self.added.emit(below)
                rows += below
            for start in range(0, len(rows), CHUNK):
                if self.isInterruptionRequested():
                    return
                self.detailed.emit(detail_rows(self.project, rows[start:start + CHUNK]))
                self.msleep(1)  # let the UI thread take the GIL between chunks
        except Exception as exc:  # a thread must not die silently: the tab shows the sentence
            self.failed.emit(str(exc))


class ItemListModel(QtCore.QAbstractListModel):
    """One tab's items (all levels), held in memory."""

    added = QtCore.Signal(list)  # addresses appended by add_rows

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[ItemRow] = []
        self._index: dict[str, int] = {}
        self.by_level: dict[int, list[str]] = {}  # addresses per level (1, 2, 3)
        self.by_parent: dict[str, list[str]] = {}  # addresses per parent address
        self.open_address = ""
        self._icons: dict[str, Any] = {}

    def rowCount(self, parent: Any = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return len(self.rows)

    def set_rows(self, rows: list[ItemRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self._index = {row.address: i for i, row in enumerate(self.rows)}
        self.by_level = {}
        self.by_parent = {}
        for row in self.rows:
            self.by_level.setdefault(row.level, []).append(row.address)
            self.by_parent.setdefault(row.parent_address, []).append(row.address)
        self.endResetModel()

    def add_rows(self, rows: list[ItemRow]) -> None:
        """Append rows (listed below an asset type or sequence); the levels add theirs."""
        if not rows:
            return
        start = len(self.rows)
        self.beginInsertRows(QtCore.QModelIndex(), start, start + len(rows) - 1)
        self.rows.extend(rows)
        for i, row in enumerate(rows, start):
            self._index[row.address] = i
            self.by_level.setdefault(row.level, []).append(row.address)
            self.by_parent.setdefault(row.parent_address, []).append(row.address)
        self.endInsertRows()
        self.added.emit([row.address for row in rows])

    def update_rows(self, rows: list[ItemRow]) -> None:
        """Replace rows already listed (matched by address); others are ignored."""
        changed = []
        for row in rows:
            i = self._index.get(row.address)
            if i is not None:
                self.rows[i] = row
                changed.append(i)
        if changed:
            self.dataChanged.emit(self.index(min(changed)), self.index(max(changed)), [])

    def set_open_address(self, address: str) -> None:
        """Mark the item open now (its row is drawn bold, with the 'open' marker)."""
        before, self.open_address = self.open_address, address
        for old in (before, address):
            i = self._index.get(old)
            if i is not None:
                self.dataChanged.emit(self.index(i), self.index(i), [])

    def row_of(self, address: str) -> ItemRow | None:
        i = self._index.get(address)
        return None if i is None else self.rows[i]

    def marker(self, row: ItemRow) -> str:
        return "open" if row.address == self.open_address else row.marker

    def data(self, index: Any, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        return self._data(self.rows[index.row()], int(role))

    def row_data(self, address: str, role: int) -> Any:
        """What :meth:`data` gives for the row of ``address`` (None if it is gone)."""
        i = self._index.get(address)
        return None if i is None else self._data(self.rows[i], role)

    def _data(self, row: ItemRow, role: int) -> Any:
        if role == int(QtCore.Qt.ItemDataRole.DisplayRole):
            return f"{row.name}   [checked out: {row.locked_by}]" if row.locked_by else row.name
        if role in (ROW_ROLE, MARKER_ROLE, ADDRESS_ROLE, int(QtCore.Qt.ItemDataRole.DecorationRole)):
            return {ROW_ROLE: row, MARKER_ROLE: self.marker(row), ADDRESS_ROLE: row.address}.get(
                role) or self._icon(self.marker(row))
        if role == int(QtCore.Qt.ItemDataRole.FontRole) and row.address == self.open_address:
            font = QtGui.QFont()
            font.setBold(True)
            return font
        if role == int(QtCore.Qt.ItemDataRole.ToolTipRole):
            return _tooltip(row, self.marker(row))
        return None

    def _icon(self, marker: str) -> Any:
        """A coloured dot per marker, drawn once (on the UI thread)."""
        icon = self._icons.get(marker)
        if icon is None:
            pixmap = QtGui.QPixmap(12, 12)
            pixmap.fill(QtCore.Qt.GlobalColor.transparent)
            painter = QtGui.QPainter(pixmap)
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
            painter.setBrush(QtGui.QColor(MARKER_COLOURS[marker]))
            painter.setPen(QtCore.Qt.PenStyle.NoPen)
            painter.drawEllipse(1, 1, 10, 10)
            painter.end()
            icon = self._icons[marker] = QtGui.QIcon(pixmap)
        return icon


def _tooltip(row: ItemRow, marker: str) -> str:
    lines = [row.address, MARKER_TIPS[marker]]
    if row.ref.holds_files and row.marker != "unknown":
        lines.append(f"{row.workshops} workshop(s)")
    if row.locked_by:
        lines.append(f"checked out by {row.locked_by}{' (stale)' if row.lock_stale else ''}")
    if row.description:
        lines.append(row.description)
    return "\n".join(lines)


class LevelModel(QtCore.QAbstractListModel):
    """One level of a tab under one parent, filtered by a search text (case-insensitive).

    An own index rather than a proxy: the rows under each parent are grouped once per
    listing, so choosing a parent or typing a filter is a list comprehension over the
    rows concerned, not a Python call per row of the tab.
    """

    def __init__(self, source: ItemListModel, level: int, parent: Any = None) -> None:
        super().__init__(parent)
        self.source, self.level = source, level
        self.parent_address: str | None = None  # None: under every parent
        self.text = ""
        self.addresses: list[str] = []
        self._positions: dict[str, int] = {}
        source.modelReset.connect(self._refilter)
        source.added.connect(self._added)
        source.dataChanged.connect(self._source_changed)

    def rowCount(self, parent: Any = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.addresses)

    def data(self, index: Any, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        return self.source.row_data(self.addresses[index.row()], int(role))

    def set_parent_address(self, address: str | None) -> None:
        if address != self.parent_address:
            self.parent_address = address
            self._refilter()

    def set_text(self, text: str) -> None:
        text = text.strip().lower()
        if text != self.text:
            self.text = text
            self._refilter()

    def index_of(self, address: str) -> Any:
        """The index of an address shown now (an invalid index if it is not)."""
        position = self._positions.get(address)
        return QtCore.QModelIndex() if position is None else self.index(position)

    def _refilter(self) -> None:
        if self.parent_address is None:
            candidates = self.source.by_level.get(self.level, [])
        else:
            candidates = self.source.by_parent.get(self.parent_address, [])
        text = self.text
        self.beginResetModel()
        self.addresses = [a for a in candidates if not text or text in a.lower()]
        self._positions = {a: i for i, a in enumerate(self.addresses)}
        self.endResetModel()

    def _accepts(self, address: str) -> bool:
        row = self.source.row_of(address)
        if row is None or row.level != self.level:
            return False
        if self.parent_address is not None and row.parent_address != self.parent_address:
            return False
        return not self.text or self.text in address.lower()

    def _added(self, addresses: list[str]) -> None:
        new = [a for a in addresses if self._accepts(a)]
        if not new:
            return
        start = len(self.addresses)
        self.beginInsertRows(QtCore.QModelIndex(), start, start + len(new) - 1)
        self.addresses.extend(new)
        self._positions.update((a, i) for i, a in enumerate(new, start))
        self.endInsertRows()

    def _source_changed(self, *_args: Any) -> None:
        if self.addresses:
            self.dataChanged.emit(self.index(0), self.index(len(self.addresses) - 1), [])


class ThumbnailCache(QtCore.QObject):
    """Previews read on a thread pool, scaled to 164×105 and kept (least recently used out)."""

    ready = QtCore.Signal(str)
    _loaded = QtCore.Signal(str, object)

    def __init__(self, capacity: int = 500, parent: Any = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self._images: OrderedDict[str, Any] = OrderedDict()
        self._pending: set[str] = set()
        self.pool = QtCore.QThreadPool(self)
        self._loaded.connect(self._store)

    def get(self, folder: Path, names: tuple[str, ...]) -> Any:
        """The pixmap for the first of ``names`` in ``folder``, or None while it loads
        (``ready`` is emitted with its key then) or when there is none."""
        key = f"{folder}|{'|'.join(names)}"
        if key in self._images:
            self._images.move_to_end(key)
            image = self._images[key]
            return None if image is None else QtGui.QPixmap.fromImage(image)
        if key not in self._pending:
            self._pending.add(key)
            self.pool.start(_ThumbnailJob(key, folder, names, self._loaded))
        return None

    def _store(self, key: str, image: Any) -> None:
        self._pending.discard(key)
        self._images[key] = image
        while len(self._images) > self.capacity:
            self._images.popitem(last=False)
        self.ready.emit(key)


class _ThumbnailJob(QtCore.QRunnable):
    """Find and read one preview (QImage is safe off the UI thread; QPixmap is not)."""

    def __init__(self, key: str, folder: Path, names: tuple[str, ...], done: Any) -> None:
        super().__init__()
        self.key, self.folder, self.names, self.done = key, folder, names, done

    def run(self) -> None:
        image = None
        for name in self.names:
            path = self.folder / name
            if path.is_file():
                loaded = QtGui.QImage(str(path))
                if not loaded.isNull():
                    image = loaded.scaled(*THUMBNAIL_SIZE, QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                                          QtCore.Qt.TransformationMode.SmoothTransformation)
                    break
        self.done.emit(self.key, image)


VERSION_COLUMNS = ("Preview", "Version", "Author", "Time", "Note")


class VersionsModel(QtCore.QAbstractTableModel):
    """One item's master, workshops and versions, with thumbnails from the cache."""

    def __init__(self, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[VersionRow] = []
        self.notes_dir: Path | None = None
        self.thumbnails = thumbnails
        thumbnails.ready.connect(self._thumbnail_ready)

    def set_rows(self, rows: list[VersionRow], notes_dir: Path | None) -> None:
        self.beginResetModel()
        self.rows, self.notes_dir = list(rows), notes_dir
        self.endResetModel()

    def rowCount(self, parent: Any = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent: Any = None) -> int:
        return len(VERSION_COLUMNS)

    def headerData(self, section: int, orientation: Any, role: int = DISPLAY) -> Any:
        if orientation == QtCore.Qt.Orientation.Horizontal and int(role) == DISPLAY:
            return VERSION_COLUMNS[section]
        return None

    def data(self, index: Any, role: int = QtCore.Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, role = self.rows[index.row()], int(role)
        if role == int(QtCore.Qt.ItemDataRole.DisplayRole):
            return ("", row.label, row.author, row.time, row.note)[index.column()]
        if role == ROW_ROLE:
            return row
        if role == int(QtCore.Qt.ItemDataRole.DecorationRole) and index.column() == 0 and self.notes_dir:
            return self.thumbnails.get(self.notes_dir, row.preview_names)
        return None

    def _thumbnail_ready(self, key: str) -> None:
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, 0), [])
