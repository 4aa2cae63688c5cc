"""The node plug-ins' compute, through the stand-in's data blocks, on the real engine: the
glue reads every input, writes every output, cleans them, dirties the node when a result
lands and cancels on deletion."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from openpipeline.dg import ids
from openpipeline.engine.images import write_image
from openpipeline.engine.scatter.primitives import icosphere
from tests.helpers import fake_maya
from tests.helpers.cli import REPO
from tests.helpers.images import noisy_version, pattern

OUTPUTS = {ids.TEXTURE_NODE: {"outputPath", "status", "progress", "statusMessage"},
           ids.SCATTER_NODE: {"outPositions", "outNormals", "outIds", "outFaceIds", "outBarycentrics",
                              "status", "progress", "statusMessage", "resultKey"}}


@pytest.fixture
def maya(monkeypatch):
    for name in fake_maya.MAYA_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    recorder = fake_maya.install(sys.modules)
    yield recorder
    fake_maya.uninstall()


def load(name: str):
    path = REPO / "nodes" / f"{name}.py"
    module = fake_maya.load_plugin_file(path, f"_test_compute_{name}")
    module.initializePlugin(fake_maya.PluginObject(str(path)))
    return module


def make_node(module, name: str):
    node = fake_maya.RECORDER.nodes[name]["creator"]()
    node.postConstructor()
    return node


def compute(node, module, data, attribute="status"):
    plug = fake_maya.MPlug(node.thisMObject(), next(a for a in fake_maya.RECORDER.attributes
                                                   if a.long == attribute))
    return node.compute(plug, data)


def test_compute_leaves_input_plugs_to_maya(maya, tmp_path):
    """compute answers None for a plug it does not own (an input), and writes nothing."""
    module = load(ids.TEXTURE_NODE)
    node = make_node(module, ids.TEXTURE_NODE)
    data = fake_maya.MDataBlock({})
    assert compute(node, module, data, "filePath") is None and data.outputs == {}


@pytest.mark.slow
def test_texture_compute_runs_in_background_then_dirties_and_answers(maya, tmp_path):
    """Interactive: running at once, a deferred dirty when done (the tick bumped, the progress
    bar ended), then the cached path; every output written and cleaned each time."""
    image = tmp_path / "rock.png"
    write_image(image, noisy_version(pattern(24)))
    module = load(ids.TEXTURE_NODE)
    node = make_node(module, ids.TEXTURE_NODE)
    inputs = {"filePath": str(image), "sigma": 25.0, "maxIterations": 5}
    data = fake_maya.MDataBlock(inputs)
    assert compute(node, module, data) is node
    assert data.outputs["status"] == 2 and data.outputs["outputPath"] == ""  # running
    assert data.clean == OUTPUTS[ids.TEXTURE_NODE]
    node._dirty()  # a progress report reaching the main thread while the worker starts up
    assert any(call[0] == "progressBar" and call[2].get("beginProgress") for call in maya.cmds_calls)
    assert "resultTick" not in node.thisMObject().values  # progress alone dirties nothing
    assert node.logic.state.handle.wait(120) == "done"
    for _ in range(100):
        if maya.deferred:
            break
        node.logic.state.handle.wait(0.1)
    deferred, _args = maya.deferred[-1]
    deferred()
    assert node.thisMObject().values["resultTick"] >= 1
    assert ("progressBar", ("MayaWindow",), {"edit": True, "endProgress": True}) in maya.cmds_calls
    data = fake_maya.MDataBlock(inputs)
    compute(node, module, data, "outputPath")
    assert data.outputs["status"] == 1 and data.outputs["outputPath"].endswith(".png")


@pytest.mark.slow
def test_texture_node_deletion_cancels_its_job(maya, tmp_path):
    """Deleting the node (its pre-removal callback) cancels the running job; unloading removes callbacks."""
    image = tmp_path / "rock.png"
    write_image(image, noisy_version(pattern(24)))
    module = load(ids.TEXTURE_NODE)
    node = make_node(module, ids.TEXTURE_NODE)
    compute(node, module, fake_maya.MDataBlock({"filePath": str(image), "maxIterations": 100_000}))
    handle = node.logic.state.handle
    fake_maya.delete_node(node.thisMObject())
    assert handle.wait(10) == "cancelled"
    module.uninitializePlugin(fake_maya.PluginObject("opDipTexture.py"))
    assert maya.callbacks == {} and maya.nodes == {}


def test_texture_compute_fails_on_bad_inputs_without_a_job(maya, tmp_path):
    """A factor the engine refuses: status failed (3) and the sentence on statusMessage."""
    module = load(ids.TEXTURE_NODE)
    node = make_node(module, ids.TEXTURE_NODE)
    data = fake_maya.MDataBlock({"filePath": str(tmp_path / "x.png"), "operation": 2, "factor": 3})
    compute(node, module, data)
    assert data.outputs["status"] == 3 and "Factor 3" in data.outputs["statusMessage"]
    assert node.logic.state.handle is None


@pytest.mark.slow
def test_scatter_compute_gives_maya_arrays_that_follow_the_mesh(maya):
    """Batch: points as Maya arrays; a moved mesh moves them (no job); a new node given the stored
    resultKey (a reopened scene) rebinds a deformed pose."""
    maya.batch = True
    module = load(ids.SCATTER_NODE)
    node = make_node(module, ids.SCATTER_NODE)
    ball = icosphere(1)
    data = fake_maya.MDataBlock({"inMesh": fake_maya.MeshData(ball.vertices, ball.faces), "count": 20})
    compute(node, module, data)
    out = data.outputs
    assert out["status"] == 1 and len(out["outPositions"]) == 20 and len(out["outBarycentrics"]) == 60
    assert out["outIds"] == list(range(20)) and data.clean == OUTPUTS[ids.SCATTER_NODE]
    first = np.array([(p.x, p.y, p.z) for p in out["outPositions"]])
    maya.batch = False
    moved = fake_maya.MeshData(ball.vertices + np.array([0.0, 4.0, 0.0]), ball.faces)
    reopened = make_node(module, ids.SCATTER_NODE)
    for each in (node, reopened):
        data = fake_maya.MDataBlock({"inMesh": moved, "count": 20}, outputs={"resultKey": out["resultKey"]})
        compute(each, module, data, "outPositions")
        positions = np.array([(p.x, p.y, p.z) for p in data.outputs["outPositions"]])
        np.testing.assert_allclose(positions, first + np.array([0.0, 4.0, 0.0]), atol=1e-12)
        assert each.logic.state.handle is None and data.outputs["resultKey"] == out["resultKey"]


@pytest.mark.parametrize("name", ["opDipTexture", "opNeuralGasScatter"])
def test_the_nodes_follow_a_project_switch_to_its_cache(maya, tmp_path, monkeypatch, name):
    """After the artist switches project (here: $OPENPIPELINE_CACHE), the nodes use the new
    cache within a few seconds, not the first one for the whole session."""
    module = load(name)
    module._caches._every = 0  # resolve at every call (a project switch takes effect at once)
    monkeypatch.setenv("OPENPIPELINE_CACHE", str(tmp_path / "one"))
    first = module._the_cache()
    assert first.root == tmp_path / "one"
    monkeypatch.setenv("OPENPIPELINE_CACHE", str(tmp_path / "two"))
    assert module._the_cache().root == tmp_path / "two"
    monkeypatch.setenv("OPENPIPELINE_CACHE", str(tmp_path / "one"))
    assert module._the_cache() is first  # one ResultCache per root
