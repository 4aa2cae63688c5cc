"""Snapshots and playblasts recorded as an item's preview and a workshop's, whole or not at all."""

from __future__ import annotations

import pytest

from openpipeline.core import previews
from openpipeline.core.errors import SourceFileError, VersionNotFoundError
from openpipeline.host import menu
from openpipeline.host.actions import save_workshop
from openpipeline.host.null import NullHost
from tests.helpers.files import maya_scene


def test_item_previews_keep_openpipelines_names(asset):
    """The item's own preview is notes/preview.jpg and notes/playblast.<ext>."""
    asset.require_files()
    notes = asset.notes_dir
    assert previews.preview_path(asset, "snapshot", ".jpg") == notes / "preview.jpg"
    assert previews.preview_path(asset, "playblast", ".mov") == notes / "playblast.mov"


def test_snapshot_is_published_whole_with_a_history_event(asset):
    """The host writes a hidden temporary file; only the final name remains, and history says so."""
    seen = []

    def writer(path):
        seen.append(path)
        assert path.parent == asset.notes_dir and path.name.startswith(".") and path.suffix == ".jpg"
        assert not (asset.notes_dir / "preview.jpg").exists()  # not visible while being written
        path.write_bytes(b"jpeg")

    record = previews.record_preview(asset, writer)
    assert (asset.notes_dir / "preview.jpg").read_bytes() == b"jpeg"
    assert [p.name for p in asset.notes_dir.iterdir()] == ["preview.jpg"]
    assert not seen[0].exists()
    assert asset.events()[-1].event == "preview"
    assert record.data.path.endswith("notes/preview.jpg")


def test_a_failed_capture_keeps_the_old_preview(asset):
    """A writer that raises or writes nothing leaves the previous preview and no temporary file."""
    previews.record_preview(asset, lambda path: path.write_bytes(b"old"))

    def broken(path):
        path.write_bytes(b"half")
        raise RuntimeError("viewport gone")

    with pytest.raises(RuntimeError):
        previews.record_preview(asset, broken)
    with pytest.raises(SourceFileError, match="wrote no snapshot"):
        previews.record_preview(asset, lambda path: None)
    assert [p.name for p in asset.notes_dir.iterdir()] == ["preview.jpg"]
    assert (asset.notes_dir / "preview.jpg").read_bytes() == b"old"
    assert [e.event for e in asset.events()].count("preview") == 1


def test_version_previews_are_named_after_the_version(asset, tmp_path):
    """A workshop's snapshot and playblast carry its number; an unknown number is refused."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "x"))
    save_workshop(asset, host, "one")
    previews.record_preview(asset, host.snapshot, workshop=1)
    previews.record_preview(asset, host.playblast, kind="playblast", suffix=".mov", workshop=1)
    names = sorted(p.name for p in asset.notes_dir.iterdir())
    assert names == ["workshop_0001.jpg", "workshop_0001_playblast.mov"]
    with pytest.raises(VersionNotFoundError, match="no workshop 7"):
        previews.record_preview(asset, host.snapshot, workshop=7)


def test_snapshot_button_saves_the_item_and_workshop_previews(project, asset, tmp_path):
    """From a workshop scene, Snapshot stores preview.jpg and workshop_0001.jpg at 164x105."""
    host = NullHost(maya_scene(tmp_path / "open.ma", "x"))
    save_workshop(asset, host, "one")
    menu.snapshot(host, project)
    assert (asset.notes_dir / "preview.jpg").read_bytes().startswith(b"snapshot 164x105")
    assert (asset.notes_dir / "workshop_0001.jpg").is_file()
    assert host.shown[-1] == ("tell", "Snapshot of asset/prop/chair saved as preview.jpg")
    menu.playblast(host, project)
    assert any(p.name.startswith("playblast.") for p in asset.notes_dir.iterdir())
