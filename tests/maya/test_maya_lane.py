"""What only a real Maya can show: the plug-ins load, both nodes compute, a scene is saved and mastered.

Every test runs a short script in mayapy (see conftest.py); skipped without one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openpipeline.core import ItemRef, Project
from openpipeline.core import versions as core_versions
from tests.maya.conftest import results

pytestmark = pytest.mark.slow

PLUGINS = ("openPipeline.py", "opDipTexture.py", "opNeuralGasScatter.py")
LOAD_PLUGINS = 'cmds.loadPlugin("openPipeline.py", quiet=True)'  # it loads the two node plug-ins


def test_the_three_plug_ins_load_and_register_both_nodes(run_maya):
    """Loading openPipeline.py loads opDipTexture.py and opNeuralGasScatter.py; both node types exist;
    unloading it unloads all three."""
    done = run_maya(f"""
        {LOAD_PLUGINS}
        import json
        loaded = [cmds.pluginInfo(name, query=True, loaded=True) for name in {list(PLUGINS)!r}]
        print("RESULT " + json.dumps({{"loaded": loaded,
              "types": sorted(t for t in cmds.allNodeTypes() if t.startswith("op"))}}))
        cmds.unloadPlugin("openPipeline.py")
        print("RESULT " + json.dumps([cmds.pluginInfo(name, query=True, loaded=True)
                                      for name in {list(PLUGINS)!r}]))
    """)
    assert done.returncode == 0, done.stderr
    found, after = (json.loads(line) for line in results(done.stdout)[-2:])
    assert found["loaded"] == [True, True, True]
    assert {"opDipTexture", "opNeuralGasScatter"} <= set(found["types"])
    assert after == [False, False, False]


def test_the_scatter_node_computes_points_on_a_sphere(run_maya, tmp_path):
    """A polySphere into opNeuralGasScatter (count 50): 50 positions on the sphere, status cached."""
    done = run_maya(f"""
        {LOAD_PLUGINS}
        import json, math
        sphere = cmds.polySphere(radius=1, subdivisionsX=24, subdivisionsY=12)[0]
        node = cmds.createNode("opNeuralGasScatter")
        cmds.connectAttr(sphere + "Shape.worldMesh[0]", node + ".inMesh")
        cmds.setAttr(node + ".count", 50)
        points = cmds.getAttr(node + ".outPositions")
        radii = [math.sqrt(x * x + y * y + z * z) for x, y, z, *_ in points]
        cmds.file(rename={str(tmp_path / "scatter.ma")!r})
        cmds.file(save=True, type="mayaAscii")
        print("RESULT " + json.dumps({{"count": len(points), "min": min(radii), "max": max(radii),
                                       "status": cmds.getAttr(node + ".status", asString=True)}}))
    """)
    assert done.returncode == 0, done.stderr
    found = json.loads(results(done.stdout)[-1])
    assert found["count"] == 50
    assert 0.95 < found["min"] <= found["max"] < 1.01  # on the (faceted) unit sphere
    assert found["status"] == "cached"


def test_scatter_points_computes_the_nodes_of_a_saved_scene(run_maya, run_script_in_maya, tmp_path):
    """scatter_points.py --scene under mayapy writes each node's points; a rerun comes from the cache."""
    scene = tmp_path / "scatter.ma"
    made = run_maya(f"""
        {LOAD_PLUGINS}
        sphere = cmds.polySphere(radius=1)[0]
        node = cmds.createNode("opNeuralGasScatter", name="rocks")
        cmds.connectAttr(sphere + "Shape.worldMesh[0]", node + ".inMesh")
        cmds.setAttr(node + ".count", 30)
        cmds.file(rename={str(scene)!r})
        cmds.file(save=True, type="mayaAscii")
    """)
    assert made.returncode == 0, made.stderr
    cache = tmp_path / "cache"
    done = run_script_in_maya("scatter_points.py", "--scene", str(scene), "--cache", str(cache),
                              "--out-dir", str(tmp_path / "points"))
    assert done.returncode == 0, done.stderr
    import numpy as np

    assert np.load(tmp_path / "points" / "rocks.npz")["positions"].shape == (30, 3)
    assert any(cache.rglob("meta.json"))  # the result went to the shared cache


