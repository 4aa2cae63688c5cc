"""Workshops and masters on real files."""

from __future__ import annotations

import pytest

from openpipeline.core import ItemRef, checkout, validators, versions
from openpipeline.core.errors import (
    InvalidAddressError,
    LockHeldError,
    SourceFileError,
    ValidationFailedError,
    VersionNotFoundError,
)
from tests.helpers.cli import cli_json
from tests.helpers.files import maya_scene, snapshot


def test_workshops_get_consecutive_numbers_and_keep_their_notes(asset, tmp_path):
    """Each save is the next number, with its note, author and source recorded."""
    for n in range(1, 4):
        record = versions.save_workshop(asset, maya_scene(tmp_path / f"s{n}.ma", f"v{n}"),
                                        note=f"pass {n}", author=f"artist{n}")
        assert record.version == n
    state = asset.state()
    assert sorted(state.workshops) == [1, 2, 3]
    assert state.workshops[2].event.comment == "pass 2"
    assert state.workshops[2].event.author == "artist2"
    assert "v2" in asset.workshop_path(2).read_text()
    assert [e.event for e in asset.events()] == ["created", "workshop", "workshop", "workshop"]


def test_a_claimed_number_is_never_reused(asset, scene):
    """A number taken by a save that never finished is skipped, not reused."""
    (asset.claims_dir("workshop")).mkdir(parents=True, exist_ok=True)
    (asset.claims_dir("workshop") / "1").touch()
    assert versions.save_workshop(asset, scene, note="x").version == 2


def test_numbers_go_past_9999(asset, scene):
    """There is no cap at four digits."""
    asset.claims_dir("workshop").mkdir(parents=True, exist_ok=True)
    (asset.claims_dir("workshop") / "9999").touch()
    record = versions.save_workshop(asset, scene, note="x")
    assert record.version == 10000
    assert asset.workshop_path(10000).name == "chair_workshop_10000.ma"
    assert asset.workshop_path(10000).is_file()


def test_master_preserves_the_previous_master_in_version(asset, tmp_path):
    """Mastering twice keeps the first master as version 1."""
    versions.save_workshop(asset, maya_scene(tmp_path / "a.ma", "first"), note="a")
    versions.save_workshop(asset, maya_scene(tmp_path / "b.ma", "second"), note="b")
    first = versions.master(asset, 1, note="m1")
    assert first.data.preserved_version is None
    assert "first" in asset.master_path.read_text()
    second = versions.master(asset, note="m2")
    assert second.data.workshop == 2
    assert second.data.preserved_version == 1
    assert "second" in asset.master_path.read_text()
    assert "first" in asset.version_path(1).read_text()
    state = asset.state()
    assert state.master is not None and state.master.data.workshop == 2
    assert sorted(state.versions) == [1]


def test_master_of_a_missing_workshop_changes_nothing(asset, scene, project):
    """Asking for a workshop that does not exist is a clear error and writes nothing."""
    versions.save_workshop(asset, scene, note="a")
    before = snapshot(project.root)
    with pytest.raises(VersionNotFoundError, match="no workshop 7"):
        versions.master(asset, 7, note="x")
    assert snapshot(project.root) == before


def test_validator_blocks_master_and_force_records_it(asset, tmp_path, project):
    """A file that is not Maya ASCII blocks the master; --force masters and records why."""
    versions.save_workshop(asset, maya_scene(tmp_path / "good.ma"), note="oops")
    asset.workshop_path(1).write_text("not maya\n")  # damaged after the save
    before = snapshot(project.root)
    with pytest.raises(ValidationFailedError) as info:
        versions.master(asset, note="try")
    assert info.value.report[0]["validator"] == "maya_file_header"
    assert snapshot(project.root) == before
    record = versions.master(asset, note="deadline", force=True)
    assert record.data.forced is True
    assert record.data.problems[0].validator == "maya_file_header"
    assert asset.master_path.read_text() == "not maya\n"


