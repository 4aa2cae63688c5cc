"""The Maya dock without Maya: fake maya.cmds and OpenMayaUI record what the dock asks."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys
import types

import pytest

pytest.importorskip("Qt", reason="the browser tests need Qt (pip install 'openpipeline[ui]')")

from Qt import QtCompat, QtWidgets

from openpipeline.host.null import NullHost


@pytest.fixture
def fake_maya(monkeypatch, qtbot):
    """maya.cmds.workspaceControl and MQtUtil over real widgets; the Maya host is a NullHost."""
    main, dock = QtWidgets.QWidget(), QtWidgets.QWidget()
    QtWidgets.QVBoxLayout(dock)
    qtbot.addWidget(main)
    qtbot.addWidget(dock)
    calls = []
    existing = set()

    def workspace_control(name, **flags):
        calls.append((name, flags))
        if flags.get("query"):
            return name in existing
        existing.add(name)
        return name

    util = types.SimpleNamespace(
        mainWindow=lambda: int(QtCompat.getCppPointer(main)),
        getCurrentParent=lambda: int(QtCompat.getCppPointer(dock)))
    maya = types.ModuleType("maya")
    maya.cmds = types.SimpleNamespace(workspaceControl=workspace_control)
    maya.OpenMayaUI = types.SimpleNamespace(MQtUtil=util)
    monkeypatch.setitem(sys.modules, "maya", maya)
    monkeypatch.setitem(sys.modules, "maya.cmds", maya.cmds)
    monkeypatch.setitem(sys.modules, "maya.OpenMayaUI", maya.OpenMayaUI)
    import openpipeline.host.maya as host_maya
    from openpipeline.ui import maya_dock

    monkeypatch.setattr(host_maya, "MayaHost", NullHost)
    monkeypatch.setattr(maya_dock, "_browser", None)
    return types.SimpleNamespace(calls=calls, main=main, dock=dock, module=maya_dock)


def test_show_makes_a_workspace_control_that_restores_itself(fake_maya):
    """show() makes one workspaceControl whose uiScript imports and restores the dock."""
    dock = fake_maya.module
    dock.show()
    made = [flags for name, flags in fake_maya.calls if not flags.get("query")]
    assert made == [{"label": "OpenPipeline", "retain": False, "floating": True,
                     "initialWidth": 1100, "initialHeight": 760, "uiScript": dock.UI_SCRIPT}]
    assert dock.UI_SCRIPT == "import openpipeline.ui.maya_dock as d; d.restore()"
    dock.show()  # a second show edits the existing control
    assert fake_maya.calls[-1][1] == {"edit": True, "visible": True}


def test_the_ui_script_puts_the_browser_into_the_control(fake_maya):
    """Running the uiScript parents the one browser window into the control's layout."""
    exec(fake_maya.module.UI_SCRIPT, {})
    window = fake_maya.module.browser()
    assert window.parent() is fake_maya.dock
    assert fake_maya.dock.layout().indexOf(window) >= 0
    assert window.ctx.host.name == "null"  # the fake Maya host
    window.close()


def test_the_browser_is_parented_to_mayas_main_window(fake_maya):
    """Made outside a dock, the browser is a child window of Maya's main window."""
    window = fake_maya.module.browser()
    assert window.parent() is fake_maya.main
    window.close()
