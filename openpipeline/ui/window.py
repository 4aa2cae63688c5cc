"""The browser window: Currently Open, Asset Browser, Shot Browser; the Project Manager.

Example (standalone, what ``openpipeline browse`` does)::

    window = BrowserWindow(BrowserContext(project))
    window.show()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from Qt import QtCore, QtGui, QtWidgets

from openpipeline.core.errors import UserError
from openpipeline.ui.browser import LibraryBrowser
from openpipeline.ui.context import BrowserContext
from openpipeline.ui.current import CurrentlyOpen
from openpipeline.ui.models import ThumbnailCache
from openpipeline.ui.project_manager import ProjectManager

TABS = ("current", "asset", "shot")


class BrowserWindow(QtWidgets.QMainWindow):
    """openPipeline's main window, over one project."""

    def __init__(self, context: BrowserContext, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = context
        self.setObjectName("OpenPipelineBrowser")
        self.resize(1100, 760)
        self.thumbnails = ThumbnailCache(parent=self)
        self.current = CurrentlyOpen(context, self.thumbnails)
        self.assets = LibraryBrowser(context, "asset", self.thumbnails)
        self.shots = LibraryBrowser(context, "shot", self.thumbnails)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.current, "Currently Open")
        self.tabs.addTab(self.assets, "Asset Browser")
        self.tabs.addTab(self.shots, "Shot Browser")
        self.setCentralWidget(self.tabs)
        self._menus()
        context.signals.project_changed.connect(self._title)
        self._title()
        self.assets.reload()
        self.shots.reload()

    def _menus(self) -> None:
        menu = self.menuBar().addMenu("&Project")
        for label, shortcut, slot in (("Project &Manager...", "Ctrl+P", self.project_manager),
                                      ("&Refresh", "F5", self.refresh), ("&Close", "Ctrl+W", self.close)):
            action = menu.addAction(label)
            action.setShortcut(QtGui.QKeySequence(shortcut))
            action.triggered.connect(slot)
        view = self.menuBar().addMenu("&View")
        for i, label in enumerate(("Currently Open", "Asset Browser", "Shot Browser")):
            action = view.addAction(label)
            action.setShortcut(QtGui.QKeySequence(f"Alt+{i + 1}"))
            action.triggered.connect(lambda _checked=False, i=i: self.tabs.setCurrentIndex(i))

    def _title(self) -> None:
        project = self.ctx.project
        name = f"{project.config.name} ({project.root})" if project else "no project"
        self.setWindowTitle(f"OpenPipeline - {name}")
        self.statusBar().showMessage(f"Project: {name}   Host: {self.ctx.host.name}   "
                                     f"User: {self.ctx.author}")

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Stop the reading threads and the thumbnail loads before the window goes."""
        self.assets.stop()
        self.shots.stop()
        self.thumbnails.pool.clear()
        self.thumbnails.pool.waitForDone(2000)
        super().closeEvent(event)

    @property
    def is_loaded(self) -> bool:
        return self.assets.is_loaded and self.shots.is_loaded

    def show_tab(self, tab: str) -> None:
        self.tabs.setCurrentIndex(TABS.index(tab))

    def refresh(self) -> None:
        self.ctx.signals.items_changed.emit([])

    def project_manager(self) -> ProjectManager:
        dialog = ProjectManager(self.ctx, self)
        dialog.show()
        return dialog

    def wait_loaded(self, timeout_s: float = 120.0) -> bool:
        """Process events until both browsers have read the project (or the time is up)."""
        timer = QtCore.QElapsedTimer()
        timer.start()
        app = QtWidgets.QApplication.instance()
        while not self.is_loaded and timer.elapsed() < timeout_s * 1000:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            QtCore.QThread.msleep(5)
        for _ in range(20):  # let thumbnails and the last repaints land
            app.processEvents()
            self.thumbnails.pool.waitForDone(50)
        return bool(self.is_loaded)

    def screenshot(self, path: Path, widget: QtWidgets.QWidget | None = None) -> Path:
        """Write the window (or one of its dialogs) as drawn now to ``path`` (PNG, JPEG...)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not (widget or self).grab().save(str(path)):
            raise UserError(f"Could not write the screenshot '{path}'; check that its folder is "
                            "writable and its suffix is .png or .jpg.")
        return path
