"""The browser window, offscreen (pytest-qt): every action through the core, with NullHost."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

from pathlib import Path

import pytest

pytest.importorskip("Qt", reason="the browser tests need Qt (pip install 'openpipeline[ui]')")
pytest.importorskip("pytestqt", reason="the browser tests need pytest-qt")

from Qt import QtCore, QtWidgets

from openpipeline.core import ItemRef, checkout, registry, validators, versions
from openpipeline.core.notes import set_preview
from openpipeline.core.project import Project
from openpipeline.host import actions
from openpipeline.host.null import NullHost
from openpipeline.ui.context import BrowserContext
from openpipeline.ui.models import MARKER_ROLE, ROW_ROLE
from openpipeline.ui.window import BrowserWindow
from tests.helpers.files import maya_scene


class Dialogs:
    """Scripted answers to the browser's questions, and the errors it showed."""

    def __init__(self, answers=(), confirm=True):
        self.answers = list(answers)
        self.confirm_answer = confirm
        self.errors: list[str] = []
        self.opened: list[Path] = []

    def context(self, project, host=None) -> BrowserContext:
        return BrowserContext(
            project, host or NullHost(), author="tester", opener=self.opened.append,
            ask=lambda parent, title, label, text: self.answers.pop(0) if self.answers else None,
            confirm=lambda parent, title, message: self.confirm_answer,
            error=lambda parent, message, user_error: self.errors.append(message))


def _window(qtbot, context) -> BrowserWindow:
    window = BrowserWindow(context)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.is_loaded, timeout=20000)
    return window


def _row(browser, address):
    """The row's (plain data, marker) as the list shows it."""
    model = browser.model
    index = model.index(model.rows.index(model.row_of(address)))
    return index.data(ROW_ROLE), index.data(MARKER_ROLE)


@pytest.fixture
def chair(project, tmp_path):
    item = project.create_item(ItemRef.parse("asset/prop/chair"))
    versions.save_workshop(item, maya_scene(tmp_path / "w1.ma", "one"), note="first", author="alice")
    return item


def test_project_manager_creates_and_opens_a_project(qtbot, tmp_path):
    """Creating a project in the Project Manager registers it, activates it and shows it."""
    dialogs = Dialogs()
    window = _window(qtbot, dialogs.context(None))
    manager = window.project_manager()
    manager.name_edit.setText("film")
    manager.root_edit.setText(str(tmp_path / "film"))
    qtbot.mouseClick(manager.buttons["create"], QtCore.Qt.MouseButton.LeftButton)
    assert dialogs.errors == []
    assert registry.lookup("film") == tmp_path / "film"
    assert registry.active_path() == tmp_path / "film"
    assert window.ctx.project is not None and window.ctx.project.config.name == "film"
    assert "film" in window.windowTitle()
    qtbot.waitUntil(lambda: window.is_loaded, timeout=20000)


def test_project_manager_shows_the_core_sentence_for_a_bad_name(qtbot, tmp_path):
    """A project name the core refuses shows the core's sentence and creates nothing."""
    dialogs = Dialogs()
    window = _window(qtbot, dialogs.context(None))
    manager = window.project_manager()
    manager.name_edit.setText("bad name")
    manager.root_edit.setText(str(tmp_path / "bad"))
    manager.create_project()
    assert len(dialogs.errors) == 1 and "bad name" in dialogs.errors[0]
    assert not (tmp_path / "bad").exists()


def test_project_manager_adopts_a_legacy_project_and_shows_its_items(qtbot, tmp_path):
    """Adopt Legacy... adopts a MEL openPipeline project, registers it and lists its items."""
    from tests.test_adopt import _legacy

    root, _registry_file = _legacy(tmp_path)
    dialogs = Dialogs()
    window = _window(qtbot, dialogs.context(None))
    manager = window.project_manager()
    manager.choose_folder = lambda title: str(root)
    manager.adopt_legacy()
    assert dialogs.errors == []
    assert window.ctx.project is not None and window.ctx.project.root == root
    qtbot.waitUntil(lambda: window.is_loaded, timeout=20000)
    assert _row(window.assets, "asset/prop/chair")[1] == "master"
    assert manager.projects.count() == 1


