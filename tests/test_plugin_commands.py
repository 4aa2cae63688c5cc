"""opRestoreTexture and opScatter against the stand-in's tiny scene: what they create and
connect, their undo and redo, and their refusals (which change nothing)."""

from __future__ import annotations

import sys

import pytest

from openpipeline.dg import ids
from openpipeline.engine.cache import ResultCache, cache_root
from openpipeline.engine.images import write_image
from tests.helpers import fake_maya
from tests.helpers.cli import REPO
from tests.helpers.images import noisy_version, pattern

PLUGIN = REPO / "plugin" / "openPipeline.py"


@pytest.fixture
def maya(monkeypatch):
    """The stand-in with openPipeline.py loaded (and so both node plug-ins)."""
    for name in fake_maya.MAYA_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    recorder = fake_maya.install(sys.modules)
    module = fake_maya.load_plugin_file(PLUGIN, "_test_openPipeline_commands")
    plugin = fake_maya.PluginObject(str(PLUGIN))
    module.initializePlugin(plugin)
    yield recorder
    module.uninitializePlugin(plugin)
    fake_maya.uninstall()


def file_node(recorder, name="file1", path="/textures/rock.png"):
    node = fake_maya.Node(name, "file", (fake_maya.MFn.kFileTexture,), fileTextureName=path)
    recorder.scene.add(node)
    return node


def test_restore_texture_wires_a_node_between_each_file_and_its_texture(maya):
    """Each selected file node gets an opDipTexture reading its path and feeding its fileTextureName."""
    files = [file_node(maya, "file1", "/t/rock.png"), file_node(maya, "file2", "/t/skin.<UDIM>.exr")]
    maya.scene.selection = files
    command = fake_maya.run_command(ids.RESTORE_TEXTURE_COMMAND, ["-operation", "upscale", "-factor", 4])
    nodes = maya.scene.of_type(ids.TEXTURE_NODE)
    assert sorted(n.name for n in nodes) == ["file1_restore", "file2_restore"]
    restore = maya.scene.named("file2_restore")
    assert restore.values == {"filePath": "/t/skin.<UDIM>.exr", "operation": 2, "factor": 4, "sigma": 0.0,
                              "seed": 0, "timeBudget": 0.0}
    assert ((id(restore), "outputPath"), (id(files[1]), "fileTextureName")) in maya.scene.connections
    assert files[1].values["fileTextureName"] == "/t/skin.<UDIM>.exr"  # the original path, kept
    assert command.isUndoable() is True
    command.undoIt()
    assert maya.scene.of_type(ids.TEXTURE_NODE) == [] and maya.scene.connections == set()
    command.redoIt()
    assert len(maya.scene.of_type(ids.TEXTURE_NODE)) == 2 and len(maya.scene.connections) == 2


def test_restore_texture_refusals_change_nothing(maya):
    """No file node selected, a bad flag, or a file node restored already: an error, nothing made."""
    restored = file_node(maya)
    maya.scene.selection = [restored]
    fake_maya.run_command(ids.RESTORE_TEXTURE_COMMAND, [])
    before = (len(maya.scene.nodes), set(maya.scene.connections))
    for selection, args, words in [([], [], "Select one or more file nodes"),
                                   ([file_node(maya, "file9")], ["-factor", 3], "Factor 3 is not allowed"),
                                   ([restored], [], "not restored yet")]:
        maya.scene.selection = selection
        with pytest.raises(RuntimeError, match=words):
            fake_maya.run_command(ids.RESTORE_TEXTURE_COMMAND, args)
    assert (len(maya.scene.nodes) - 1, maya.scene.connections) == before  # file9 alone was added
    assert maya.cmds_calls[-1][0] == "displayError"


@pytest.mark.slow
def test_restore_texture_now_runs_the_engine_first(maya, tmp_path):
    """-now restores at once: the command's result is the restored file, which the cache holds."""
    image = tmp_path / "rock.png"
    write_image(image, noisy_version(pattern(24)))
    maya.scene.selection = [file_node(maya, path=str(image))]
    fake_maya.run_command(ids.RESTORE_TEXTURE_COMMAND, ["-sigma", 25, "-timeBudget", 1.0, "-now"])
    (result,) = fake_maya.MPxCommand.result
    assert result.endswith(".png") and ResultCache(cache_root()).entries()
    assert len(maya.scene.of_type(ids.TEXTURE_NODE)) == 1


def test_scatter_connects_the_selected_mesh(maya):
    """opScatter makes an opNeuralGasScatter fed by the selected mesh's worldMesh[0]; undo takes it back."""
    shape = fake_maya.Node("ballShape", "mesh", (fake_maya.MFn.kMesh,))
    ball = fake_maya.Node("ball", "transform", (fake_maya.MFn.kTransform,))
    ball.shape = shape
    maya.scene.add(ball, shape)
    maya.scene.selection = [ball]
    command = fake_maya.run_command(ids.SCATTER_COMMAND, ["-count", 50, "-method", "gng", "-seed", 7])
    (node,) = maya.scene.of_type(ids.SCATTER_NODE)
    assert node.values == {"method": 2, "seed": 7, "count": 50}
    assert maya.scene.connections == {((id(shape), "worldMesh[0]"), (id(node), "inMesh"))}
    assert fake_maya.MPxCommand.result == [node.name]
    command.undoIt()
    assert maya.scene.of_type(ids.SCATTER_NODE) == [] and maya.scene.connections == set()


def test_scatter_refusals_change_nothing(maya):
    """No mesh selected, or both a count and a spacing: an error and no node."""
    empty = fake_maya.Node("group1", "transform", (fake_maya.MFn.kTransform,))
    maya.scene.add(empty)
    shape = fake_maya.Node("ballShape", "mesh", (fake_maya.MFn.kMesh,))
    maya.scene.add(shape)
    for selection, args, words in [([empty], [], "Select the mesh"),
                                   ([], ["-count", 5, "-spacing", 0.1], "not both"),
                                   ([shape], ["-mash", "-instancer"], "not both"),
                                   ([shape], ["-instancer"], "Select the objects to instance")]:
        maya.scene.selection = selection
        with pytest.raises(RuntimeError, match=words):
            fake_maya.run_command(ids.SCATTER_COMMAND, args)
    assert maya.scene.of_type(ids.SCATTER_NODE) == []
