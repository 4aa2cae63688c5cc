"""The Asset Browser and the Shot Browser: three lists, the versions, the actions.

Types (or sequences) → assets (or shots) → components, as openPipeline showed them;
the search box filters the middle and right lists. Every action calls the same core
function as the CLI through :meth:`BrowserContext.run`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from Qt import QtCore, QtWidgets

from openpipeline.core import archive, checkout, notes, removal, rename
from openpipeline.core.address import LEVEL_LABELS, ItemRef
from openpipeline.core.errors import UserError
from openpipeline.core.items import Item
from openpipeline.host import actions
from openpipeline.ui.context import BrowserContext, action_grid, add_shortcut, versions_table
from openpipeline.ui.dialogs import DeletedItems, HistoryView
from openpipeline.ui.models import (
    ADDRESS_ROLE,
    ROW_ROLE,
    ItemListModel,
    LevelModel,
    ScanThread,
    ThumbnailCache,
    VersionsModel,
)
from openpipeline.ui.snapshot import ItemRow, VersionRow, detail_rows, versions_of

# (label, shortcut, method name): the action buttons, in order.
ACTIONS = (
    ("Open Master", "", "open_master"), ("View Master", "", "view_master"),
    ("Open Workshop", "Ctrl+O", "open_workshop"),
    ("Import Master", "", "import_master"), ("Reference Master", "Ctrl+R", "reference_master"),
    ("Import Workshop", "", "import_workshop"), ("Reference Workshop", "", "reference_workshop"),
    ("New...", "Ctrl+N", "new_item"), ("Rename...", "F2", "rename_item"),
    ("Describe...", "", "describe_item"),
    ("Archive", "", "archive_item"), ("Retrieve", "", "retrieve_item"),
    ("Delete", "Del", "delete_item"), ("Deleted Items...", "", "show_deleted"),
    ("Check Out", "Ctrl+K", "check_out"), ("Release", "", "release"), ("Steal...", "", "steal"),
    ("History", "Ctrl+H", "show_history"), ("Open Folder", "", "open_folder"),
)


class LibraryBrowser(QtWidgets.QWidget):
    """The Asset Browser (``tab='asset'``) or the Shot Browser (``tab='shot'``)."""

    loaded = QtCore.Signal()

    def __init__(self, context: BrowserContext, tab: str, thumbnails: ThumbnailCache,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx, self.tab = context, tab
        self.model = ItemListModel(self)
        self.filters = [LevelModel(self.model, level, self) for level in (1, 2, 3)]
        for proxy in self.filters[1:]:  # no type or asset chosen: nothing shown below it
            proxy.set_parent_address("")
        self.versions = VersionsModel(thumbnails, self)
        self.is_loaded = False
        self._select_after_load = ""
        self._keep = ""  # the selection to restore once a reload lists it
        self._thread: ScanThread | None = None
        self.buttons: dict[str, Any] = {}
        self._build()
        context.signals.project_changed.connect(self.reload)
        context.signals.items_changed.connect(self.refresh)
        context.signals.current_changed.connect(self._current_changed)

    # -- building ----------------------------------------------------------
    def _build(self) -> None:
        self.search = QtWidgets.QLineEdit(placeholderText="Filter (Ctrl+F)", clearButtonEnabled=True)
        self.search.textChanged.connect(self.set_filter)
        self.lists = [self._list_view(proxy, label)
                      for proxy, label in zip(self.filters, LEVEL_LABELS[self.tab], strict=True)]
        columns = QtWidgets.QHBoxLayout()
        for view, label in zip(self.lists, LEVEL_LABELS[self.tab], strict=True):
            box = QtWidgets.QVBoxLayout()
            box.addWidget(QtWidgets.QLabel(f"<b>{label}s</b>"))
            box.addWidget(view)
            columns.addLayout(box)
        self.details = QtWidgets.QLabel(wordWrap=True)
        self.version_view = versions_table(self.versions)
        self.version_view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.status = QtWidgets.QLabel("Loading...")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addLayout(columns, 3)
        layout.addWidget(self.details)
        layout.addWidget(self.version_view, 2)
        layout.addLayout(action_grid(self, ACTIONS, 7, self.buttons))
        layout.addWidget(self.status)
        add_shortcut(self, "Ctrl+F", lambda: self.search.setFocus())

    def _list_view(self, proxy: LevelModel, label: str) -> Any:
        view = QtWidgets.QListView()
        view.setModel(proxy)
        view.setUniformItemSizes(True)  # no per-row size query: fast on 10,000 rows
        view.setAccessibleName(f"{label}s")
        view.selectionModel().currentChanged.connect(lambda *_: self._selection_changed(proxy.level))
        if proxy.level > 1:  # Enter or a double click opens the master, as in openPipeline
            view.activated.connect(lambda _index: self.open_master())
        return view

    # -- loading -----------------------------------------------------------
    def stop(self) -> None:
        """Stop reading the project (before the window goes, or a new read starts)."""
        if self._thread is not None:
            self._thread.requestInterruption()
            self._thread.wait()

    def reload(self) -> None:
        """Read the whole tab again, off the UI thread."""
        self.is_loaded = False
        self.stop()
        if self.ctx.project is None:
            self.model.set_rows([])
            self.status.setText("No project open; choose one in the Project Manager (Ctrl+P).")
            self.is_loaded = True
            return
        self.status.setText("Loading...")
        thread = self._thread = ScanThread(self.ctx.project, self.tab, self)
        thread.listed.connect(self._listed)
        thread.added.connect(self._added)
        thread.detailed.connect(self._detailed)
        thread.failed.connect(self.status.setText)
        thread.finished.connect(lambda: self._finished(thread))
        thread.start()

    def _listed(self, rows: object) -> None:
        self._keep = self.selected_address() or self._keep
        self.model.set_rows(cast("list[ItemRow]", rows))
        self.model.set_open_address(self.ctx.current_address())
        self.status.setText(f"{len(self.model.rows)} items")
        if not self._keep and self.filters[0].rowCount():  # show the first type's items
            self.lists[0].setCurrentIndex(self.filters[0].index(0))

    def _added(self, rows: object) -> None:
        self.model.add_rows(cast("list[ItemRow]", rows))
        self.status.setText(f"{len(self.model.rows)} items")
        if self._keep and self.select(self._keep):
            self._keep = ""

    def _detailed(self, rows: object) -> None:
        self.model.update_rows(cast("list[ItemRow]", rows))

    def _finished(self, thread: ScanThread) -> None:
        if thread is self._thread:
            self.is_loaded = True
            for wanted in (self._keep, self._select_after_load):
                if wanted:
                    self.select(wanted)
            self._keep = self._select_after_load = ""
            self._show_details()
            self.loaded.emit()

    def refresh(self, addresses: list[str]) -> None:
        """Read some rows again (cheap), or everything when ``addresses`` is empty.

        Addresses of the other tab are not this browser's concern.
        """
        mine = [a for a in addresses if a.startswith(f"{self.tab}/")]
        if addresses and not mine:
            return
        rows = [row for row in map(self.model.row_of, mine) if row is not None]
        if not mine or len(rows) < len(mine) or self.ctx.project is None:
            self.reload()
            return
        self.model.update_rows(detail_rows(self.ctx.project, rows))
        self._show_details()

    def _current_changed(self) -> None:
        self.model.set_open_address(self.ctx.current_address())

    # -- selection ---------------------------------------------------------
    def set_filter(self, text: str) -> None:
        keep = self.selected_address()
        for proxy in self.filters[1:]:
            proxy.set_text(text)
        if keep:
            self.select(keep)

    def selected_address(self) -> str:
        """The deepest selected item's address ('' for none)."""
        for view in reversed(self.lists):
            index = view.currentIndex()
            if index.isValid():
                return str(index.data(ADDRESS_ROLE))
        return ""

    def select(self, address: str) -> bool:
        """Select an item (and its parents) by address; False if it is not listed."""
        ref = ItemRef.parse(address)
        for level in range(1, len(ref.parts) + 1):
            wanted = ItemRef(ref.tab, ref.parts[:level]).address
            proxy, view = self.filters[level - 1], self.lists[level - 1]
            index = proxy.index_of(wanted)
            if not index.isValid():
                return False
            view.setCurrentIndex(index)
        for view in self.lists[len(ref.parts):]:
            view.selectionModel().clear()
        return True

    def _selection_changed(self, level: int) -> None:
        if level < 3:
            index = self.lists[level - 1].currentIndex()
            address = str(index.data(ADDRESS_ROLE)) if index.isValid() else ""
            self.filters[level].set_parent_address(address)
            if level == 1:
                self.filters[2].set_parent_address("")
            for view in self.lists[level:]:  # a new parent: nothing below it is chosen yet
                view.selectionModel().clear()
        self._show_details()

    def selected_item(self) -> Item:
        address = self.selected_address()
        if not address:
            raise UserError(f"No item is selected; choose one in the {self.tab} lists first.")
        return self.ctx.require_project().item(address)

    def selected_version(self) -> VersionRow | None:
        index = self.version_view.currentIndex()
        return index.sibling(index.row(), 0).data(ROW_ROLE) if index.isValid() else None

    def _show_details(self) -> None:
        row = self.model.row_of(self.selected_address())
        project = self.ctx.project
        if row is None or project is None:
            self.details.setText("")
            self.versions.set_rows([], None)
            return
        lock = f"checked out by <b>{row.locked_by}</b>" if row.locked_by else "not checked out"
        self.details.setText(f"<b>{row.address}</b> - {lock}"
                             + (f"<br>{row.description}" if row.description else ""))
        if row.ref.holds_files:
            item = Item(project, row.ref)
            rows = self.ctx.run(self, lambda: versions_of(item)) or []
            self.versions.set_rows(rows, item.notes_dir)
        else:
            self.versions.set_rows([], None)

    # -- actions -----------------------------------------------------------
    def _act(self, action: Callable[[Item], str | None], addresses: Callable[[Item], list[str]]
             | None = None) -> None:
        """Run an action on the selected item; then read its row again (or everything)."""
        def run() -> tuple[Item, str | None]:
            item = self.selected_item()
            return item, action(item)

        done = self.ctx.run(self, run)
        if done is None:
            return
        item, message = done
        if message:
            self.status.setText(message)
        self.ctx.signals.items_changed.emit(addresses(item) if addresses else [item.ref.address])

    def _ask(self, title: str, label: str, text: str = "") -> str | None:
        return self.ctx.ask(self, title, label, text)

    def open_master(self) -> None:
        def action(item: Item) -> str:
            item.require_files()
            if not item.master_path.is_file():
                raise UserError(f"'{item.ref}' has no master yet; master a workshop first.")
            self.ctx.open_scene(item.ref.address, item.master_path)
            return f"Opened the master of {item.ref}"
        self._act(action)

    def view_master(self) -> None:
        def action(item: Item) -> str:
            if not item.master_path.is_file():
                raise UserError(f"'{item.ref}' has no master yet; master a workshop first.")
            (self.ctx.opener if self.ctx.standalone else self.ctx.host.open)(item.master_path)
            return f"Viewing the master of {item.ref}"
        self._act(action)

    def open_workshop(self) -> None:
        """Open the workshop chosen in the versions list, or the latest (openPipeline's revive)."""
        chosen = self.selected_version()

        def action(item: Item) -> str:
            number = chosen.number if chosen is not None and chosen.kind == "workshop" else None
            entry = item.require_files().workshop(number)
            self.ctx.open_scene(item.ref.address, entry.path)
            return f"Opened workshop {entry.number} of {item.ref}: {entry.event.comment}"
        self._act(action)

    def _bring_in(self, mode: str, workshop: bool) -> None:
        chosen = self.selected_version()

        def action(item: Item) -> str:
            number = None
            if workshop:
                number = (chosen.number if chosen is not None and chosen.kind == "workshop"
                          else item.workshop().number)
            path = actions.bring_in(item, self.ctx.host, mode, workshop=number)
            return f"{'Imported' if mode == 'import' else 'Referenced'} {path.name}"
        self._act(action)

    def import_master(self) -> None:
        self._bring_in("import", False)

    def reference_master(self) -> None:
        self._bring_in("reference", False)

    def import_workshop(self) -> None:
        self._bring_in("import", True)

    def reference_workshop(self) -> None:
        self._bring_in("reference", True)

    def new_item(self) -> None:
        """Create an item under the selected one (or a new type/sequence when none is)."""
        def run() -> str | None:
            project = self.ctx.require_project()
            parent = self.selected_address()
            under = ItemRef.parse(parent) if parent else None
            if under is not None and len(under.parts) == 3:
                under = under.parent
            level = 0 if under is None else len(under.parts)
            label = LEVEL_LABELS[self.tab][level]
            name = self._ask(f"New {label}", f"{label} name:")
            if not name:
                return None
            ref = under.child(name) if under is not None else ItemRef.make(self.tab, name)
            project.create_item(ref, author=self.ctx.author)
            return ref.address

        created = self.ctx.run(self, run)
        if created:
            self._select_after_load = created
            self.ctx.signals.items_changed.emit([])

    def rename_item(self) -> None:
        def action(item: Item) -> str | None:
            name = self._ask("Rename", f"New name for {item.ref}:", item.ref.name)
            if not name or name == item.ref.name:
                return None
            renamed = rename.rename(item, name, author=self.ctx.author)
            actions.follow_rename(self.ctx.host, item, renamed)  # the open scene may be in it
            self.ctx.signals.current_changed.emit()
            return f"Renamed {item.ref} to {renamed.ref}"
        self._act(action, lambda item: [])

    def describe_item(self) -> None:
        def action(item: Item) -> str | None:
            text = self._ask("Describe", f"Description of {item.ref}:", item.description)
            if text is None:
                return None
            notes.describe(item, text, author=self.ctx.author)
            return f"Described {item.ref}"
        self._act(action)

    def archive_item(self) -> None:
        def action(item: Item) -> str | None:
            keep = item.project.config.archive_keep
            if not self.ctx.confirm(self, "Archive", f"Keep the newest {keep} workshops and versions "
                                    f"of {item.ref} and move the rest to the archive?"):
                return None
            record = archive.archive(item, author=self.ctx.author)
            return f"Nothing to archive in {item.ref}" if record is None else f"Archived {item.ref}"
        self._act(action)

    def retrieve_item(self) -> None:
        def action(item: Item) -> str:
            record = archive.retrieve(item, None, None, author=self.ctx.author)
            return f"Nothing archived in {item.ref}" if record is None else f"Retrieved {item.ref}"
        self._act(action)

    def delete_item(self) -> None:
        def action(item: Item) -> str | None:
            if not self.ctx.confirm(self, "Delete", f"Move {item.ref} and everything below it to "
                                    "the deleted items? (Deleted Items... brings it back)"):
                return None
            removal.delete(item, author=self.ctx.author)
            return f"Deleted {item.ref}"
        self._act(action, lambda item: [])

    def show_deleted(self) -> None:
        """List the project's deleted items; restore the chosen one."""
        def run() -> str | None:
            project = self.ctx.require_project()
            dialog = DeletedItems(removal.deleted_items(project), self)
            if not self.exec_dialog(dialog) or dialog.chosen is None:
                return None
            restored = removal.restore(project, ItemRef.parse(dialog.chosen.item),
                                       dialog.chosen.stamp, author=self.ctx.author)
            return f"Restored {restored.ref}"

        message = self.ctx.run(self, run)
        if message:
            self.status.setText(message)
            self.ctx.signals.items_changed.emit([])

    def exec_dialog(self, dialog: Any) -> bool:
        """Run a dialog modally (tests replace this to answer it)."""
        return bool(dialog.exec_())

    def check_out(self) -> None:
        self._act(lambda item: f"Checked out {item.ref} as "
                  f"{checkout.acquire(item, author=self.ctx.author).user}")

    def release(self) -> None:
        def action(item: Item) -> str:
            checkout.release(item, author=self.ctx.author)
            return f"Released {item.ref}"
        self._act(action)

    def steal(self) -> None:
        def action(item: Item) -> str | None:
            status = checkout.status(item)
            holder = status.holder.describe() if status else "nobody"
            note = self._ask("Steal Check-out", f"{item.ref} is checked out by {holder}. "
                             "Why take it? (recorded)")
            if note is None:
                return None
            result = checkout.steal(item, author=self.ctx.author, note=note)
            taken = result.taken_from.user if result.taken_from else "nobody"
            return f"Took the check-out of {item.ref} from {taken}"
        self._act(action)

    def show_history(self) -> None:
        def action(item: Item) -> None:
            self.exec_dialog(HistoryView(item, self))
        self._act(action, lambda item: [item.ref.address])

    def open_folder(self) -> None:
        def action(item: Item) -> str:
            self.ctx.opener(item.path)
            return f"Opened the folder of {item.ref}"
        self._act(action)
