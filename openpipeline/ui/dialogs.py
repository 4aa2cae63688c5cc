"""Small dialogs: the validators' report, an item's history, deleted items."""

from __future__ import annotations

from typing import Any

from Qt import QtCore, QtWidgets

from openpipeline.core.identity import short_time
from openpipeline.core.items import Item
from openpipeline.core.removal import DeletedItem


class ValidationReport(QtWidgets.QDialog):
    """The validators' problems, with *Master anyway* as an explicit choice.

    The choice is recorded: the master event carries ``forced`` and the problems.
    ``exec_()`` returns Accepted only when the artist chose to force.
    """

    def __init__(self, message: str, report: list[dict[str, object]], parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Master blocked by validators")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel(message, wordWrap=True))
        self.problems = QtWidgets.QListWidget()
        for problem in report:
            self.problems.addItem(f"{problem.get('validator', '?')}: {problem.get('message', problem)}")
        layout.addWidget(self.problems)
        layout.addWidget(QtWidgets.QLabel(
            "Mastering anyway records your name, the problems and that you forced it in the "
            "item's history.", wordWrap=True))
        buttons = QtWidgets.QDialogButtonBox()
        self.force_button = buttons.addButton("Master anyway (recorded)",
                                              QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        cancel.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class HistoryView(QtWidgets.QDialog):
    """An item's history: time, author, event, version and comment, oldest first."""

    COLUMNS = ("Time", "Author", "Event", "Version", "Comment")

    def __init__(self, item: Item, parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"History of {item.ref}")
        self.resize(720, 360)
        events = item.events()
        self.table = QtWidgets.QTableWidget(len(events), len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        for row, event in enumerate(events):
            values = (short_time(event.time), event.author, event.event,
                      "" if event.version is None else str(event.version), event.comment)
            for column, value in enumerate(values):
                self.table.setItem(row, column, QtWidgets.QTableWidgetItem(value))
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.table)
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)


class DeletedItems(QtWidgets.QDialog):
    """The project's deleted items; *Restore* accepts with :attr:`chosen` set."""

    def __init__(self, deleted: list[DeletedItem], parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Deleted items")
        self.resize(560, 320)
        self.deleted = deleted
        self.chosen: DeletedItem | None = None
        self.list = QtWidgets.QListWidget()
        for entry in deleted:
            self.list.addItem(f"{entry.item}   deleted by {entry.deleted_by} "
                              f"{short_time(entry.time)}   [{entry.stamp}]")
        if deleted:
            self.list.setCurrentRow(0)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.list)
        buttons = QtWidgets.QDialogButtonBox()
        restore = buttons.addButton("Restore", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        restore.setEnabled(bool(deleted))
        buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self._choose)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.list.itemActivated.connect(lambda _item: self._choose())

    def _choose(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.deleted):
            self.chosen = self.deleted[row]
            self.accept()


def set_modal_defaults(dialog: Any) -> None:
    """Dialogs stay on top of the browser and close with Escape (Qt's default)."""
    dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
