"""Two real processes changing one item at the same moment never lose work.

Each round starts two ``openpipeline`` processes that wait for the same go file,
then checks: each exits 0, or 2 with one sentence; no journal is left; every
ordinary command works; every payload reported saved is in the item, intact;
nothing is left at the old name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from openpipeline.core import ItemRef, Project, versions
from tests.helpers.cli import REPO, cli_json, one_sentence
from tests.helpers.files import maya_scene

ROUNDS = int(os.environ.get("RACE_ROUNDS", "3"))
RUNNER = (
    "import os, sys, time\n"
    "go = sys.argv[1]\n"
    "open(f'{go}.ready-{os.getpid()}', 'w').close()\n"
    "while not os.path.exists(go):\n"
    "    time.sleep(0.0005)\n"
    "from openpipeline.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)

pytestmark = pytest.mark.slow


def _race(tmp_path, root, first, second):
    """Run two CLI commands released by one go file; returns their results."""
    go = tmp_path / f"go-{time.monotonic_ns()}"
    env = {**os.environ, "OPENPIPELINE_PROJECT": str(root)}
    procs = [subprocess.Popen([sys.executable, "-c", RUNNER, str(go), "--json", *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=REPO, env=env) for args in (first, second)]
    deadline = time.monotonic() + 60  # both started and waiting, even with the cores busy
    while len(list(tmp_path.glob(f"{go.name}.ready-*"))) < len(procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 2), err
        if proc.returncode == 2:
            one_sentence(err)
        results.append((proc.returncode, out))
    return results


def _setup(tmp_path, round_no):
    project = Project.create(tmp_path / f"p{round_no}", "p")
    item = project.create_item(ItemRef.parse("asset/prop/a"))
    for n in (1, 2, 3):
        versions.save_workshop(item, maya_scene(tmp_path / f"w{n}.ma", f"work{n}-", size=50_000),
                               note=f"w{n}")
    versions.master(item, 1, note="m1")
    versions.master(item, 2, note="m2")
    return project


def _sound(root, name):
    """The item is whole under ``name``: every recorded file there, nothing at other names."""
    env = {"OPENPIPELINE_PROJECT": str(root)}
    assert not list((root / ".openpipeline" / "journal").glob("*.json"))
    assert f"asset/prop/{name}" in [r["item"] for r in cli_json("item", "list", env=env)]
    shown = cli_json("item", "show", f"asset/prop/{name}", env=env)
    for row in shown["workshops"] + shown["versions"]:
        assert (root / row["path"]).is_file(), row
    assert shown["uncommitted"] == []
    stray = [p for p in root.rglob("*.ma") if not p.name.startswith(f"{name}_")]
    assert stray == []
    return shown


def test_archive_racing_rename_leaves_one_whole_renamed_item(tmp_path):
    """archive --keep 0 beside rename: the item ends up whole under the new name, its history complete."""
    for round_no in range(ROUNDS):
        project = _setup(tmp_path, round_no)
        (archived, _), (renamed, _) = _race(tmp_path, project.root,
                                            ["archive", "asset/prop/a", "--keep", "0"],
                                            ["item", "rename", "asset/prop/a", "b"])
        assert renamed == 0
        shown = _sound(project.root, "b")
        assert not (project.root / "lib/prop/a").exists()
        assert not (project.root / "archive/lib/prop/a").exists()
        events = [e["event"] for e in cli_json("item", "history", "asset/prop/b",
                                               env={"OPENPIPELINE_PROJECT": str(project.root)})]
        assert events.count("rename") == 1
        assert events.count("archive") == (1 if archived == 0 else 0)
        assert len(shown["workshops"]) == 3


@pytest.mark.parametrize("other", [["item", "rename", "asset/prop/a", "b"], ["delete", "asset/prop/a"]])
def test_a_save_racing_rename_or_delete_lands_in_the_item_or_fails_cleanly(tmp_path, other):
    """A save reported as done is in the item after the rename (or delete); otherwise nothing is left."""
    for round_no in range(ROUNDS):
        project = _setup(tmp_path, round_no)
        payload = maya_scene(tmp_path / "new.ma", f"payload-{round_no}-", size=2_000_000)
        (saved, out), (moved, _) = _race(tmp_path, project.root,
                                         ["workshop", "save", "asset/prop/a", str(payload), "--note", "n"],
                                         other)
        assert moved == 0
        root = project.root
        if other[0] == "delete":
            restored = cli_json("restore", "asset/prop/a", env={"OPENPIPELINE_PROJECT": str(root)})
            assert restored["item"] == "asset/prop/a"
        name = "b" if other[0] == "item" else "a"
        shown = _sound(root, name)
        if saved == 0:
            number = json.loads(out)["version"]
            row = next(r for r in shown["workshops"] if r["number"] == number)
            assert (root / row["path"]).read_bytes() == payload.read_bytes()
        else:
            assert len(shown["workshops"]) == 3
        if name == "b":
            assert not (root / "lib/prop/a").exists()


def test_master_racing_archive_exits_0_or_2_and_keeps_a_whole_master(tmp_path):
    """master beside archive --keep 0: each succeeds or says why in one sentence; the master is whole."""
    for round_no in range(ROUNDS):
        project = _setup(tmp_path, round_no)
        _race(tmp_path, project.root, ["master", "asset/prop/a", "--workshop", "3", "--note", "m3"],
              ["archive", "asset/prop/a", "--keep", "0"])
        master = project.root / "lib/prop/a/a_asset.ma"
        assert master.read_text().startswith("//Maya ASCII")
        assert len(master.read_bytes()) > 50_000
        _sound(project.root, "a")
