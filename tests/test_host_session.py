"""dirmap and workspace: the project's other roots mapped to this machine's."""

from __future__ import annotations

from openpipeline.core.dirmap import dirmap_pairs
from openpipeline.core.layout import current_platform
from openpipeline.host import menu
from openpipeline.host.null import NullHost
from openpipeline.host.session import enter_project
from tests.helpers.files import maya_scene


def test_a_windows_root_maps_to_the_linux_root():
    """On Linux, a Windows root (backslashes, drive letter) becomes a forward-slash source."""
    roots = {"windows": "P:\\projects\\film\\", "linux": "/mnt/projects/film", "darwin": "/Volumes/film"}
    assert dirmap_pairs(roots, "linux", "/ignored") == [
        ("/Volumes/film", "/mnt/projects/film"), ("P:/projects/film", "/mnt/projects/film")]


def test_without_a_root_for_this_os_the_opened_folder_is_the_target():
    """A machine missing from roots maps the others to where it opened the project."""
    assert dirmap_pairs({"windows": "P:\\film"}, "linux", "/home/me/film") == [("P:/film", "/home/me/film")]
    assert dirmap_pairs({"linux": "/mnt/film"}, "windows", "C:/film") == [("/mnt/film", "C:/film")]
    assert dirmap_pairs({}, "linux", "/mnt/film") == []


def test_setting_an_item_maps_roots_and_sets_the_workspace(project, asset, tmp_path):
    """Set Item points the host at the project: dirmap from the Windows root, workspace at the root."""
    project.edit(roots={"windows": "P:\\film", "linux": str(project.root)})
    host = NullHost(maya_scene(tmp_path / "open.ma", "x"), answers=["asset/prop/chair"])
    menu.set_item(host, project)
    assert host.workspace == project.root
    if current_platform() == "linux":
        assert host.dirmap == [("P:/film", project.root.as_posix())]
    other = NullHost()
    assert enter_project(project, other, platform="linux") == [("P:/film", project.root.as_posix())]
    assert other.dirmap == [("P:/film", project.root.as_posix())]