def test_open_save_and_master_update_the_lists_and_markers(qtbot, project, chair):
    """Open a workshop, save one and master through the actions: markers follow."""
    dialogs = Dialogs(answers=["second pass", "approved"])
    window = _window(qtbot, dialogs.context(project))
    assert _row(window.assets, "asset/prop/chair")[1] == "workshops"
    assert window.assets.select("asset/prop/chair")
    window.assets.open_workshop()
    assert dialogs.opened == [chair.workshop_path(1)]  # standalone: handed to the OS
    assert _row(window.assets, "asset/prop/chair")[1] == "open"
    window.current.save_workshop()
    assert [e.number for e in chair.state().active("workshop")] == [1, 2]
    window.current.master()  # the open scene is the unchanged workshop 2: mastered as it is
    assert dialogs.errors == []
    state = chair.state()
    assert state.master is not None and state.master.data.workshop == 2
    row, marker = _row(window.assets, "asset/prop/chair")
    assert (row.marker, marker, row.workshops) == ("master", "open", 2)
    assert [v.label for v in window.current.versions.rows][:2] == ["master", "workshop 0002"]


def test_a_lock_held_by_another_user_shows_and_blocks(qtbot, project, chair):
    """Bob's check-out shows in the list, and saving over it shows the core's refusal."""
    checkout.acquire(chair, author="bob")
    dialogs = Dialogs(answers=["mine now?"])
    window = _window(qtbot, dialogs.context(project))
    row, _marker = _row(window.assets, "asset/prop/chair")
    assert row.locked_by == "bob"
    assert window.assets.select("asset/prop/chair")
    assert "bob" in window.assets.details.text()
    window.assets.open_workshop()
    window.current.save_workshop()
    assert len(dialogs.errors) == 1 and "bob" in dialogs.errors[0]
    assert [e.number for e in chair.state().active("workshop")] == [1]


def test_steal_takes_the_check_out_with_a_note(qtbot, project, chair):
    """Steal asks why, takes the check-out, and the list shows the new holder."""
    checkout.acquire(chair, author="bob")
    dialogs = Dialogs(answers=["bob is away"])
    window = _window(qtbot, dialogs.context(project))
    window.assets.select("asset/prop/chair")
    window.assets.steal()
    assert dialogs.errors == []
    assert checkout.status(chair).holder.user == "tester"
    assert _row(window.assets, "asset/prop/chair")[0].locked_by == "tester"


class _Blocker:
    name = "always_blocks"

    def check(self, context):
        return ["The scene is not ready."]


@pytest.mark.parametrize("force", [False, True])
def test_a_blocked_master_forces_only_by_an_explicit_recorded_choice(qtbot, project, chair, force):
    """The validators' report is shown; forcing records 'forced', cancelling masters nothing."""
    validators.register(_Blocker())
    try:
        dialogs = Dialogs(answers=["ship it"])
        window = _window(qtbot, dialogs.context(project))
        window.assets.select("asset/prop/chair")
        window.assets.open_workshop()
        shown = []
        window.current.exec_dialog = lambda dialog: shown.append(dialog.problems.count()) or force
        window.current.master()
    finally:
        validators.unregister("always_blocks")
    assert shown == [1]
    assert [e.number for e in chair.state().active("workshop")] == [1]  # forcing saves no other
    master = chair.state().master
    if force:
        assert master is not None and master.data.forced
        assert "forced" in window.current.status.text()
    else:
        assert master is None
        assert "cancelled" in window.current.status.text()


