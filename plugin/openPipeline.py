"""OpenPipeline Maya plug-in: builds the OpenPipeline menu (skipped in batch mode).

Thin glue: every menu item calls a function of ``openpipeline.host.menu``, plain
Python tested without Maya through the ``Host`` protocol.
Load with ``cmds.loadPlugin("openPipeline.py")`` once the module is installed.
"""

from __future__ import annotations

from typing import Any

import maya.api.OpenMaya as om
from maya import cmds, mel

from openpipeline import __version__

VENDOR = "OpenPipeline"
MENU_NAME = "openPipelineMenu"

MENU_ITEMS: list[tuple[str, str, str]] = [
    # label, annotation, python command
    ("Set Item...", "Tie the open scene to a pipeline item",
     "import openpipeline.host.menu as m; m.set_item()"),
    ("Save Workshop...", "Save the scene as the item's next workshop",
     "import openpipeline.host.menu as m; m.save_workshop()"),
    ("Master...", "Save a workshop and master it",
     "import openpipeline.host.menu as m; m.master()"),
    ("", "", ""),
    ("Reference Master...", "Reference an item's master",
     "import openpipeline.host.menu as m; m.bring_in('reference')"),
    ("Import Master...", "Import an item's master",
     "import openpipeline.host.menu as m; m.bring_in('import')"),
    ("", "", ""),
    ("Check Out", "Lock the item for yourself",
     "import openpipeline.host.menu as m; m.check_out(True)"),
    ("Check In", "Release your lock", "import openpipeline.host.menu as m; m.check_out(False)"),
    ("History", "Print the item's history", "import openpipeline.host.menu as m; m.history()"),
]


def maya_useNewAPI() -> None:  # name required by Maya
    """Tells Maya this plug-in uses the Python API 2.0."""


def _build_menu() -> None:
    if cmds.about(batch=True):
        return
    if cmds.menu(MENU_NAME, exists=True):
        cmds.deleteUI(MENU_NAME)
    main_window = mel.eval("$tmp = $gMainWindow")  # type: ignore[no-untyped-call]  # stubs leave mel.eval untyped
    cmds.menu(MENU_NAME, parent=main_window, tearOff=True, label="OpenPipeline")
    for label, annotation, command in MENU_ITEMS:
        if not label:
            cmds.menuItem(divider=True, parent=MENU_NAME)
        else:
            cmds.menuItem(label=label, annotation=annotation, command=command,
                          sourceType="python", parent=MENU_NAME)


def initializePlugin(plugin: Any) -> None:  # name required by Maya
    om.MFnPlugin(plugin, VENDOR, __version__, "Any")
    _build_menu()


def uninitializePlugin(plugin: Any) -> None:  # name required by Maya
    om.MFnPlugin(plugin)
    if not cmds.about(batch=True) and cmds.menu(MENU_NAME, exists=True):
        cmds.deleteUI(MENU_NAME)
