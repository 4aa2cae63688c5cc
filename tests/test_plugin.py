"""The Maya plug-in files load and unload cleanly against a recording stand-in for the Maya API.

What these tests check: what the files register (nodes, type IDs, commands), the
attributes they create and the attributeAffects pairs. Whether Maya itself accepts them
is for mypy against the Maya stubs and for a real Maya.
"""

from __future__ import annotations

import re
import sys

import pytest

from openpipeline.dg import ids
from tests.helpers import fake_maya
from tests.helpers.cli import REPO

NODE_FILES = {ids.TEXTURE_NODE: REPO / "nodes" / "opDipTexture.py",
              ids.SCATTER_NODE: REPO / "nodes" / "opNeuralGasScatter.py"}
PLUGIN = REPO / "plugin" / "openPipeline.py"
# Attributes every Maya node has already: a plug-in attribute must not take their names.
BUILT_IN = {"message": "msg", "caching": "cch", "frozen": "fzn", "isHistoricallyInteresting": "ihi",
            "nodeState": "nds", "binMembership": "bnm"}
CAMEL_CASE = re.compile(r"[a-z][a-zA-Z0-9]*\Z")


@pytest.fixture
def fake_maya_modules(monkeypatch):
    """The stand-in in sys.modules for one test; Maya's names are gone again afterwards."""
    for name in fake_maya.MAYA_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    recorder = fake_maya.install(sys.modules)
    yield recorder
    fake_maya.uninstall()


def _load_node(recorder, name):
    module = fake_maya.load_plugin_file(NODE_FILES[name], f"_test_{name}")
    plugin = fake_maya.PluginObject(str(NODE_FILES[name]))
    module.initializePlugin(plugin)
    return module, plugin