def test_core_errors_show_the_core_sentence(qtbot, project, chair, monkeypatch):
    """A rename the core refuses shows a critical message box with its sentence; nothing moves."""
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "critical",
                        lambda parent, title, message: shown.append(message))
    context = BrowserContext(project, NullHost(), author="tester", opener=lambda path: None,
                             ask=lambda *args: "no/slash")
    window = _window(qtbot, context)
    window.assets.select("asset/prop/chair")
    window.assets.rename_item()
    assert len(shown) == 1 and "no/slash" in shown[0]
    assert chair.exists()


def test_delete_and_restore(qtbot, project, chair):
    """Delete moves the item out of the list; Deleted Items brings it back."""
    dialogs = Dialogs()
    window = _window(qtbot, dialogs.context(project))
    window.assets.select("asset/prop/chair")
    window.assets.delete_item()
    qtbot.waitUntil(lambda: window.assets.is_loaded and window.assets.model.row_of("asset/prop/chair")
                    is None, timeout=20000)

    def choose_first(dialog):
        dialog._choose()
        return True

    window.assets.exec_dialog = choose_first
    window.assets.show_deleted()
    qtbot.waitUntil(lambda: window.assets.is_loaded and window.assets.model.row_of("asset/prop/chair")
                    is not None, timeout=20000)
    assert dialogs.errors == [] and chair.exists()


def test_rename_and_new_item(qtbot, project, chair):
    """New... creates an item under the selection; Rename... renames through the core."""
    dialogs = Dialogs(answers=["model", "sofa"])
    window = _window(qtbot, dialogs.context(project))
    window.assets.select("asset/prop/chair")
    window.assets.new_item()
    qtbot.waitUntil(lambda: window.assets.is_loaded
                    and window.assets.model.row_of("asset/prop/chair/model") is not None, timeout=20000)
    window.assets.select("asset/prop/chair")
    window.assets.rename_item()
    assert dialogs.errors == []
    qtbot.waitUntil(lambda: window.assets.is_loaded
                    and window.assets.model.row_of("asset/prop/sofa/model") is not None, timeout=20000)
    assert dialogs.errors == []
    assert project.item("asset/prop/sofa").exists()


def test_import_and_reference_go_through_the_host(qtbot, project, chair):
    """Import/reference of a workshop reach the host's import and reference."""
    host = NullHost()
    window = _window(qtbot, Dialogs().context(project, host))
    window.assets.select("asset/prop/chair")
    window.assets.reference_workshop()
    window.assets.import_workshop()
    window.assets.reference_master()  # no master yet: refused by the core
    assert host.referenced == [(chair.workshop_path(1), "chair")]
    assert host.imported == [(chair.workshop_path(1), "chair")]


def test_filter_narrows_the_middle_list(qtbot, project):
    """The search text filters assets across the selected type."""
    for name in ("chair", "table", "chest"):
        project.create_item(ItemRef.parse(f"asset/prop/{name}"))
    window = _window(qtbot, Dialogs().context(project))
    window.assets.select("asset/prop")
    assets = window.assets.filters[1]
    assert assets.rowCount() == 3
    qtbot.keyClicks(window.assets.search, "ch")
    assert sorted(assets.index(i, 0).data() for i in range(assets.rowCount())) == ["chair", "chest"]


def test_keyboard_navigation_selects_and_opens(qtbot, project, tmp_path):
    """Arrows move through the lists, Tab to the next list, Enter opens the master."""
    item = project.create_item(ItemRef.parse("asset/prop/chair"))
    versions.save_workshop(item, maya_scene(tmp_path / "w.ma"), note="n")
    versions.master(item)
    project.create_item(ItemRef.parse("asset/char/bob"))
    dialogs = Dialogs()
    window = _window(qtbot, dialogs.context(project))
    window.show_tab("asset")
    types, assets, _components = window.assets.lists
    types.setFocus()
    qtbot.keyClick(types, QtCore.Qt.Key.Key_Down)
    qtbot.keyClick(types, QtCore.Qt.Key.Key_Down)
    assert window.assets.selected_address() == "asset/prop"
    qtbot.keyClick(assets, QtCore.Qt.Key.Key_Down)
    assert window.assets.selected_address() == "asset/prop/chair"
    qtbot.keyClick(assets, QtCore.Qt.Key.Key_Return)
    assert dialogs.opened == [item.master_path]


