"""The Currently Open tab: what the open scene is, and openPipeline's actions on it.

Save workshop, master (the validators' report, with *Master anyway* an explicit,
recorded choice), revive an older workshop, close, history, notes, snapshot and
playblast (when the host offers them), open the folder, check-out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from Qt import QtWidgets

from openpipeline.core import checkout, notes
from openpipeline.core.errors import UserError, ValidationFailedError
from openpipeline.core.items import Item
from openpipeline.host import actions
from openpipeline.ui.context import BrowserContext, action_grid, versions_table
from openpipeline.ui.dialogs import HistoryView, ValidationReport
from openpipeline.ui.models import ROW_ROLE, ThumbnailCache, VersionsModel
from openpipeline.ui.snapshot import versions_of

ACTIONS = (
    ("Save Workshop", "Ctrl+S", "save_workshop"), ("Master", "Ctrl+M", "master"),
    ("Revive", "", "revive"), ("Close", "", "close_scene"), ("History", "", "show_history"),
    ("Notes...", "", "edit_notes"), ("Snapshot", "", "snapshot"), ("Playblast", "", "playblast"),
    ("Open Folder", "", "open_folder"), ("Check Out", "", "check_out"), ("Release", "", "release"),
)


class CurrentlyOpen(QtWidgets.QWidget):
    """The open scene's item, its versions and the actions on it."""

    def __init__(self, context: BrowserContext, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self.versions = VersionsModel(thumbnails, self)
        self.buttons: dict[str, Any] = {}
        self.title = QtWidgets.QLabel(wordWrap=True)
        self.status = QtWidgets.QLabel()
        self.version_view = versions_table(self.versions)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.version_view, 1)
        grid = action_grid(self, ACTIONS, 6, self.buttons)
        for method in ("snapshot", "playblast"):
            if not hasattr(context.host, method):
                self.buttons[method].setEnabled(False)
                self.buttons[method].setToolTip(f"The {context.host.name} host cannot {method}.")
        layout.addLayout(grid)
        layout.addWidget(self.status)
        context.signals.current_changed.connect(self.update_view)
        context.signals.project_changed.connect(self.update_view)
        context.signals.items_changed.connect(lambda _addresses: self.update_view())
        self.update_view()

    def update_view(self) -> None:
        """Show the open scene's item and its versions."""
        scene = self.ctx.host.current_file()
        address = self.ctx.current_address()
        project = self.ctx.project
        if scene is None or not address or project is None:
            self.title.setText("<b>No item is open.</b> Open a master or a workshop from the "
                               "Asset or Shot Browser.")
            self.versions.set_rows([], None)
            return
        item = self.ctx.run(self, lambda: project.item(address))
        if item is None:
            return
        lock = checkout.status(item)
        holder = f"checked out by <b>{lock.holder.user}</b>" if lock else "not checked out"
        self.title.setText(f"<b>{address}</b> - {holder}<br>Scene: {scene.name}"
                           + (f"<br>{item.description}" if item.description else ""))
        self.versions.set_rows(self.ctx.run(self, lambda: versions_of(item)) or [], item.notes_dir)

    def current_item(self) -> Item:
        address = self.ctx.current_address()
        if not address:
            raise UserError("No item is open; open a master or a workshop from a browser tab first.")
        return self.ctx.require_project().item(address)

    def _act(self, action: Callable[[Item], str | None]) -> None:
        def run() -> tuple[Item, str | None]:
            item = self.current_item()
            return item, action(item)

        done = self.ctx.run(self, run)
        if done is None:
            return
        item, message = done
        if message:
            self.status.setText(message)
        self.ctx.signals.items_changed.emit([item.ref.address])
        self.ctx.signals.current_changed.emit()

    def exec_dialog(self, dialog: Any) -> bool:
        """Run a dialog modally (tests replace this to answer it)."""
        return bool(dialog.exec_())

    def save_workshop(self) -> None:
        def action(item: Item) -> str | None:
            note = self.ctx.ask(self, "Save Workshop", f"Note for the new workshop of {item.ref}:", "")
            if note is None:
                return None
            record = actions.save_workshop(item, self.ctx.host, note, author=self.ctx.author)
            return f"Saved workshop {record.version} of {item.ref}"
        self._act(action)

    def master(self) -> None:
        """openPipeline's Master through :func:`actions.master_scene`, so the project's master
        options apply (a refusing check masters nothing; repairs go into the master only).
        Blocked validators show their report and ask whether to force (recorded)."""
        def action(item: Item) -> str | None:
            note = self.ctx.ask(self, "Master", f"Note for the new master of {item.ref}:", "")
            if note is None:
                return None
            host, author = self.ctx.host, self.ctx.author
            try:
                record = actions.master_scene(item, host, note, author=author)
            except ValidationFailedError as exc:
                saved = item.workshop().number  # master_scene saved it before the validators ran
                if not self.exec_dialog(ValidationReport(str(exc), exc.report, self)):
                    return f"Master cancelled; the scene is saved as workshop {saved}."
                # The open scene is that unchanged workshop now, so no other workshop is saved.
                record = actions.master_scene(item, host, note, author=author, force=True)
                return f"Mastered {item.ref} from workshop {record.data.workshop} (forced, recorded)"
            return f"Mastered {item.ref} from workshop {record.data.workshop}"
        self._act(action)

    def revive(self) -> None:
        """Open the workshop chosen in the list, showing its note."""
        index = self.version_view.currentIndex()
        chosen = index.sibling(index.row(), 0).data(ROW_ROLE) if index.isValid() else None

        def action(item: Item) -> str:
            if chosen is None or chosen.kind != "workshop":
                raise UserError("Choose a workshop in the list to revive.")
            entry = item.workshop(chosen.number)
            self.ctx.open_scene(item.ref.address, entry.path)
            return f"Revived workshop {entry.number}: {entry.event.comment or '(no note)'}"
        self._act(action)

    def close_scene(self) -> None:
        self.ctx.host.new_scene()
        self.status.setText("Closed the scene.")
        self.ctx.signals.current_changed.emit()

    def show_history(self) -> None:
        def action(item: Item) -> None:
            self.exec_dialog(HistoryView(item, self))
        self._act(action)

    def edit_notes(self) -> None:
        def action(item: Item) -> str | None:
            text = self.ctx.ask(self, "Notes", f"Description of {item.ref}:", item.description)
            if text is None:
                return None
            notes.describe(item, text, author=self.ctx.author)
            return f"Described {item.ref}"
        self._act(action)

    def _host_preview(self, kind: str) -> None:
        def action(item: Item) -> str:
            record = actions.capture_preview(kind, item, self.ctx.host, author=self.ctx.author)
            return f"{kind.capitalize()} of {item.ref} saved as {Path(record.data.path).name}"
        self._act(action)

    def snapshot(self) -> None:
        self._host_preview("snapshot")

    def playblast(self) -> None:
        self._host_preview("playblast")

    def open_folder(self) -> None:
        def action(item: Item) -> str:
            self.ctx.opener(item.path)
            return f"Opened the folder of {item.ref}"
        self._act(action)

    def check_out(self) -> None:
        self._act(lambda item: f"Checked out {item.ref} as "
                  f"{checkout.acquire(item, author=self.ctx.author).user}")

    def release(self) -> None:
        def action(item: Item) -> str:
            checkout.release(item, author=self.ctx.author)
            return f"Released {item.ref}"
        self._act(action)
