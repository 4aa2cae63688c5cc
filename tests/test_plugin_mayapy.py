"""The plug-ins inside a real Maya (``mayapy``): what the stand-in cannot promise.

Skipped where no ``mayapy`` can import the engine's packages (``$MAYAPY``, ``mayapy`` on
the PATH, or ``$MAYA_LOCATION/bin/mayapy``; numpy, torch, scipy, trimesh and OpenImageIO
installed into it). In batch mode the nodes compute synchronously, so the script sees
results at once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from openpipeline.engine.images import write_image
from tests.helpers.cli import REPO
from tests.helpers.images import noisy_version, pattern

pytestmark = [pytest.mark.mayapy, pytest.mark.slow]

SCRIPT = r"""
import json, sys
import maya.standalone
maya.standalone.initialize(name="python")
from maya import cmds
report = {}
cmds.loadPlugin(sys.argv[1])
cmds.undoInfo(state=True, infinity=True)
report["nodes"] = sorted((cmds.pluginInfo("opDipTexture.py", query=True, dependNode=True) or [])
                         + (cmds.pluginInfo("opNeuralGasScatter.py", query=True, dependNode=True) or []))
sphere = cmds.polySphere(subdivisionsX=12, subdivisionsY=8)[0]
cmds.select(sphere)
node = cmds.opScatter(count=20, seed=1)
before = cmds.getAttr(node + ".outPositions")
cmds.move(0, 5, 0, sphere, relative=True)
after = cmds.getAttr(node + ".outPositions")
report["scatter"] = {"count": len(before), "status": cmds.getAttr(node + ".status"),
                     "lift": [round(a[1] - b[1], 9) for a, b in zip(after, before)],
                     "key": cmds.getAttr(node + ".resultKey")}
texture = cmds.shadingNode("file", asTexture=True)
cmds.setAttr(texture + ".fileTextureName", sys.argv[2], type="string")
cmds.select(texture)
cmds.opRestoreTexture(sigma=25, timeBudget=1.0)
report["texture"] = {"path": cmds.getAttr(texture + ".fileTextureName"),
                     "status": cmds.getAttr(texture + "_restore.status")}
cmds.undo()
report["undone"] = {"nodes": cmds.ls(type="opDipTexture"),
                    "path": cmds.getAttr(texture + ".fileTextureName")}
scene = sys.argv[3]
cmds.file(rename=scene)
cmds.file(save=True, type="mayaAscii")
cmds.file(scene, open=True, force=True)
report["reopened_key"] = cmds.getAttr(node + ".resultKey")
cmds.file(new=True, force=True)
cmds.unloadPlugin("openPipeline.py")
report["unloaded"] = not cmds.pluginInfo("opDipTexture.py", query=True, loaded=True)
print("REPORT " + json.dumps(report))
maya.standalone.uninitialize()
"""


def _mayapy() -> str | None:
    location = os.environ.get("MAYA_LOCATION")
    for candidate in (os.environ.get("MAYAPY"), shutil.which("mayapy"),
                      str(Path(location) / "bin" / "mayapy") if location else None):
        if candidate and Path(candidate).is_file():
            probe = subprocess.run([candidate, "-c", "import numpy, torch, scipy, trimesh, OpenImageIO"],
                                   capture_output=True, timeout=300, check=False)
            return candidate if probe.returncode == 0 else None
    return None


def test_plugins_in_a_real_maya(tmp_path):
    """In mayapy: both nodes register; opScatter's points follow a moved mesh; opRestoreTexture
    feeds the file node a restored file and is undone; resultKey survives a save and reopen;
    everything unloads."""
    mayapy = _mayapy()
    if mayapy is None:
        pytest.skip("no mayapy with the engine's packages installed")
    image = tmp_path / "rock.png"
    write_image(image, noisy_version(pattern(24)))
    script = tmp_path / "check.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OPENPIPELINE_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([mayapy, str(script), str(REPO / "plugin" / "openPipeline.py"), str(image),
                          str(tmp_path / "scene.ma")], capture_output=True, text=True, env=env, timeout=600,
                         check=False)
    line = next((x for x in run.stdout.splitlines() if x.startswith("REPORT ")), None)
    assert line is not None, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(line[len("REPORT "):])
    assert report["nodes"] == ["opDipTexture", "opNeuralGasScatter"]
    scatter = report["scatter"]
    assert scatter["count"] == 20 and scatter["status"] == 1 and scatter["lift"] == [5.0] * 20
    assert Path(report["texture"]["path"]).is_file() and report["texture"]["status"] == 1
    assert report["undone"] == {"nodes": [], "path": str(image)}
    assert report["reopened_key"] == scatter["key"] != ""
    assert report["unloaded"]