def test_thumbnails_load_asynchronously_and_are_cached(qtbot, project, chair, tmp_path):
    """A workshop's preview appears after its load, then comes from the cache."""
    from Qt import QtGui

    image = QtGui.QImage(320, 210, QtGui.QImage.Format.Format_RGB32)
    image.fill(QtGui.QColor("red"))
    image.save(str(tmp_path / "p.png"))
    set_preview(chair, tmp_path / "p.png", workshop=1)
    window = _window(qtbot, Dialogs().context(project))
    window.assets.select("asset/prop/chair")
    versions_model = window.assets.versions
    index = versions_model.index(0, 0)
    cache = window.thumbnails
    qtbot.waitUntil(lambda: versions_model.data(index, QtCore.Qt.ItemDataRole.DecorationRole)
                    is not None, timeout=10000)
    pixmap = versions_model.data(index, QtCore.Qt.ItemDataRole.DecorationRole)
    assert (pixmap.width(), pixmap.height()) == (160, 105)
    assert len(cache._images) == 1 and not cache._pending


def test_many_qt_calls_that_return_nothing_do_not_kill_the_process(qtbot):
    """shiboken6 6.12 on Python < 3.12 drops a reference to None per void call and
    kills the process within a few thousand; the pinned binding must survive 20,000."""
    label = QtWidgets.QLabel()
    qtbot.addWidget(label)
    for n in range(20_000):
        label.setText(str(n))
    assert label.text() == "19999"


def test_closing_while_the_project_is_read_stops_the_threads(qtbot, project):
    """Closing the window at once stops the scan threads (no 'destroyed while running')."""
    for n in range(30):
        project.create_item(ItemRef.parse(f"asset/prop/thing{n:02d}"))
    window = BrowserWindow(Dialogs().context(project))
    qtbot.addWidget(window)
    window.show()
    window.close()
    assert not window.assets._thread.isRunning() and not window.shots._thread.isRunning()


def test_the_first_type_is_chosen_and_its_assets_listed(qtbot, project):
    """With nothing to keep, the first asset type is selected and its assets shown."""
    project.create_item(ItemRef.parse("asset/char/bob"))
    project.create_item(ItemRef.parse("asset/prop/chair"))
    window = _window(qtbot, Dialogs().context(project))
    assert window.assets.selected_address() == "asset/char"
    assets = window.assets.filters[1]
    assert [assets.index(i, 0).data() for i in range(assets.rowCount())] == ["bob"]


def test_saving_an_asset_does_not_reread_the_shot_browser(qtbot, project, chair):
    """A change of one asset re-reads its row only; the Shot Browser is left alone."""
    dialogs = Dialogs(answers=["note"])
    window = _window(qtbot, dialogs.context(project))
    reloads = []
    window.shots.reload = lambda: reloads.append("shot")
    window.assets.select("asset/prop/chair")
    window.assets.open_workshop()
    window.current.save_workshop()
    assert dialogs.errors == [] and reloads == []
    assert _row(window.assets, "asset/prop/chair")[0].workshops == 2


def test_the_snapshot_button_records_a_preview(qtbot, project, chair):
    """Snapshot calls the Host protocol's snapshot(path, ...) and records the item's preview."""
    dialogs = Dialogs()
    host = NullHost()
    window = _window(qtbot, dialogs.context(project, host))
    assert window.assets.select("asset/prop/chair")
    window.assets.open_workshop()
    window.current.snapshot()
    assert dialogs.errors == []
    assert any(e.event == "preview" for e in chair.events())


