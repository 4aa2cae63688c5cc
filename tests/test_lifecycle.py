"""Archive, retrieve, delete, restore, rename, check-out, previews."""

from __future__ import annotations

import json
import time

import pytest

from openpipeline.core import ItemRef, Project, archive, checkout, notes, removal, rename, versions
from openpipeline.core.errors import (
    ItemExistsError,
    ItemNotFoundError,
    LockHeldError,
    UserError,
    VersionNotFoundError,
)
from tests.helpers.cli import run_cli
from tests.helpers.files import maya_scene, snapshot


@pytest.fixture
def busy_asset(asset, tmp_path):
    """An asset with five workshops and two superseded masters."""
    for n in range(1, 6):
        versions.save_workshop(asset, maya_scene(tmp_path / f"w{n}.ma", f"work{n}"), note=f"w{n}")
    for n in (1, 2, 3):
        versions.master(asset, n, note=f"m{n}")
    return asset


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.ma"))


def test_archive_keeps_the_newest_and_moves_the_rest(busy_asset, project):
    """Archive keeps N of each and moves the rest into the archive mirror, nothing lost."""
    before = _files(project.root)
    record = archive.archive(busy_asset, keep=2)
    assert record.data.workshops == (1, 2, 3)
    assert record.data.versions == ()
    assert (project.root / "archive/lib/prop/chair/workshop/chair_workshop_0001.ma").is_file()
    assert not busy_asset.workshop_path(1).exists()
    assert busy_asset.workshop_path(4).is_file()
    assert len(_files(project.root)) == len(before)
    state = busy_asset.state()
    assert [e.number for e in state.active("workshop")] == [4, 5]
    assert state.workshops[1].state == "archived"
    assert archive.archive(busy_asset, keep=2) is None


def test_retrieve_brings_archived_versions_back(busy_asset, project):
    """Retrieve moves archived files back to their places, each or all."""
    archive.archive(busy_asset, keep=0)
    assert busy_asset.state().active("workshop") == []
    archive.retrieve(busy_asset, workshops=[2])
    assert "work2" in busy_asset.workshop_path(2).read_text()
    with pytest.raises(VersionNotFoundError, match="not archived"):
        archive.retrieve(busy_asset, workshops=[2])
    archive.retrieve(busy_asset)
    state = busy_asset.state()
    assert all(e.state == "active" for e in state.workshops.values())
    assert all(e.state == "active" for e in state.versions.values())
    assert not list((project.root / "archive").rglob("*.ma"))
    events = [e.event for e in busy_asset.events()]
    assert events.count("archive") == 1 and events.count("retrieve") == 2


def test_archived_workshops_cannot_be_mastered_until_retrieved(busy_asset):
    """Asking for an archived workshop says how to bring it back."""
    archive.archive(busy_asset, keep=1)
    with pytest.raises(VersionNotFoundError, match="retrieve"):
        versions.master(busy_asset, 1, note="x")


def test_delete_and_restore_round_trip(busy_asset, project):
    """Delete moves the whole item into deleted/; restore brings it back intact."""
    project.create_item(ItemRef.parse("asset/prop/chair/model"))
    files_before = _files(project.root / "lib")
    target = removal.delete(busy_asset, note="cut")
    assert target.parent == project.root / "deleted/lib/prop"
    assert not busy_asset.path.exists()
    assert [r.address for r in project.list_items()] == ["asset/prop"]
    deleted = removal.deleted_items(project)
    assert [d.item for d in deleted] == ["asset/prop/chair"]
    restored = removal.restore(project, ItemRef.parse("asset/prop/chair"))
    assert _files(project.root / "lib") == files_before
    assert [e.event for e in restored.events()][-2:] == ["delete", "restore"]
    assert project.item("asset/prop/chair/model").exists()
    with pytest.raises(ItemNotFoundError):
        removal.restore(project, ItemRef.parse("asset/prop/chair"))


def test_restore_never_overwrites_a_new_item(busy_asset, project):
    """If a new item took the place, restore refuses instead of replacing it."""
    removal.delete(busy_asset)
    project.create_item(ItemRef.parse("asset/prop/chair"))
    with pytest.raises(ItemExistsError):
        removal.restore(project, ItemRef.parse("asset/prop/chair"))


