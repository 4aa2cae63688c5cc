"""Running the browser on its own (``openpipeline browse``), with the no-DCC host."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from Qt import QtWidgets

from openpipeline.core.errors import ProjectNotFoundError, UserError
from openpipeline.core.project import Project
from openpipeline.core.selection import select_project
from openpipeline.ui.context import BrowserContext
from openpipeline.ui.window import BrowserWindow


def application() -> Any:
    """The running QApplication, made if there is none."""
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])


def open_project(chosen: str | None) -> Project | None:
    """The chosen project (or the selected one); None when no project is selected at all."""
    try:
        return select_project(chosen, how="pass --project")
    except ProjectNotFoundError:
        if chosen:
            raise
        return None


def browse(chosen: str | None = None, screenshot: Path | None = None, tab: str = "asset",
           select: str | None = None, open_item: str | None = None) -> int:
    """Show the browser; with ``screenshot``, write the loaded window there and return.

    ``tab`` is ``current``, ``asset``, ``shot`` or ``projects`` (the Project Manager
    over the window). ``open_item`` starts with that item's latest workshop as the open scene (the no-DCC
    host's scene is a file; nothing is handed to the OS).
    Returns the application's exit code (0 after a screenshot).
    """
    app = application()
    context = BrowserContext(open_project(chosen))
    if open_item:
        item = context.require_project().item(open_item)
        context.open_scene(item.ref.address, item.require_files().workshop().path, hand_to_os=False)
    window = BrowserWindow(context)
    window.show_tab("asset" if tab == "projects" else tab)
    window.show()
    manager = window.project_manager() if window.ctx.project is None or tab == "projects" else None
    if screenshot is None:
        return int(app.exec_())
    if not window.wait_loaded():
        raise UserError("The project took over two minutes to read; the screenshot was not taken.")
    if select:
        browser = window.shots if select.startswith("shot/") else window.assets
        if not browser.select(select):
            raise UserError(f"Item '{select}' is not in the browser; check the address.")
        window.wait_loaded()
    if manager is not None and tab == "projects":
        window.screenshot(screenshot, manager)
    else:
        window.screenshot(screenshot)
    window.close()
    return 0
