"""Host-level actions run for real against the no-DCC host."""

from __future__ import annotations

import pytest

from openpipeline.core import rename
from openpipeline.core.errors import VersionNotFoundError
from openpipeline.host import Host
from openpipeline.host.actions import (
    SCENE_INFO_ITEM,
    bring_in,
    follow_rename,
    master_scene,
    save_workshop,
)
from openpipeline.host.null import NullHost
from tests.helpers.files import maya_scene


def test_null_host_is_a_host():
    """The null host satisfies the Host protocol."""
    assert isinstance(NullHost(), Host)


def test_save_workshop_from_the_open_scene(asset, tmp_path):
    """The host writes the scene straight into the workshop; the scene is renamed after it."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "in maya"))
    record = save_workshop(asset, host, "blocking")
    assert record.version == 1
    assert host.current_file() == asset.workshop_path(1)
    assert "in maya" in asset.workshop_path(1).read_text()
    assert host.scene_infos == {"openpipeline_item": "asset/prop/chair",
                               "openpipeline_workshop": "1"}


def test_master_scene_saves_masters_and_opens_the_master(asset, tmp_path):
    """openPipeline's Master: new workshop, master it, then open what was asked."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "final"))
    record = master_scene(asset, host, "approved", then="master")
    assert record.data.workshop == 1
    assert host.current_file() == asset.master_path
    assert "final" in asset.master_path.read_text()


def test_bring_in_references_or_imports_the_master(asset, tmp_path):
    """Reference and import go through the host with the item's namespace."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "x"))
    with pytest.raises(VersionNotFoundError, match="no master"):
        bring_in(asset, host)
    master_scene(asset, host, "m")
    bring_in(asset, host, "reference")
    bring_in(asset, host, "import", workshop=1)
    assert host.referenced == [(asset.master_path, "chair")]
    assert host.imported == [(asset.workshop_path(1), "chair")]


def test_follow_rename_names_the_open_master_after_its_moved_file(asset, tmp_path):
    """A rename moves the open master's file; the scene follows its item and its file."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "final"))
    master_scene(asset, host, "approved", then="master")
    renamed = rename.rename(asset, "sofa")
    follow_rename(host, asset, renamed)
    assert host.scene_info(SCENE_INFO_ITEM) == "asset/prop/sofa"
    assert host.current_file() == renamed.master_path and renamed.master_path.is_file()


def test_mastering_an_older_workshop_does_not_make_it_the_latest(asset, tmp_path):
    """master_scene.py --workshop 1 opens workshop 1: it is mastered as 1, not re-saved as 3."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "old"))
    save_workshop(asset, host, "old")
    host.open(maya_scene(tmp_path / "new.ma", "newest work"))
    save_workshop(asset, host, "newest")
    host.open(asset.workshop_path(1))  # what master_scene.py --workshop 1 does
    record = master_scene(asset, host, "approve the old one")
    assert record.data.workshop == 1
    assert asset.workshop().number == 2
    assert "newest work" in asset.workshop().path.read_text()
