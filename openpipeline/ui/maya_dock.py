"""The browser inside Maya: parented to Maya's main window, docked in a workspaceControl.

``show()`` is what the menu item and the shelf button call. The workspace control's
``uiScript`` (:data:`UI_SCRIPT`) is run by Maya to build the control, also at start-up
when the workspace remembers it open, so the dock comes back by itself.

This is the one module of ``openpipeline.ui`` that imports ``maya`` (inside its
functions only, so it imports, and is type-checked, without Maya): the Host protocol
has no window or dock calls, and docking is Qt work. Scene work still goes through
:class:`openpipeline.host.maya.MayaHost`.
"""

from __future__ import annotations

from typing import Any

from Qt import QtCompat, QtWidgets

from openpipeline.core.errors import ProjectNotFoundError
from openpipeline.core.project import Project
from openpipeline.core.selection import select_project
from openpipeline.ui.context import BrowserContext
from openpipeline.ui.window import BrowserWindow

WORKSPACE_CONTROL = "OpenPipelineBrowserWorkspaceControl"
LABEL = "OpenPipeline"
UI_SCRIPT = "import openpipeline.ui.maya_dock as d; d.restore()"

_browser: BrowserWindow | None = None


def wrap_widget(pointer: Any) -> QtWidgets.QWidget:
    """A QWidget from the pointer Maya's API gives (``MQtUtil``)."""
    widget = QtCompat.wrapInstance(int(pointer), QtWidgets.QWidget)
    assert isinstance(widget, QtWidgets.QWidget)  # wrapInstance's stub allows any object
    return widget


def maya_main_window() -> QtWidgets.QWidget:
    """Maya's main window as a QWidget (the parent of every tool window)."""
    from maya import OpenMayaUI

    return wrap_widget(OpenMayaUI.MQtUtil.mainWindow())


def _project() -> Project | None:
    try:
        return select_project(how="choose one in the Project Manager")
    except ProjectNotFoundError:
        return None


def browser() -> BrowserWindow:
    """The one browser window of this Maya session (made on first use, with the Maya host)."""
    global _browser
    if _browser is None:
        from openpipeline.host.maya import MayaHost

        _browser = BrowserWindow(BrowserContext(_project(), MayaHost()), maya_main_window())
        _browser.setObjectName("OpenPipelineBrowser")
    return _browser


def show() -> None:
    """Show the browser docked in its workspace control (made if it does not exist)."""
    from maya import cmds

    if cmds.workspaceControl(WORKSPACE_CONTROL, query=True, exists=True):
        cmds.workspaceControl(WORKSPACE_CONTROL, edit=True, restore=True)
        cmds.workspaceControl(WORKSPACE_CONTROL, edit=True, visible=True)
        return
    cmds.workspaceControl(WORKSPACE_CONTROL, label=LABEL, retain=False, floating=True,
                          initialWidth=1100, initialHeight=760, uiScript=UI_SCRIPT)


def restore() -> None:
    """Build the control's content: Maya runs this (``UI_SCRIPT``) when it makes or
    restores the workspace control, at start-up too."""
    from maya import OpenMayaUI

    control = OpenMayaUI.MQtUtil.getCurrentParent()
    parent = wrap_widget(control)
    window = browser()
    window.setParent(parent)
    layout = parent.layout()
    if layout is not None:
        layout.addWidget(window)
    window.show()