def test_the_texture_node_restores_a_file(run_maya, tmp_path):
    """opDipTexture on a tiny noisy PNG (3 iterations): outputPath names a written file, status cached."""
    from openpipeline.engine.images import write_image
    from tests.helpers.images import noisy_version, pattern

    source = tmp_path / "wall.png"
    write_image(source, noisy_version(pattern(24)))
    done = run_maya(f"""
        {LOAD_PLUGINS}
        import json
        node = cmds.createNode("opDipTexture")
        cmds.setAttr(node + ".filePath", {str(source)!r}, type="string")
        cmds.setAttr(node + ".maxIterations", 3)
        output = cmds.getAttr(node + ".outputPath")
        print("RESULT " + json.dumps({{"output": output,
                                       "status": cmds.getAttr(node + ".status", asString=True)}}))
    """)
    assert done.returncode == 0, done.stderr
    found = json.loads(results(done.stdout)[-1])
    assert found["status"] == "cached"
    assert Path(found["output"]).is_file()


def _workshop_with_a_cube(run_maya, tmp_path) -> tuple[Project, str]:
    """A project with asset/prop/chair whose workshop 1 is a real Maya ASCII scene of a cube."""
    scene = tmp_path / "cube.ma"
    made = run_maya(f"""
        cmds.polyCube(name="chair_geo")
        cmds.file(rename={str(scene)!r})
        cmds.file(save=True, type="mayaAscii")
    """)
    assert made.returncode == 0, made.stderr
    project = Project.create(tmp_path / "proj", "film")
    item = project.create_item(ItemRef.parse("asset/prop/chair"))
    core_versions.save_workshop(item, scene, note="the cube")
    return project, "asset/prop/chair"


def test_master_scene_masters_a_workshop_under_mayapy(run_maya, run_script_in_maya, tmp_path):
    """master_scene.py opens the workshop in Maya and masters it: a Maya ASCII master of the cube."""
    project, address = _workshop_with_a_cube(run_maya, tmp_path)
    done = run_script_in_maya("master_scene.py", address, "--project", str(project.root),
                              "--note", "farm master")
    assert done.returncode == 0, done.stderr
    assert "Mastered workshop" in done.stdout
    item = project.item(address)
    master = item.master_path.read_text(encoding="utf-8", errors="replace")
    assert master.startswith("//Maya ASCII") and "chair_geo" in master
    assert [event.event for event in item.events()][-1] == "master"


def test_master_scene_imports_references_when_asked(run_maya, run_script_in_maya, tmp_path):
    """--import-references: the master holds the referenced cube as its own node, no reference left."""
    prop = tmp_path / "prop.ma"
    shot = tmp_path / "shot.ma"
    made = run_maya(f"""
        cmds.polyCube(name="prop_geo")
        cmds.file(rename={str(prop)!r})
        cmds.file(save=True, type="mayaAscii")
        cmds.file(new=True, force=True)
        cmds.file({str(prop)!r}, reference=True, namespace="prop")
        cmds.file(rename={str(shot)!r})
        cmds.file(save=True, type="mayaAscii")
    """)
    assert made.returncode == 0, made.stderr
    project = Project.create(tmp_path / "proj", "film")
    item = project.create_item(ItemRef.parse("shot/sq010/sh0100"))
    core_versions.save_workshop(item, shot, note="with a reference")
    done = run_script_in_maya("master_scene.py", "shot/sq010/sh0100", "--project", str(project.root),
                              "--note", "flattened", "--import-references")
    assert done.returncode == 0, done.stderr
    master = item.master_path.read_text(encoding="utf-8", errors="replace")
    assert "prop_geo" in master and "file -rdi" not in master and "file -r " not in master
