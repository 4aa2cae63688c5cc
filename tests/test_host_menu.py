"""The Maya menu's actions run for real through the Host protocol, with the no-DCC host."""

from __future__ import annotations

import re

import pytest

from openpipeline.host import menu
from openpipeline.host.actions import SCENE_INFO_ITEM
from openpipeline.host.null import NullHost
from tests.helpers.cli import REPO
from tests.helpers.files import maya_scene


@pytest.fixture
def open_scene(tmp_path):
    return maya_scene(tmp_path / "open.ma", "in maya")


def test_set_item_ties_the_scene_to_the_item(project, asset, open_scene):
    """Set Item asks for an address and stores it in the scene."""
    host = NullHost(open_scene, answers=["asset/prop/chair"])
    menu.set_item(host, project)
    assert host.scene_info(SCENE_INFO_ITEM) == "asset/prop/chair"
    assert host.shown == [("tell", "Scene belongs to asset/prop/chair")]


def test_save_workshop_from_the_menu_saves_the_open_scene(project, asset, open_scene):
    """Save Workshop saves the open scene as workshop 1 with the note the artist typed."""
    host = NullHost(open_scene, answers=["blocking"])
    host.set_scene_info(SCENE_INFO_ITEM, "asset/prop/chair")
    menu.save_workshop(host, project)
    assert "in maya" in asset.workshop_path(1).read_text()
    assert asset.events()[-1].comment == "blocking"
    assert host.shown == [("tell", "Saved workshop 1 of asset/prop/chair")]


def test_cancelling_the_note_saves_nothing(project, asset, open_scene):
    """A cancelled prompt leaves the item as it was and shows nothing."""
    host = NullHost(open_scene, answers=[None])
    host.set_scene_info(SCENE_INFO_ITEM, "asset/prop/chair")
    menu.save_workshop(host, project)
    assert not asset.workshop_path(1).exists()
    assert host.shown == []


def test_a_scene_without_an_item_gets_a_dialog_not_a_traceback(project, asset, open_scene):
    """Mastering a scene that belongs to no item tells the artist what to do."""
    host = NullHost(open_scene, answers=["approved"])
    menu.master(host, project)
    assert host.shown == [("alert", "This scene belongs to no item; use 'Set Item...' first.")]


def test_no_project_selected_is_a_dialog(open_scene, monkeypatch):
    """Without a selected project the menu says how to select one."""
    host = NullHost(open_scene)
    menu.history(host)
    [(kind, text)] = host.shown
    assert kind == "alert" and text.startswith("No project selected; set OPENPIPELINE_PROJECT")


def test_master_check_out_and_history_from_the_menu(project, asset, open_scene):
    """Master saves and masters; check out/in lock and release; history lists the events."""
    host = NullHost(open_scene, answers=["approved"])
    host.set_scene_info(SCENE_INFO_ITEM, "asset/prop/chair")
    menu.master(host, project)
    assert "in maya" in asset.master_path.read_text()
    menu.check_out(True, host, project)
    assert asset.project.item("asset/prop/chair").events()[-1].event == "lock"
    menu.check_out(False, host, project)
    menu.history(host, project)
    kinds = [kind for kind, _ in host.shown]
    assert kinds == ["tell", "tell", "tell", "text", "tell"]
    history = host.shown[3][1].splitlines()
    assert [line.split()[3] for line in history] == ["created", "workshop", "master", "lock", "unlock"]


def test_reference_master_from_the_menu(project, asset, open_scene, tmp_path):
    """Reference Master references the item's master under its name as namespace."""
    host = NullHost(open_scene, answers=["approved", "asset/prop/chair"])
    host.set_scene_info(SCENE_INFO_ITEM, "asset/prop/chair")
    menu.master(host, project)
    menu.bring_in("reference", host, project)
    assert host.referenced == [(asset.master_path, asset.stem)]


def _menu_calls(text: str) -> set[str]:
    return set(re.findall(r"import openpipeline\.host\.menu as m; m\.(\w+)\(", text))


def test_every_menu_item_and_shelf_button_calls_a_menu_function():
    """The plug-in's menu and the shelf name functions that exist in host.menu."""
    plugin = _menu_calls((REPO / "plugin" / "openPipeline.py").read_text(encoding="utf-8"))
    shelf = _menu_calls((REPO / "shelves" / "shelf_OpenPipeline.mel").read_text(encoding="utf-8"))
    assert len(plugin) >= 6 and len(shelf) >= 12
    missing = [name for name in plugin | shelf if not callable(getattr(menu, name, None))]
    assert not missing


def test_open_opens_the_latest_workshop_and_points_at_the_project(project, asset, open_scene):
    """Open asks for an item and opens its newest workshop, with the workspace at the project root."""
    host = NullHost(open_scene, answers=["one", "two", "asset/prop/chair"])
    host.set_scene_info(SCENE_INFO_ITEM, "asset/prop/chair")
    menu.save_workshop(host, project)
    menu.save_workshop(host, project)
    host.new_scene()
    menu.open_item(host, project)
    assert host.current_file() == asset.workshop_path(2)
    assert host.workspace == project.root
    assert host.shown[-1] == ("tell", f"Opened {asset.workshop_path(2).name}")


def test_open_without_any_file_says_so(project, asset, open_scene):
    """Opening an item with no workshop and no master is a dialog, and the scene stays."""
    host = NullHost(open_scene, answers=["asset/prop/chair"])
    menu.open_item(host, project)
    assert host.current_file() == open_scene
    assert host.shown[-1][0] == "alert" and "no workshop or master" in host.shown[-1][1]


def test_browser_lists_items_with_markers_then_opens_one(project, asset, open_scene):
    """Browser prints every item marked M (master) / W (workshops), then opens the one asked for."""
    host = NullHost(open_scene, answers=["approved", "asset/prop/chair"])
    host.set_scene_info(SCENE_INFO_ITEM, "asset/prop/chair")
    menu.master(host, project)
    menu.browser(host, project)
    listing = next(text for kind, text in host.shown if kind == "text")
    assert "M* asset/prop/chair" in listing
    assert host.current_file() == asset.workshop_path(1)


def test_restore_texture_and_scatter_run_the_plugin_commands():
    """The shelf's Restore Texture and Scatter run opRestoreTexture / opScatter as MEL."""
    host = NullHost()
    menu.restore_texture(host)
    menu.scatter(host)
    assert [what for what, _ in host.calls] == ["mel: opRestoreTexture", "mel: opScatter"]
    host.failing_commands = {"opScatter"}
    menu.scatter(host)
    assert host.shown[-1][0] == "warn" and "plug-in loaded" in host.shown[-1][1]
