"""History events and journal files read back as typed records, byte for byte."""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import replace

import pytest

from openpipeline.core import (
    ItemRef,
    Project,
    archive,
    checkout,
    history,
    notes,
    removal,
    rename,
    validators,
    versions,
)
from openpipeline.core.events import EVENTS, FarmResultData, MasterData, OtherData, WorkshopData, parse_event
from openpipeline.core.fsutil import dump_json, read_json
from openpipeline.core.journal import EventStep, ReplaceStep, parse_record
from tests.helpers.cli import run_cli
from tests.helpers.files import maya_scene


class Repairs:
    """A repairable validator, so that a master records a repair."""

    name = "adds_header"

    def check(self, context):
        return [] if context.staged.read_bytes().startswith(b"//Maya ASCII") else ["no header"]

    def repair(self, context):
        context.staged.write_bytes(b"//Maya ASCII 2025 scene\n" + context.staged.read_bytes())


def _every_kind_of_event(project, tmp_path):
    """Run every verb that records an event; returns the items they touched."""
    chair = project.create_item(ItemRef.parse("asset/prop/chair"), description="a chair")
    for n in range(1, 4):
        versions.save_workshop(chair, maya_scene(tmp_path / f"w{n}.ma", f"w{n}"), note=f"w{n}")
    versions.master(chair, 1, note="first")
    bad = versions.save_workshop(chair, maya_scene(tmp_path / "w4.ma", "w4"), note="bad")
    chair.workshop_path(bad.version).write_text("not maya\n")  # damaged after the save
    versions.master(chair, note="forced", force=True)
    validators.register(Repairs())
    try:
        versions.master(chair, note="repaired", repair=True, force=True)
    finally:
        validators.unregister("adds_header")
    archive.archive(chair, keep=1)
    archive.retrieve(chair, workshops=[1])
    notes.describe(chair, "Wooden chair")
    history.write_event(chair.meta, history.new_event(chair.ref.address, FarmResultData(  # a farm result
        "lib/prop/chair/textures/workshop/wood_workshop_0001.png", "lib/prop/chair/textures/wood.png",
        (("", "ab" * 32),), "denoise", {"seed": 0, "sigma": 12.5}, "cd" * 32), version=1))
    image = tmp_path / "shot.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    notes.set_preview(chair, image, workshop=2)
    checkout.acquire(chair, author="alice")
    checkout.steal(chair, author="bob", note="holiday")
    checkout.release(chair, author="bob")
    table = project.create_item(ItemRef.parse("asset/prop/table"))
    removal.delete(table)
    removal.restore(project, table.ref)
    return [rename.rename(chair, "stool"), project.item("asset/prop/table")]


def test_every_event_file_round_trips_to_the_same_bytes(project, tmp_path):
    """Each kind of event file, parsed and written again, gives back its exact bytes."""
    touched = _every_kind_of_event(project, tmp_path)
    kinds = set()
    for item in touched:
        for path in sorted((item.meta / "history").iterdir()):
            event = parse_event(read_json(path), path)
            assert dump_json(event.to_dict()) == path.read_bytes(), path.name
            kinds.add(event.event)
    assert kinds == set(EVENTS)


def test_verbs_return_the_record_they_wrote(asset, tmp_path):
    """The typed record a verb returns is the one on disk."""
    saved = versions.save_workshop(asset, maya_scene(tmp_path / "a.ma", "a"), note="a")
    mastered = versions.master(asset, note="m")
    on_disk = asset.events()
    assert on_disk[-2] == replace(saved, seq=on_disk[-2].seq)
    assert on_disk[-1] == replace(mastered, seq=on_disk[-1].seq)
    assert saved.seq is None and on_disk[-2].seq is not None  # claimed when written
    assert isinstance(saved.data, WorkshopData) and isinstance(mastered.data, MasterData)
    assert mastered.data.workshop == saved.version == 1


@pytest.mark.skipif(sys.platform.startswith("win"), reason="uses SIGKILL")
def test_a_journal_file_round_trips_to_the_same_bytes(asset, project, tmp_path):
    """A journal left by a killed master parses into typed steps and writes back the same bytes."""
    versions.save_workshop(asset, maya_scene(tmp_path / "a.ma", "a"), note="a")
    versions.master(asset, note="first")
    result = run_cli("--project", str(project.root), "master", "asset/prop/chair", "--note", "x",
                     env={"OPENPIPELINE_FAULT": "master.journaled"})
    assert result.returncode == -signal.SIGKILL, result.stderr
    (path,) = (project.meta / "journal").glob("*.json")
    record = parse_record(read_json(path), path)
    assert [type(step) for step in record.steps] == [ReplaceStep, ReplaceStep, EventStep]
    assert record.op == "master" and record.steps[2].event.data.preserved_version == 1
    assert dump_json(record.to_dict()) == path.read_bytes()


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_an_event_field_of_the_wrong_type_is_skipped_with_a_warning_naming_the_file(
        asset, scene, caplog):
    """A history file whose version is not a number is skipped; one warning names it."""
    versions.save_workshop(asset, scene, note="x")
    path = sorted((asset.meta / "history").iterdir())[-1]
    record = json.loads(path.read_text())
    record["version"] = "two"
    path.write_text(json.dumps(record))
    assert [e.event for e in asset.events()] == ["created"]
    asset.events()
    (warning,) = _warnings(caplog)
    assert str(path) in warning and "'version'" in warning and "damaged" in warning


