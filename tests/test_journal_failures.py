"""A journal step that cannot complete never blocks the project.

The command that hits it undoes what it did, exits 2 with one sentence and leaves
nothing behind; every command after it works as before.
"""

from __future__ import annotations

import pytest

from openpipeline.core import ItemRef, Project, archive, versions
from tests.helpers.cli import cli_json, one_sentence, run_cli
from tests.helpers.files import maya_scene, snapshot


@pytest.fixture
def cli_asset(tmp_path):
    """A project with asset/prop/a holding three workshops, and the env selecting it."""
    project = Project.create(tmp_path / "p", "p")
    item = project.create_item(ItemRef.parse("asset/prop/a"))
    for n in (1, 2, 3):
        versions.save_workshop(item, maya_scene(tmp_path / f"w{n}.ma", f"work{n}"), note=f"w{n}")
    return project, item, {"OPENPIPELINE_PROJECT": str(project.root)}


def _usable(env, tmp_path):
    """Every ordinary command works on the project."""
    assert "asset/prop/a" in [r["item"] for r in cli_json("item", "list", env=env)]
    shown = cli_json("item", "show", "asset/prop/a", env=env)
    saved = cli_json("workshop", "save", "asset/prop/a",
                     str(maya_scene(tmp_path / "later.ma", "later")), "--note", "later", env=env)
    assert cli_json("master", "asset/prop/a", "--note", "m", env=env)["data"]["workshop"] == saved["version"]
    return shown


def test_retrieve_onto_a_file_in_the_way_exits_2_and_changes_nothing(cli_asset, tmp_path):
    """Retrieving a workshop whose name a file holds again is refused before anything moves."""
    project, item, env = cli_asset
    archive.archive(item, keep=1)
    item.workshop_path(1).write_text("an artist's own file\n")
    before = snapshot(project.root)
    result = run_cli("retrieve", "asset/prop/a", env=env)
    assert result.returncode == 2, result.stderr
    assert "already" in one_sentence(result.stderr)
    assert snapshot(project.root) == before
    assert item.workshop_path(1).read_text() == "an artist's own file\n"
    _usable(env, tmp_path)


@pytest.mark.parametrize("fault", ["workshop.before-event:EACCES", "workshop.step1:ENOSPC",
                                   "workshop.before-move:EXDEV"])
def test_a_failed_save_step_is_undone_and_the_project_stays_usable(cli_asset, tmp_path, fault):
    """A save whose move or event fails leaves no workshop, no event and no journal behind."""
    project, item, env = cli_asset
    events = len(item.events())
    result = run_cli("workshop", "save", "asset/prop/a", str(maya_scene(tmp_path / "n.ma", "n")),
                     "--note", "n", env={**env, "OPENPIPELINE_FAULT": fault})
    assert result.returncode == 2, result.stderr
    one_sentence(result.stderr)
    assert len(item.events()) == events
    assert not item.workshop_path(4).exists()
    assert not list((project.meta / "journal").glob("*.json"))
    assert item.uncommitted() == []
    _usable(env, tmp_path)


def test_delete_onto_another_file_system_exits_2_and_keeps_the_item(cli_asset, tmp_path):
    """A delete whose move fails (EXDEV) writes no delete event and leaves the item in place."""
    project, item, env = cli_asset
    before = snapshot(project.root / "lib")
    result = run_cli("delete", "asset/prop/a", env={**env, "OPENPIPELINE_FAULT": "delete.before-move:EXDEV"})
    assert result.returncode == 2, result.stderr
    one_sentence(result.stderr)
    assert snapshot(project.root / "lib") == before
    assert [e.event for e in item.events()].count("delete") == 0
    _usable(env, tmp_path)


def test_a_journal_whose_step_fails_on_recovery_is_set_aside(cli_asset, tmp_path):
    """A dead operation whose step cannot finish is set aside; the next commands work."""
    project, item, env = cli_asset
    folder = project.meta / "journal"
    folder.mkdir(exist_ok=True)
    record = folder / "00000000000000000001-retrieve-000000000000.json"
    # moves a file onto a workshop that exists: can never complete
    (project.root / "lib/prop/a/workshop/.x.tmp-000000000000.ma").write_text("x")
    from openpipeline.core.fsutil import dump_json
    record.write_bytes(dump_json({"op": "retrieve", "pid": -1, "host": "elsewhere", "time": 0.0,
                                  "steps": [{"move": ["lib/prop/a/workshop/.x.tmp-000000000000.ma",
                                                      "lib/prop/a/workshop/a_workshop_0001.ma"]}]}))
    _usable(env, tmp_path)
    assert "work1" in item.workshop_path(1).read_text()
    assert (folder / "set-aside" / record.name).is_file()


@pytest.mark.parametrize("way", ["renameat2", "link"])
def test_a_publishing_rename_never_replaces_a_file(tmp_path, monkeypatch, way):
    """rename_noreplace refuses a target that exists (both files kept) and moves onto a free one."""
    from openpipeline.core import fsutil

    if way == "link":
        monkeypatch.setattr(fsutil, "_renameat2", lambda source, destination: False)
    new, old = tmp_path / ".new.tmp-000000000000.ma", tmp_path / "a_workshop_0001.ma"
    new.write_text("new\n")
    old.write_text("old\n")
    with pytest.raises(FileExistsError):
        fsutil.rename_noreplace(new, old)
    assert old.read_text() == "old\n" and new.read_text() == "new\n"
    fsutil.rename_noreplace(new, tmp_path / "a_workshop_0002.ma")
    assert not new.exists() and (tmp_path / "a_workshop_0002.ma").read_text() == "new\n"


def _read_only(folder):
    """Make ``folder`` refuse new files, even to root (chattr +i); returns the undo."""
    import os
    import subprocess

    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a folder read-only for root here (no chattr)")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize("command", [["workshop", "save", "asset/prop/a", "{payload}", "--note", "n"],
                                     ["delete", "asset/prop/a"],
                                     ["archive", "asset/prop/a", "--keep", "1"]])
def test_a_read_only_history_makes_the_command_exit_2_and_blocks_nothing(cli_asset, tmp_path, command):
    """With .op/history read-only, a change exits 2 and is undone; reading commands keep working."""
    project, item, env = cli_asset
    payload = maya_scene(tmp_path / "n.ma", "n")
    before = snapshot(project.root / "lib")
    undo = _read_only(item.meta / "history")
    try:
        result = run_cli(*[str(payload) if a == "{payload}" else a for a in command], env=env)
        assert result.returncode == 2, result.stderr
        one_sentence(result.stderr)
        assert snapshot(project.root / "lib") == before
        assert not list((project.meta / "journal").glob("*.json"))
        assert cli_json("item", "show", "asset/prop/a", env=env)["item"] == "asset/prop/a"
    finally:
        undo()
    _usable(env, tmp_path)
