"""What every part of the browser shares: the project, the host, and how to ask and tell.

Every action of the browser runs through :meth:`BrowserContext.run`, which calls the
same core functions as the CLI and turns a core error into a dialog holding the
core's one sentence. The dialogs are attributes (``ask``, ``confirm``, ``error``,
``opener``) so tests replace them with scripted answers.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from Qt import QtCore, QtGui, QtWidgets

from openpipeline.core.errors import OpenPipelineError, UserError
from openpipeline.core.identity import current_user
from openpipeline.core.project import Project
from openpipeline.host import Host, actions
from openpipeline.host.null import NullHost
from openpipeline.ui.models import THUMBNAIL_SIZE
from openpipeline.ui.opener import open_with_os

T = TypeVar("T")
TITLE = "OpenPipeline"


def add_shortcut(widget: Any, keys: str, handler: Callable[[], None], local: bool = False) -> Any:
    """A keyboard shortcut on ``widget`` (``local``: only while focus is inside it)."""
    shortcut = QtGui.QShortcut(QtGui.QKeySequence(keys), widget)
    if local:
        shortcut.setContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
    shortcut.activated.connect(handler)
    return shortcut


def action_grid(owner: Any, actions: tuple[tuple[str, str, str], ...], columns: int,
                buttons: dict[str, Any]) -> Any:
    """A grid of buttons for ``actions`` ((label, shortcut, method of ``owner``)), each
    also on its shortcut while focus is inside ``owner``; the buttons go into ``buttons``."""
    grid = QtWidgets.QGridLayout()
    for i, (label, shortcut, method) in enumerate(actions):
        button = QtWidgets.QPushButton(label)
        handler: Callable[[], None] = getattr(owner, method)
        button.clicked.connect(lambda _checked=False, handler=handler: handler())
        if shortcut:
            button.setToolTip(f"{label} ({shortcut})")
            add_shortcut(owner, shortcut, handler, local=True)
        buttons[method] = button
        grid.addWidget(button, i // columns, i % columns)
    return grid


def versions_table(model: Any) -> Any:
    """The versions list as a table: whole rows selected, rows as high as their preview."""
    view = QtWidgets.QTableView()
    view.setModel(model)
    view.setIconSize(QtCore.QSize(*THUMBNAIL_SIZE))
    view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    view.horizontalHeader().setStretchLastSection(True)
    view.verticalHeader().hide()
    view.verticalHeader().setSectionResizeMode(
        QtWidgets.QHeaderView.ResizeMode.ResizeToContents)  # a row with a preview is 105 px high
    view.setColumnWidth(0, THUMBNAIL_SIZE[0] + 8)
    return view


def ask_text(parent: Any, title: str, label: str, text: str = "") -> str | None:
    """A line of text from the artist; None when they cancel."""
    value, accepted = QtWidgets.QInputDialog.getText(parent, title, label, text=text)
    return str(value) if accepted else None


def confirm(parent: Any, title: str, message: str) -> bool:
    """A yes/no question; True for yes."""
    answer = QtWidgets.QMessageBox.question(parent, title, message)
    return bool(answer == QtWidgets.QMessageBox.StandardButton.Yes)


def show_error(parent: Any, message: str, user_error: bool = True) -> None:
    """The core's sentence in a dialog: critical for a user error, a warning otherwise."""
    if user_error:
        QtWidgets.QMessageBox.critical(parent, TITLE, message)
    else:
        QtWidgets.QMessageBox.warning(parent, TITLE, message)


class Signals(QtCore.QObject):
    """Changes every tab listens to."""

    project_changed = QtCore.Signal()
    items_changed = QtCore.Signal(list)  # addresses whose rows to read again; [] = everything
    current_changed = QtCore.Signal()


@dataclass
class BrowserContext:
    """The project, the host and the dialogs, shared by the window's tabs."""

    project: Project | None
    host: Host = field(default_factory=NullHost)
    author: str = field(default_factory=current_user)
    opener: Callable[[Path], None] = open_with_os
    ask: Callable[[Any, str, str, str], str | None] = ask_text
    confirm: Callable[[Any, str, str], bool] = confirm
    error: Callable[[Any, str, bool], None] = show_error
    signals: Signals = field(default_factory=Signals)

    @property
    def standalone(self) -> bool:
        """True without a DCC: opening a file hands it to the operating system."""
        return self.host.name == "null"

    def require_project(self) -> Project:
        if self.project is None:
            raise UserError("No project is open; choose one in the Project Manager (Ctrl+P).")
        return self.project

    def set_project(self, project: Project | None) -> None:
        self.project = project
        self.signals.project_changed.emit()

    def run(self, parent: Any, action: Callable[[], T]) -> T | None:
        """Run an action; a core error becomes a dialog and the action returns None.

        Any other exception (a bug) becomes a one-sentence dialog too, its traceback
        printed to stderr, so it never escapes the Qt slot that ran the action.
        """
        try:
            return action()
        except UserError as exc:
            self.error(parent, str(exc), True)
        except (OpenPipelineError, OSError) as exc:
            self.error(parent, f"{exc}", False)
        except Exception as exc:  # a bug must not escape a Qt slot (Qt may abort the process)
            traceback.print_exc(file=sys.stderr)
            detail = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else "no detail"
            self.error(parent, f"An unexpected {type(exc).__name__} ({detail}) stopped the action; "
                       "the traceback is on the console.", True)
        return None

    def open_scene(self, address: str, path: Path, hand_to_os: bool = True) -> None:
        """Open a file as the current scene: in the DCC, or (standalone) with the OS too,
        unless ``hand_to_os`` is off."""
        if self.standalone and hand_to_os:
            self.opener(path)
        self.host.open(path)
        self.host.set_scene_info(actions.SCENE_INFO_ITEM, address)
        self.signals.current_changed.emit()

    def current_address(self) -> str:
        """The address of the item the open scene belongs to ('' for none)."""
        if self.host.current_file() is None:
            return ""
        return self.host.scene_info(actions.SCENE_INFO_ITEM) or ""