def test_a_payload_field_that_is_missing_is_skipped_with_a_warning_naming_the_file(
        asset, scene, caplog):
    """A master event without its workshop number is skipped; the warning names the file."""
    versions.save_workshop(asset, maya_scene(scene.parent / "m.ma", "m"), note="x")
    versions.master(asset, note="m")
    path = sorted((asset.meta / "history").iterdir())[-1]
    record = json.loads(path.read_text())
    del record["data"]["workshop"]
    path.write_text(json.dumps(record))
    assert asset.state().master is None and list(asset.state().workshops) == [1]
    (warning,) = _warnings(caplog)
    assert str(path) in warning and "'workshop' is missing" in warning


def test_an_event_file_that_is_not_json_is_skipped_with_a_warning_naming_the_file(asset, caplog):
    """Broken JSON in a history file is skipped, with a warning that names the file."""
    path = next((asset.meta / "history").iterdir())
    path.write_text("{broken")
    assert asset.events() == []
    (warning,) = _warnings(caplog)
    assert str(path) in warning and "damaged" in warning


def test_a_workshop_event_without_a_version_is_skipped(asset, scene, caplog):
    """A workshop event must name its number; without one the file is skipped and named."""
    versions.save_workshop(asset, scene, note="x")
    path = sorted((asset.meta / "history").iterdir())[-1]
    record = json.loads(path.read_text())
    record["version"] = None
    path.write_text(json.dumps(record))
    assert asset.state().workshops == {}
    (warning,) = _warnings(caplog)
    assert str(path) in warning and "must name its version" in warning


def test_an_event_of_an_unknown_kind_is_kept_as_written(asset):
    """An event kind from a newer version reads, keeps its payload and changes no state."""
    created = asset.events()[0].to_dict()
    future = {**created, "event": "approve", "data": {"by": "lead", "level": 2},
              "file": "99999999999999999999-approve-000000000000.json"}
    path = asset.meta / "history" / future["file"]
    path.write_bytes(dump_json(future))
    event = asset.events()[-1]
    assert isinstance(event.data, OtherData) and event.data.fields == {"by": "lead", "level": 2}
    assert dump_json(event.to_dict()) == path.read_bytes()
    assert asset.state().workshops == {} and asset.state().master is None


def test_a_history_file_that_is_not_a_json_object_is_skipped(asset, caplog):
    """A history file holding a JSON list is skipped, as it always was, now with a warning."""
    path = asset.meta / "history" / "99999999999999999999-x.json"
    path.write_text("[1, 2]")
    assert [e.event for e in asset.events()] == ["created"]
    (warning,) = _warnings(caplog)
    assert str(path) in warning


def test_a_damaged_journal_is_set_aside_naming_the_file(project):
    """A journal with a step of unknown kind is set aside, with its name, before any step runs."""
    folder = project.meta / "journal"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "00000000000000000001-master-000000000000.json"
    path.write_bytes(dump_json({"op": "master", "pid": -1, "host": "elsewhere", "time": 0.0,
                                "steps": [{"move": ["a", "b"]}, {"explode": ["x"]}]}))
    (project.root / "a").write_text("a")
    Project.open(project.root)
    assert not path.exists() and (project.root / "a").exists()
    reason = (folder / "set-aside" / path.with_suffix(".txt").name).read_text()
    assert "unknown journal step" in reason and str(path) in reason


def test_an_unknown_event_holding_a_non_finite_number_is_skipped(asset, caplog):
    """An unknown kind's payload with Infinity is skipped with a warning, so --json stays JSON."""
    created = asset.events()[0].to_dict()
    path = asset.meta / "history" / "99999999999999999999-approve-000000000000.json"
    record = {**created, "event": "approve", "data": {"score": [1, float("inf")]},
              "file": path.name}
    path.write_text(json.dumps(record))
    assert "Infinity" in path.read_text()
    assert [e.event for e in asset.events()] == ["created"]
    (warning,) = _warnings(caplog)
    assert str(path) in warning and "non-finite" in warning
