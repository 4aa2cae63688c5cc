"""The master options: checks that refuse or warn before mastering, repairs on the master scene only."""

from __future__ import annotations

import pytest

from openpipeline.core.config import load_config
from openpipeline.core.errors import ConfigError
from openpipeline.core.master_options import MasterOptions, parse_master_options
from openpipeline.host import HostCommandError
from openpipeline.host.actions import master_scene, save_workshop
from openpipeline.host.mastering import MasterRefusedError
from openpipeline.host.null import NullHost
from tests.helpers.files import maya_scene, snapshot

REFUSE_ALL = MasterOptions(unsaved_changes="refuse", missing_textures="refuse", unknown_nodes="refuse")
REPAIR_ALL = MasterOptions(import_references=True, delete_display_layers=True,
                           command="cmds.polyCube()", command_language="python")


def test_a_new_project_has_every_repair_off_and_every_check_warning(project):
    """Safe defaults: no repair runs, and no check refuses, unless the project says so."""
    options = load_config(project.root).master_options
    assert options == MasterOptions()
    assert options.repairs() == []
    assert (options.unsaved_changes, options.missing_textures, options.unknown_nodes) == ("warn",) * 3


def test_master_options_are_read_from_the_project_config(project):
    """master_options in openpipeline.yaml is checked and read back; a bad value names the key."""
    project.edit(master_options={"delete_display_layers": True, "unknown_nodes": "refuse"})
    options = load_config(project.root).master_options
    assert options.delete_display_layers and options.unknown_nodes == "refuse"
    with pytest.raises(ConfigError, match=r"'missing_textures'.*'refuse' or 'warn'"):
        parse_master_options({"missing_textures": "ignore"}, "the test")
    with pytest.raises(ConfigError, match=r"Unknown master option .import_refs."):
        parse_master_options({"import_refs": True}, "the test")
    with pytest.raises(ConfigError, match="'command_language'"):
        parse_master_options({"command_language": "lua"}, "the test")


@pytest.mark.parametrize("problem", ["unsaved_changes", "missing_textures", "unknown_nodes"])
def test_a_refusing_check_changes_nothing_on_disk(project, asset, tmp_path, problem):
    """Each check set to refuse stops the master before anything is saved: not even a workshop."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "work"))
    if problem == "unsaved_changes":
        host.modified = True
    elif problem == "missing_textures":
        host.textures = [str(tmp_path / "gone" / "wood.<UDIM>.exr")]
    else:
        host.unknown = ["mysteryNode1"]
    before = snapshot(project.root)
    with pytest.raises(MasterRefusedError, match=f"Cannot master asset/prop/chair: .*'{problem}: warn'"):
        master_scene(asset, host, "approved", options=REFUSE_ALL)
    assert snapshot(project.root) == before
    assert host.current_file() == tmp_path / "open.ma" and host.calls == []


def test_warning_checks_let_the_master_through_with_a_warning(asset, tmp_path):
    """With 'warn', each problem is shown once and the master is made."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "work"))
    host.unknown = ["mysteryNode1"]
    host.textures = [str(tmp_path / "missing.png")]
    master_scene(asset, host, "approved")
    assert asset.master_path.is_file()
    warnings = [text for kind, text in host.shown if kind == "warn"]
    assert len(warnings) == 2 and "missing.png" in warnings[0] and "mysteryNode1" in warnings[1]


def test_a_udim_texture_with_one_tile_on_disk_is_not_missing(asset, tmp_path):
    """A <UDIM> path counts as present when any tile exists, so a refusing check lets it pass."""
    (tmp_path / "wood.1002.exr").write_bytes(b"tile")
    host = NullHost(maya_scene(tmp_path / "open.ma", "work"))
    host.textures = [str(tmp_path / "wood.<UDIM>.exr")]
    master_scene(asset, host, "approved", options=REFUSE_ALL)
    assert asset.master_path.is_file()


def test_repairs_run_in_order_on_the_master_scene_only(asset, tmp_path):
    """Workshop saved first, then imports, layers, command; the master carries them, the workshop not."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "work"))
    record = master_scene(asset, host, "approved", options=REPAIR_ALL)
    workshop = asset.workshop_path(record.data.workshop)
    assert [what for what, _ in host.calls] == [
        "import_references", "delete_display_layers", "python: cmds.polyCube()"]
    assert all(scene == workshop for _, scene in host.calls)  # run after the workshop was saved
    master = asset.master_path.read_text()
    assert master.index("edit: import_references") < master.index("edit: delete_display_layers") \
        < master.index("edit: python: cmds.polyCube()")
    assert "edit:" not in workshop.read_text()
    assert host.current_file() == workshop and not host.has_unsaved_changes()


def test_no_repairs_means_the_workshop_file_is_copied(asset, tmp_path):
    """With every repair off the master is the workshop byte for byte (no second save by the host)."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "work"))
    record = master_scene(asset, host, "approved")
    assert asset.master_path.read_bytes() == asset.workshop_path(record.data.workshop).read_bytes()
    assert host.calls == []


def test_a_failing_command_masters_nothing_and_reopens_the_workshop(asset, tmp_path):
    """A custom command that raises leaves the old master and no stray file; the workshop is reopened."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "work"))
    master_scene(asset, host, "first")
    first = asset.master_path.read_bytes()
    host.failing_commands = {"boom()"}
    options = MasterOptions(delete_display_layers=True, command="boom()")
    with pytest.raises(HostCommandError, match="boom"):
        master_scene(asset, host, "second", options=options)
    assert asset.master_path.read_bytes() == first
    assert host.current_file() == asset.workshop_path(1) and host.edits == []
    assert not [p for p in asset.master_path.parent.iterdir() if p.name.startswith(".")
                and p.is_file()]


def test_an_unchanged_latest_workshop_is_mastered_without_saving_another(asset, tmp_path):
    """Save workshop, then master with 'unsaved_changes: refuse': the saved workshop is mastered."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "work"))
    save_workshop(asset, host, "ready")
    record = master_scene(asset, host, "approved", options=REFUSE_ALL)
    assert record.data.workshop == 1
    assert not asset.workshop_path(2).exists()