def test_rename_moves_files_history_and_archive(busy_asset, project):
    """Renaming renames the folder, every derived file, components and the archive mirror."""
    model = project.create_item(ItemRef.parse("asset/prop/chair/model"))
    versions.save_workshop(model, maya_scene(project.root.parent / "m.ma", "model"), note="m")
    archive.archive(busy_asset, keep=3)
    new = rename.rename(busy_asset, "stool")
    assert new.ref.address == "asset/prop/stool"
    assert "work3" in new.master_path.read_text()
    assert new.master_path.name == "stool_asset.ma"
    assert (project.root / "archive/lib/prop/stool/workshop/stool_workshop_0001.ma").is_file()
    assert new.workshop_path(5).is_file() and new.version_path(2).is_file()
    assert (project.root / "lib/prop/stool/components/model/workshop/stool_model_workshop_0001.ma"
            ).is_file()
    assert not (project.root / "lib/prop/chair").exists()
    assert new.events()[-1].event == "rename"
    state = new.state()
    assert state.workshops[1].path.is_file()  # archived, found under the new name
    assert new.uncommitted() == []


def test_rename_is_refused_while_someone_else_holds_the_lock(busy_asset, project):
    """A locked item (or component) cannot be renamed under its holder."""
    model = project.create_item(ItemRef.parse("asset/prop/chair/model"))
    checkout.acquire(model, author="alice")
    before = snapshot(project.root)
    with pytest.raises(LockHeldError, match="alice"):
        rename.rename(busy_asset, "stool", author="bob")
    assert snapshot(project.root) == before


def test_lock_acquire_release_and_history(asset):
    """Check-out and check-in are recorded; only the holder releases."""
    checkout.acquire(asset, author="alice", note="rigging")
    status = checkout.status(asset)
    assert status is not None
    assert status.holder.user == "alice" and status.stale is False
    assert status.holder.pid > 0 and status.holder.host
    with pytest.raises(LockHeldError, match="alice"):
        checkout.acquire(asset, author="bob")
    with pytest.raises(LockHeldError):
        checkout.release(asset, author="bob")
    checkout.release(asset, author="alice")
    assert checkout.status(asset) is None
    with pytest.raises(UserError, match="not checked out"):
        checkout.release(asset, author="alice")
    assert [e.event for e in asset.events()][-2:] == ["lock", "unlock"]


def test_stale_lock_is_taken_over_and_steal_is_recorded(tmp_path):
    """A lock past its TTL is taken over; stealing a live lock records from whom."""
    project = Project.create(tmp_path / "p", "demo", lock_ttl_seconds=60)
    item = project.create_item(ItemRef.parse("asset/prop/chair"))
    checkout.acquire(item, author="alice")
    lock_file = item.meta / "lock.json"
    record = json.loads(lock_file.read_text())
    record["heartbeat"] = time.time() - 3600
    lock_file.write_text(json.dumps(record))
    assert checkout.status(item).stale is True
    checkout.acquire(item, author="bob")
    steal = item.events()[-1]
    assert steal.event == "steal" and steal.data.taken_from.user == "alice"
    assert steal.data.stale is True
    result = checkout.steal(item, author="carol", note="bob is on holiday")
    assert result.taken_from.user == "bob"
    last = item.events()[-1]
    assert last.event == "steal" and last.data.taken_from.user == "bob"
    assert last.data.holder.user == "carol" and last.comment == "bob is on holiday"
    assert checkout.status(item).holder.user == "carol"


def test_preview_images_are_stored_beside_the_item(busy_asset, tmp_path, project):
    """A preview per item and per version lands in notes/."""
    image = tmp_path / "shot.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    path = notes.set_preview(busy_asset, image)
    assert project.relative(path) == "lib/prop/chair/notes/preview.png"
    path = notes.set_preview(busy_asset, image, workshop=3)
    assert path.name == "workshop_0003.png"
    with pytest.raises(VersionNotFoundError):
        notes.set_preview(busy_asset, image, workshop=99)
    with pytest.raises(UserError, match="must be one of"):
        notes.set_preview(busy_asset, tmp_path / "w1.ma")


