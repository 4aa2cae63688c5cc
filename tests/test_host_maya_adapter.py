"""The Maya adapter's translation, run against a recording stand-in for maya.cmds (no Maya here).

What these prove: which maya.cmds calls the adapter makes, with which flags, and what it
does with their answers. Whether Maya accepts them is for a real Maya to confirm.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from openpipeline.host import HostCommandError


class FakeCmds:
    """Records every call; answers from ``answers`` keyed by command name (a callable or a value)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.answers = answers

    def __getattr__(self, name: str):
        def command(*args: Any, **flags: Any) -> Any:
            self.calls.append((name, args, flags))
            answer = self.answers.get(name)
            return answer(*args, **flags) if callable(answer) else answer
        return command

    def named(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, flags) for called, args, flags in self.calls if called == name]


@pytest.fixture
def maya(monkeypatch):
    """A fake ``maya`` package (cmds, mel, utils) in sys.modules; yields a function making a MayaHost."""
    package = types.ModuleType("maya")
    mel = types.ModuleType("maya.mel")
    utils = types.ModuleType("maya.utils")
    mel.evaluated = []
    mel.eval = lambda code: mel.evaluated.append(code)
    utils.executeDeferred = lambda fn: fn()
    package.mel, package.utils = mel, utils
    monkeypatch.setitem(sys.modules, "maya", package)
    monkeypatch.setitem(sys.modules, "maya.mel", mel)
    monkeypatch.setitem(sys.modules, "maya.utils", utils)

    def make(**answers: Any):
        cmds = FakeCmds(answers)
        package.cmds = cmds
        monkeypatch.setitem(sys.modules, "maya.cmds", cmds)
        from openpipeline.host.maya import MayaHost

        return MayaHost(), cmds, mel
    return make


def test_snapshot_is_a_one_frame_playblast_at_164_by_105(maya, tmp_path):
    """Like openPipeline: playblast -frame <now> -format image -cf <path> -wh 164 105, no viewer."""
    host, cmds, _ = maya(currentTime=12.0)
    host.snapshot(tmp_path / ".preview.tmp-1.jpg")
    [(_, flags)] = cmds.named("playblast")
    assert flags["frame"] == [12.0] and flags["format"] == "image" and flags["compression"] == "jpg"
    assert flags["widthHeight"] == (164, 105) and flags["viewer"] is False
    assert flags["completeFilename"] == str(tmp_path / ".preview.tmp-1.jpg")


def test_missing_textures_reads_file_nodes_and_knows_udim_sets(maya, tmp_path):
    """fileTextureName of every file node; a <UDIM> set with one tile on disk is not missing."""
    (tmp_path / "wood.1001.exr").write_bytes(b"x")
    paths = {"file1.fileTextureName": str(tmp_path / "wood.<UDIM>.exr"),
             "file2.fileTextureName": str(tmp_path / "gone.png"),
             "file3.fileTextureName": ""}
    host, _, _ = maya(ls=lambda *a, **k: ["file1", "file2", "file3"] if k.get("type") == "file" else [],
                      getAttr=lambda attr: paths[attr])
    assert host.missing_texture_files() == [str(tmp_path / "gone.png")]


def test_import_all_references_repeats_until_nested_ones_are_gone(maya):
    """Top-level references are imported, then the ones they held, until none is loaded."""
    rounds = [["/a.ma", "/b.ma"], ["/nested.ma"], []]
    host, cmds, _ = maya(file=lambda *a, **k: rounds.pop(0) if k.get("query") else None,
                         referenceQuery=lambda *a, **k: True)
    host.import_all_references()
    imported = [args[0] for args, flags in cmds.named("file") if flags.get("importReference")]
    assert imported == ["/a.ma", "/b.ma", "/nested.ma"]


def test_delete_display_layers_keeps_the_default_layer(maya):
    """Every display layer but defaultLayer (and referenced ones) is deleted in one call."""
    host, cmds, _ = maya(ls=lambda *a, **k: ["defaultLayer", "layer1", "refLayer"],
                         referenceQuery=lambda node, **k: node == "refLayer")
    host.delete_display_layers()
    assert cmds.named("delete") == [((["layer1"],), {})]


def test_run_command_runs_mel_or_python_and_reports_failures(maya):
    """MEL goes through mel.eval; Python is executed; an exception becomes one HostCommandError."""
    host, _, mel = maya()
    host.run_command("mel", "opRestoreTexture")
    assert mel.evaluated == ["opRestoreTexture"]
    host.run_command("python", "import sys; sys.modules['maya'].ran = 1")
    assert sys.modules["maya"].ran == 1
    with pytest.raises(HostCommandError, match="ZeroDivisionError"):
        host.run_command("python", "1 / 0")


def test_dirmap_workspace_and_unsaved_changes(maya, tmp_path):
    """dirmap is switched on and given each pair; the workspace opens at the root; file -q -modified."""
    host, cmds, _ = maya(file=lambda *a, **k: True if k.get("modified") else None)
    host.set_dirmap([("P:/film", "/mnt/film")])
    host.set_workspace(Path("/mnt/film"))
    assert cmds.named("dirmap") == [((), {"enable": True}), ((), {"mapDirectory": ("P:/film", "/mnt/film")})]
    assert cmds.named("workspace") == [(("/mnt/film",), {"openWorkspace": True})]
    assert host.has_unsaved_changes() is True


def test_scene_closed_runs_once_and_kills_the_other_job(maya):
    """Two run-once script jobs; the one that fires kills the other and calls back once."""
    handlers = {}
    host, cmds, _ = maya(scriptJob=lambda **k: handlers.setdefault(k["event"][0], (len(handlers) + 1,
                                                                      k["event"][1]))[0]
                         if "event" in k else True)
    seen = []
    host.on_scene_closed(lambda: seen.append("closed"))
    assert set(handlers) == {"PreFileNewOrOpened", "quitApplication"}
    handlers["PreFileNewOrOpened"][1]()
    assert seen == ["closed"]
    killed = [flags["kill"] for _, flags in cmds.named("scriptJob") if "kill" in flags]
    assert killed == [handlers["quitApplication"][0]]


def test_heartbeat_hands_each_beat_to_the_main_thread(maya):
    """A daemon thread waits between beats and hands the callback to executeDeferred; stop ends it."""
    import threading

    host, _, _ = maya(about=False)
    beats = threading.Event()
    sys.modules["maya.utils"].executeDeferred = lambda fn: (fn(), beats.set())
    host.start_heartbeat(0.01, lambda: None)
    assert beats.wait(5)
    host.stop_heartbeat()
    names = [thread.name for thread in threading.enumerate()]
    assert host._heartbeat_stop is None and names.count("openpipeline-heartbeat") <= 1