def test_the_playblast_button_records_a_preview(qtbot, project, chair):
    dialogs = Dialogs()
    host = NullHost()
    window = _window(qtbot, dialogs.context(project, host))
    assert window.assets.select("asset/prop/chair")
    window.assets.open_workshop()
    window.current.playblast()
    assert dialogs.errors == []
    recorded = [e.data.path for e in chair.events() if e.event == "preview"]
    assert recorded and all("playblast" in path for path in recorded)


def test_an_unexpected_error_in_an_action_becomes_a_dialog(qtbot, project, capsys):
    """A bug in an action never escapes a Qt slot: one sentence in a dialog, the traceback on stderr."""
    dialogs = Dialogs()
    context = dialogs.context(project)

    def broken():
        raise TypeError("snapshot() takes 2 positional arguments")

    assert context.run(None, broken) is None
    assert len(dialogs.errors) == 1 and "TypeError" in dialogs.errors[0]
    assert dialogs.errors[0].count(". ") == 0 and dialogs.errors[0].endswith(".")
    assert "Traceback" in capsys.readouterr().err


def _open_chair(qtbot, project, host, answers):
    dialogs = Dialogs(answers=answers)
    window = _window(qtbot, dialogs.context(project, host))
    assert window.assets.select("asset/prop/chair")
    window.assets.open_workshop()
    return dialogs, window


def test_the_browser_master_honours_refusing_master_options(qtbot, project, chair):
    """A check set to refuse shows its sentence and masters nothing, as the menu's Master does."""
    project.edit(master_options={"unknown_nodes": "refuse"})
    project = Project.open(project.root)
    host = NullHost()
    dialogs, window = _open_chair(qtbot, project, host, ["approved"])
    host.unknown = ["mysteryNode1"]
    window.current.master()
    assert chair.state().master is None
    assert len(dialogs.errors) == 1 and "mysteryNode1" in dialogs.errors[0]
    assert "unknown_nodes: warn" in dialogs.errors[0]


def test_the_browser_master_applies_the_repairs_and_warns(qtbot, project, chair, tmp_path):
    """Repairs go into the master only; a check set to warn masters with the warning shown."""
    project.edit(master_options={"delete_display_layers": True})
    project = Project.open(project.root)
    host = NullHost()
    dialogs, window = _open_chair(qtbot, project, host, ["approved"])
    host.textures = [str(tmp_path / "gone.png")]
    window.current.master()
    assert dialogs.errors == []
    master = chair.state().master
    assert master is not None
    assert "edit: delete_display_layers" in chair.master_path.read_text()
    assert "edit: delete_display_layers" not in chair.workshop(master.data.workshop).path.read_text()
    assert any(kind == "warn" and "gone.png" in text for kind, text in host.shown)


@pytest.mark.parametrize("renamed", ["asset/prop/chair", "asset/prop"])
def test_renaming_the_open_item_follows_it_in_the_scene(qtbot, project, chair, renamed):
    """After renaming the open scene's item (or a group above it), the scene records the new
    address and is named after its moved workshop file."""
    host = NullHost()
    new_name = "sofa" if renamed == "asset/prop/chair" else "furniture"
    dialogs, window = _open_chair(qtbot, project, host, [new_name])
    assert window.assets.select(renamed)
    window.assets.rename_item()
    assert dialogs.errors == []
    new_address = "asset/prop/sofa" if new_name == "sofa" else "asset/furniture/chair"
    assert host.scene_info(actions.SCENE_INFO_ITEM) == new_address
    assert host.current_file() == project.item(new_address).workshop_path(1)
    assert host.current_file().is_file()
    assert window.current.current_item().ref.address == new_address


def test_renaming_another_item_leaves_the_scene_alone(qtbot, project, chair):
    project.create_item(ItemRef.parse("asset/prop/table"))
    host = NullHost()
    dialogs, window = _open_chair(qtbot, project, host, ["desk"])
    assert window.assets.select("asset/prop/table")
    window.assets.rename_item()
    assert dialogs.errors == []
    assert host.scene_info(actions.SCENE_INFO_ITEM) == "asset/prop/chair"
    assert host.current_file() == chair.workshop_path(1)