def test_type_ids_are_fixed_and_in_the_block():
    """The two type IDs are the released ones, distinct and inside OpenPipeline's block."""
    assert ids.TYPE_IDS == {"opDipTexture": 0x0007F000, "opNeuralGasScatter": 0x0007F001}
    low, high = ids.TYPE_ID_BLOCK
    assert all(low <= value <= high for value in ids.TYPE_IDS.values())
    assert "never renumber or reuse" in (REPO / "openpipeline" / "dg" / "ids.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(NODE_FILES))
def test_node_plugin_registers_and_deregisters_its_node(fake_maya_modules, name):
    """Each node file registers its node under its fixed ID and takes it back at unload."""
    module, plugin = _load_node(fake_maya_modules, name)
    assert module.maya_useNewAPI() is None
    assert fake_maya_modules.nodes[name]["id"] == ids.TYPE_IDS[name]
    assert plugin.vendor == ids.VENDOR
    assert isinstance(fake_maya_modules.nodes[name]["creator"](), fake_maya.MPxNode)
    module.uninitializePlugin(plugin)
    assert fake_maya_modules.nodes == {}
    assert fake_maya_modules.registrations == [("registerNode", name), ("deregisterNode", name)]


@pytest.mark.parametrize("name", sorted(NODE_FILES))
def test_node_attributes_are_camel_case_with_unique_short_names(fake_maya_modules, name):
    """Every attribute is added once, named in camelCase, with a short name no other attribute has."""
    _load_node(fake_maya_modules, name)
    created = fake_maya_modules.attributes
    assert created and sorted(map(id, created)) == sorted(map(id, fake_maya_modules.added))
    longs = [a.long for a in created]
    shorts = [a.short for a in created]
    assert all(CAMEL_CASE.match(n) for n in longs + shorts), longs + shorts
    assert len(set(longs)) == len(longs) and len(set(shorts)) == len(shorts)
    assert not set(longs + shorts) & (set(BUILT_IN) | set(BUILT_IN.values()))
    assert not set(longs) & set(shorts)


@pytest.mark.parametrize("name", sorted(NODE_FILES))
def test_every_output_is_affected_by_every_input(fake_maya_modules, name):
    """attributeAffects ties each input to each output, the hidden result tick included."""
    _load_node(fake_maya_modules, name)
    outputs = [a for a in fake_maya_modules.attributes if not a.flags["writable"] or a.long == "resultKey"]
    inputs = [a for a in fake_maya_modules.attributes if a not in outputs]
    pairs = {(s.long, t.long) for s, t in fake_maya_modules.affects}
    assert outputs and inputs and "resultTick" in [a.long for a in inputs]
    assert pairs == {(s.long, t.long) for s in inputs for t in outputs}
    assert all(not a.flags["storable"] for a in outputs if a.long != "resultKey")


def test_texture_node_attributes(fake_maya_modules):
    """opDipTexture has the inputs the issue names and the outputs a file node needs."""
    _load_node(fake_maya_modules, ids.TEXTURE_NODE)
    by_name = {a.long: a for a in fake_maya_modules.attributes}
    assert {"filePath", "operation", "maskPath", "factor", "sigma", "seed", "timeBudget", "seamless",
            "outputPath", "status", "progress", "statusMessage"} <= set(by_name)
    assert [f for f, _ in by_name["operation"].fields] == ["denoise", "inpaint", "upscale"]
    assert [f for f, _ in by_name["status"].fields] == ["idle", "cached", "running", "failed"]
    assert by_name["filePath"].flags["usedAsFilename"] and by_name["outputPath"].data == "kString"
    assert by_name["resultTick"].flags["hidden"] and not by_name["resultTick"].flags["storable"]


def test_scatter_node_attributes(fake_maya_modules):
    """opNeuralGasScatter takes a mesh and gives Maya array data; resultKey is saved with the scene."""
    _load_node(fake_maya_modules, ids.SCATTER_NODE)
    by_name = {a.long: a for a in fake_maya_modules.attributes}
    kinds = {name: by_name[name].data for name in
             ("inMesh", "outPositions", "outNormals", "outIds", "outFaceIds", "outBarycentrics")}
    assert kinds == {"inMesh": "kMesh", "outPositions": "kPointArray", "outNormals": "kVectorArray",
                     "outIds": "kIntArray", "outFaceIds": "kIntArray", "outBarycentrics": "kDoubleArray"}
    assert [f for f, _ in by_name["method"].fields] == ["batch-ng", "online-ng", "gng"]
    key = by_name["resultKey"].flags
    assert key["storable"] and key["writable"] and key["hidden"]


def test_pipeline_plugin_loads_nodes_commands_and_menu(fake_maya_modules):
    """openPipeline.py loads both node plug-ins, registers every command and builds the menu."""
    plugin_module = fake_maya.load_plugin_file(PLUGIN, "_test_openPipeline")
    plugin = fake_maya.PluginObject(str(PLUGIN))
    plugin_module.initializePlugin(plugin)
    assert set(fake_maya_modules.nodes) == {ids.TEXTURE_NODE, ids.SCATTER_NODE}
    assert set(fake_maya_modules.commands) == set(ids.COMMANDS)
    assert {"opSaveWorkshop", "opMaster", "opCheckOut", "opCheckIn", "opHistory"} <= set(ids.COMMANDS)
    assert plugin_module.MENU_NAME in fake_maya_modules.menus
    assert [event for event, _ in fake_maya_modules.script_jobs.values()] == ["SceneOpened"]
    for name in (ids.RESTORE_TEXTURE_COMMAND, ids.SCATTER_COMMAND):
        syntax = fake_maya_modules.commands[name]["syntax"]()
        assert syntax.flags
    plugin_module.uninitializePlugin(plugin)
    assert fake_maya_modules.nodes == {} and fake_maya_modules.commands == {}
    assert plugin_module.MENU_NAME not in fake_maya_modules.menus
    assert fake_maya_modules.plugins == {} and fake_maya_modules.script_jobs == {}


def test_pipeline_plugin_leaves_node_plugins_it_did_not_load(fake_maya_modules):
    """A node plug-in loaded before stays loaded when openPipeline.py unloads."""
    fake_maya.RECORDER.plugins["opDipTexture.py"] = None  # loaded by someone else
    plugin_module = fake_maya.load_plugin_file(PLUGIN, "_test_openPipeline")
    plugin = fake_maya.PluginObject(str(PLUGIN))
    plugin_module.initializePlugin(plugin)
    assert set(fake_maya_modules.nodes) == {ids.SCATTER_NODE}
    plugin_module.uninitializePlugin(plugin)
    assert list(fake_maya_modules.plugins) == ["opDipTexture.py"]


def test_batch_mode_builds_no_menu(fake_maya_modules):
    """Under mayapy the plug-in registers its commands but builds no menu."""
    fake_maya_modules.batch = True
    plugin_module = fake_maya.load_plugin_file(PLUGIN, "_test_openPipeline")
    plugin_module.initializePlugin(fake_maya.PluginObject(str(PLUGIN)))
    assert fake_maya_modules.menus == set() and set(fake_maya_modules.commands) == set(ids.COMMANDS)
    assert fake_maya_modules.script_jobs == {}


def test_command_flags_become_node_settings(fake_maya_modules):
    """opRestoreTexture's and opScatter's flags turn into the nodes' attribute values, checked."""
    plugin_module = fake_maya.load_plugin_file(PLUGIN, "_test_openPipeline")
    syntax = plugin_module._syntax(plugin_module.RESTORE_FLAGS)()
    database = fake_maya.MArgDatabase(syntax, ["-operation", "upscale", "-factor", 4, "-now"])
    values = plugin_module.flag_values(database, plugin_module.RESTORE_FLAGS)
    assert values == {"operation": "upscale", "factor": 4, "now": True}
    assert plugin_module.texture_settings(values)["factor"] == 4
    with pytest.raises(Exception, match="Factor 3 is not allowed"):
        plugin_module.texture_settings({"factor": 3})
    syntax = plugin_module._syntax(plugin_module.SCATTER_FLAGS)()
    database = fake_maya.MArgDatabase(syntax, ["-c", 50, "-m", "gng", "-density", "d.png"])
    values = plugin_module.flag_values(database, plugin_module.SCATTER_FLAGS)
    settings = plugin_module.scatter_settings(values)
    assert settings == {"method": "gng", "seed": 0, "count": 50, "densityPath": "d.png"}
    with pytest.raises(ValueError, match="not both"):
        plugin_module.scatter_settings({"count": 5, "spacing": 0.1})


def test_pipeline_commands_call_the_menu_functions(fake_maya_modules, monkeypatch):
    """Each pipeline verb runs its host.menu function with its arguments, and is not undoable."""
    import openpipeline.host.menu as menu

    calls = []
    for function, _arguments in ids.PIPELINE_COMMANDS.values():
        monkeypatch.setattr(menu, function, lambda *a, f=function: calls.append((f, a)))
    plugin_module = fake_maya.load_plugin_file(PLUGIN, "_test_openPipeline")
    for name, (function, arguments) in ids.PIPELINE_COMMANDS.items():
        command = plugin_module.pipeline_command(name)()
        command.doIt([])
        assert calls[-1] == (function, arguments) and command.isUndoable() is False


def test_an_opened_scene_runs_the_menus_scene_opened(fake_maya_modules, monkeypatch):
    """The SceneOpened job calls host.menu.scene_opened (dirmap, workspace, heartbeat after File > Open)."""
    import openpipeline.host.menu as menu

    calls = []
    monkeypatch.setattr(menu, "scene_opened", lambda: calls.append("opened"))
    plugin_module = fake_maya.load_plugin_file(PLUGIN, "_test_openPipeline")
    plugin = fake_maya.PluginObject(str(PLUGIN))
    plugin_module.initializePlugin(plugin)
    ((_event, command),) = fake_maya_modules.script_jobs.values()
    command()
    assert calls == ["opened"]
    plugin_module.uninitializePlugin(plugin)


def test_every_menu_item_calls_a_menu_function():
    """Each item of the plug-in's menu names an existing host.menu function."""
    import re

    import openpipeline.host.menu as menu

    text = PLUGIN.read_text()
    called = re.findall(r"import openpipeline\.host\.menu as m; m\.(\w+)\(", text)
    assert len(called) >= 15
    assert all(callable(getattr(menu, name, None)) for name in called), called