def test_describe_sets_the_description(asset):
    """The description is stored and the change is in the history."""
    notes.describe(asset, "Wooden chair, hero prop")
    assert asset.description == "Wooden chair, hero prop"
    assert asset.events()[-1].event == "describe"


def _strict_json(text):
    """Parse JSON that must hold no Infinity or NaN."""
    def refuse(name):
        raise ValueError(f"non-finite number {name} in the output")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("heartbeat", ["Infinity", "-Infinity", "NaN", "1e400", '"soon"', "null"])
def test_a_lock_with_a_non_finite_or_non_numeric_heartbeat_is_damaged_and_stale(
        asset, project, scene, heartbeat):
    """lock status --json prints valid JSON, calls the lock stale; it blocks nobody's save."""
    checkout.acquire(asset, author="alice")
    lock_file = asset.meta / "lock.json"
    lock_file.write_text(lock_file.read_text().replace(
        f'"heartbeat": {json.loads(lock_file.read_text())["heartbeat"]!r}',
        f'"heartbeat": {heartbeat}'))
    assert heartbeat in lock_file.read_text()
    p = ["--project", str(project.root)]
    result = run_cli(*p, "--json", "lock", "status", "asset/prop/chair")
    assert result.returncode == 0, result.stderr
    status = _strict_json(result.stdout)["lock"]
    assert status["stale"] is True and status["damaged"]
    assert str(lock_file) in result.stderr
    saved = run_cli(*p, "--user", "bob", "workshop", "save", "asset/prop/chair", str(scene),
                    "--note", "x")
    assert saved.returncode == 0, saved.stderr


@pytest.mark.parametrize("content", ["{broken", "[1]", '{"pid": "abc", "heartbeat": 1.0}'],
                         ids=["not json", "not a mapping", "pid not a number"])
def test_lock_steal_of_a_damaged_lock_succeeds_and_records_it(asset, project, content):
    """A damaged lock.json: status and steal exit 0 with one warning; the stealer holds the lock."""
    lock_file = asset.meta / "lock.json"
    lock_file.write_text(content)
    p = ["--project", str(project.root)]
    status = run_cli(*p, "--json", "lock", "status", "asset/prop/chair")
    assert status.returncode == 0, status.stderr
    assert _strict_json(status.stdout)["lock"]["stale"] is True
    stolen = run_cli(*p, "--json", "--user", "bob", "lock", "steal", "asset/prop/chair")
    assert stolen.returncode == 0, stolen.stderr
    (warning,) = [line for line in stolen.stderr.splitlines() if line.strip()]
    assert warning.startswith("openpipeline: warning: ") and f"'{lock_file}'" in warning
    assert checkout.status(asset).holder.user == "bob"
    steal = asset.events()[-1]
    assert steal.event == "steal" and steal.data.taken_from.damaged
    assert [p.read_text() for p in (asset.meta / "released").iterdir()] == [content]


def test_a_damaged_lock_is_taken_over_by_a_new_check_out(asset):
    """lock acquire on a damaged lock file takes it over like a stale one, and says so."""
    (asset.meta / "lock.json").write_text("{broken")
    info = checkout.acquire(asset, author="carol")
    assert info.user == "carol" and checkout.status(asset).holder.user == "carol"
    assert asset.events()[-1].event == "steal"


@pytest.mark.parametrize("folder", ["deleted", "archive"])
def test_a_deleted_or_archive_folder_linked_outside_the_project_is_refused(busy_asset, project, tmp_path,
                                                                         folder):
    """delete and archive refuse to move an item's files through a link to a folder elsewhere."""
    import shutil

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.rmtree(project.root / folder)
    (project.root / folder).symlink_to(outside, target_is_directory=True)
    before = snapshot(project.root)
    with pytest.raises(UserError, match="outside the project"):
        if folder == "deleted":
            removal.delete(busy_asset)
        else:
            archive.archive(busy_asset, keep=0)
    assert list(outside.iterdir()) == []
    assert snapshot(project.root) == before