class AddsHeader:
    """A repairable validator used by the test below."""

    name = "needs_header"

    def check(self, context):
        return [] if context.staged.read_bytes().startswith(b"//Maya ASCII") else ["no header"]

    def repair(self, context):
        context.staged.write_bytes(b"//Maya ASCII 2025 scene\n" + context.staged.read_bytes())


def test_repair_fixes_the_staged_copy_not_the_workshop(asset, tmp_path):
    """--repair fixes the master copy; the workshop stays as the artist saved it."""
    versions.save_workshop(asset, maya_scene(tmp_path / "good.ma"), note="raw")
    asset.workshop_path(1).write_text("body;\n")  # edited by hand after the save
    validators.register(AddsHeader())
    try:
        with pytest.raises(ValidationFailedError, match="2 validator problem"):
            versions.master(asset, note="no repair")
        record = versions.master(asset, note="fix", repair=True)
    finally:
        validators.unregister("needs_header")
    assert record.data.repaired == ("needs_header",)
    assert asset.master_path.read_text().startswith("//Maya ASCII")
    assert asset.workshop_path(1).read_text() == "body;\n"


def test_validators_from_the_config_are_loaded(tmp_path, project, scene):
    """A 'module:callable' in the config adds a validator."""
    module = tmp_path / "studio_checks.py"
    module.write_text(
        "class NoTodo:\n"
        "    name = 'no_todo'\n"
        "    def check(self, context):\n"
        "        return ['TODO left in scene'] if b'TODO' in context.staged.read_bytes() else []\n"
        "def make():\n"
        "    return NoTodo()\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        project.edit(validators=["studio_checks:make"])
        chair = project.create_item(ItemRef.parse("asset/prop/chair"))
        versions.save_workshop(chair, maya_scene(tmp_path / "t.ma", "TODO fix"), note="x")
        with pytest.raises(ValidationFailedError, match="TODO left in scene"):
            versions.master(chair, note="x")
    finally:
        sys.path.remove(str(tmp_path))


def test_saving_a_missing_file_changes_nothing(asset, tmp_path, project):
    """A missing source is refused before any number is claimed."""
    before = snapshot(project.root)
    with pytest.raises(SourceFileError, match="does not exist"):
        versions.save_workshop(asset, tmp_path / "nope.ma", note="x")
    with pytest.raises(SourceFileError, match="is not a file"):
        versions.save_workshop(asset, tmp_path, note="x")
    assert snapshot(project.root) == before


def test_types_hold_no_files(project, scene):
    """An asset type cannot take a workshop."""
    project.create_item(ItemRef.parse("asset/prop"))
    with pytest.raises(InvalidAddressError, match="holds items, not files"):
        versions.save_workshop(project.item("asset/prop"), scene, note="x")


def test_workshop_on_an_item_checked_out_by_someone_else_is_refused(asset, scene, project):
    """The message names the holder; --ignore-lock overrides it."""
    checkout.acquire(asset, author="alice")
    before = snapshot(project.root)
    with pytest.raises(LockHeldError, match="checked out by alice"):
        versions.save_workshop(asset, scene, note="x", author="bob")
    assert snapshot(project.root) == before
    assert versions.save_workshop(asset, scene, note="x", author="bob", ignore_lock=True)
    assert versions.save_workshop(asset, scene, note="mine", author="alice").version == 2


def test_uncommitted_files_are_reported_not_hidden(asset, scene):
    """A workshop file without a record (an interrupted save) is listed for a human."""
    versions.save_workshop(asset, scene, note="x")
    stray = asset.workshop_path(5)
    stray.write_text("//Maya ASCII orphan\n")
    assert asset.uncommitted() == [asset.project.relative(stray)]
    assert 5 not in asset.state().workshops


def test_a_version_row_shows_the_note_of_the_master_it_was(asset, tmp_path, project):
    """item show: version 1 carries the author and note of the first master, not of its successor."""
    versions.save_workshop(asset, maya_scene(tmp_path / "a.ma", "a"), note="a")
    versions.master(asset, note="first master", author="alice")
    versions.save_workshop(asset, maya_scene(tmp_path / "b.ma", "b"), note="b")
    versions.master(asset, note="second master", author="bob")
    versions.save_workshop(asset, maya_scene(tmp_path / "c.ma", "c"), note="c")
    versions.master(asset, note="third master", author="carol")
    shown = cli_json("--project", str(project.root), "item", "show", "asset/prop/chair")
    rows = {row["number"]: (row["author"], row["comment"]) for row in shown["versions"]}
    assert rows == {1: ("alice", "first master"), 2: ("bob", "second master")}
    assert shown["master"]["author"] == "carol" and shown["master"]["comment"] == "third master"


def test_a_lost_claims_folder_never_overwrites_a_workshop(asset, tmp_path):
    """With .op/claims removed, the next save takes a new number; workshop 1 keeps its bytes."""
    import shutil

    versions.save_workshop(asset, maya_scene(tmp_path / "a.ma", "first"), note="a")
    shutil.rmtree(asset.meta / "claims")
    record = versions.save_workshop(asset, maya_scene(tmp_path / "b.ma", "second"), note="b")
    assert record.version == 2
    assert "first" in asset.workshop_path(1).read_text()
    assert "second" in asset.workshop_path(2).read_text()


def test_a_workshop_saved_by_hand_under_the_next_number_is_kept(asset, tmp_path):
    """A file already lying at the next workshop's path is skipped, never replaced."""
    versions.save_workshop(asset, maya_scene(tmp_path / "a.ma", "first"), note="a")
    asset.workshop_path(2).write_text("saved by hand\n")
    record = versions.save_workshop(asset, maya_scene(tmp_path / "b.ma", "second"), note="b")
    assert record.version == 3
    assert asset.workshop_path(2).read_text() == "saved by hand\n"
    assert "second" in asset.workshop_path(3).read_text()


def test_a_lost_version_claim_never_overwrites_a_preserved_master(asset, tmp_path):
    """With claims/version removed, the next master keeps the old master under a new number."""
    import shutil

    for n in (1, 2, 3):
        versions.save_workshop(asset, maya_scene(tmp_path / f"{n}.ma", f"body{n}"), note=str(n))
    versions.master(asset, 1, note="m1")
    versions.master(asset, 2, note="m2")
    shutil.rmtree(asset.meta / "claims" / "version")
    record = versions.master(asset, 3, note="m3")
    assert record.data.preserved_version == 2
    assert "body1" in asset.version_path(1).read_text()
    assert "body2" in asset.version_path(2).read_text()


def test_a_workshop_folder_linked_outside_the_project_is_refused(asset, scene, project, tmp_path):
    """A save into a workshop/ linked to a folder elsewhere is a user error that writes nothing there."""
    import shutil

    from openpipeline.core.errors import UserError

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    folder = asset.workshop_path(1).parent
    shutil.rmtree(folder)
    folder.symlink_to(outside, target_is_directory=True)
    before = snapshot(project.root)
    with pytest.raises(UserError, match="outside the project"):
        versions.save_workshop(asset, scene, note="x")
    assert list(outside.iterdir()) == []
    assert snapshot(project.root) == before


def test_a_folder_at_the_master_path_is_a_user_error_that_changes_nothing(asset, scene, project):
    """master onto a path that holds a folder says so (exit 2), and nothing changes."""
    from openpipeline.core.errors import UserError

    versions.save_workshop(asset, scene, note="x")
    asset.master_path.mkdir()
    before = snapshot(project.root)
    with pytest.raises(UserError, match="folder"):
        versions.master(asset, note="m")
    assert snapshot(project.root) == before
    assert not list((project.meta / "journal").glob("*.json"))


def test_an_empty_file_argument_says_no_file_was_given(asset, project):
    """'workshop save ITEM ""' says that no file was given, not that '.' is not a file."""
    from tests.helpers.cli import one_sentence, run_cli

    before = snapshot(project.root)
    result = run_cli("--project", str(project.root), "workshop", "save", "asset/prop/chair", "",
                     "--note", "x")
    assert result.returncode == 2
    assert "No file was given" in one_sentence(result.stderr)
    assert snapshot(project.root) == before
