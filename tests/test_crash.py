"""SIGKILL at every step of a workshop save and of a master leaves a sound item.

``OPENPIPELINE_FAULT=<checkpoint>`` makes the real CLI kill itself with SIGKILL
when it reaches that checkpoint. After each crash the item must show the old or
the new state, the master must be a complete file, every metadata file must
parse, and the next save must work.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest
import yaml

from openpipeline.core import ItemRef, Project, versions
from tests.helpers.cli import cli_json, run_cli
from tests.helpers.files import maya_scene

pytestmark = pytest.mark.skipif(sys.platform.startswith("win"), reason="uses SIGKILL")

WORKSHOP_POINTS = ["workshop.claimed", "workshop.staged", "workshop.journaled",
                   "workshop.step0", "workshop.step1"]
MASTER_POINTS = ["master.locked", "master.staged", "master.preserved", "master.journaled",
                 "master.step0", "master.step1", "master.step2"]


def _all_metadata_parses(root):
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".json") and ".tmp-" not in name:
                with open(path, encoding="utf-8") as handle:
                    json.load(handle)
            elif name.endswith(".yaml"):
                with open(path, encoding="utf-8") as handle:
                    yaml.safe_load(handle)


def _setup(tmp_path):
    project = Project.create(tmp_path / "proj", "demo")
    item = project.create_item(ItemRef.parse("asset/prop/chair"))
    old = maya_scene(tmp_path / "old.ma", "OLD-", size=300_000)
    new = maya_scene(tmp_path / "new.ma", "NEW-", size=300_000)
    versions.save_workshop(item, old, note="old")
    return project, item, old, new


@pytest.mark.parametrize("point", WORKSHOP_POINTS)
def test_killed_workshop_save_leaves_old_or_new_state(tmp_path, point):
    """A save killed at any step is either absent or complete, and the next one works."""
    project, _item, old, new = _setup(tmp_path)
    result = run_cli("--project", str(project.root), "workshop", "save", "asset/prop/chair",
                     str(new), "--note", "crashing", env={"OPENPIPELINE_FAULT": point})
    assert result.returncode == -signal.SIGKILL, result.stderr
    _all_metadata_parses(project.root)
    shown = cli_json("--project", str(project.root), "item", "show", "asset/prop/chair")
    numbers = [w["number"] for w in shown["workshops"]]
    assert numbers in ([1], [1, 2]), numbers
    if numbers == [1, 2]:
        assert (project.root / shown["workshops"][1]["path"]).read_bytes() == new.read_bytes()
    assert (project.root / shown["workshops"][0]["path"]).read_bytes() == old.read_bytes()
    events = cli_json("--project", str(project.root), "item", "history", "asset/prop/chair")
    assert len([e for e in events if e["event"] == "workshop"]) == len(numbers)
    after = cli_json("--project", str(project.root), "workshop", "save", "asset/prop/chair",
                     str(new), "--note", "after the crash")
    assert after["version"] > max(numbers)
    saved = project.root / after["data"]["path"]
    assert saved.read_bytes() == new.read_bytes()
    _all_metadata_parses(project.root)


@pytest.mark.parametrize("point", MASTER_POINTS)
def test_killed_master_leaves_a_complete_master(tmp_path, point):
    """A master killed at any step leaves the old master or the new one, never half."""
    project, item, old, new = _setup(tmp_path)
    versions.master(item, 1, note="first master")
    versions.save_workshop(item, new, note="new")
    result = run_cli("--project", str(project.root), "master", "asset/prop/chair",
                     "--note", "crashing", env={"OPENPIPELINE_FAULT": point})
    assert result.returncode == -signal.SIGKILL, result.stderr
    _all_metadata_parses(project.root)
    master_bytes = item.master_path.read_bytes()
    assert master_bytes in (old.read_bytes(), new.read_bytes())
    shown = cli_json("--project", str(project.root), "item", "show", "asset/prop/chair")
    master_bytes = item.master_path.read_bytes()  # showing may have finished the master
    if shown["master"]["workshop"] == 2:
        assert master_bytes == new.read_bytes()
        assert [v["number"] for v in shown["versions"]] == [1]
        assert item.version_path(1).read_bytes() == old.read_bytes()
    else:
        assert shown["master"]["workshop"] == 1
        assert master_bytes == old.read_bytes()
        assert shown["versions"] == []
    again = cli_json("--project", str(project.root), "master", "asset/prop/chair",
                     "--note", "after the crash")
    assert again["data"]["workshop"] == 2
    assert item.master_path.read_bytes() == new.read_bytes()
    saved = cli_json("--project", str(project.root), "workshop", "save", "asset/prop/chair",
                     str(old), "--note", "next")
    assert (project.root / saved["data"]["path"]).read_bytes() == old.read_bytes()
    _all_metadata_parses(project.root)

