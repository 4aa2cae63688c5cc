"""Damaged metadata is skipped with one warning naming the file: commands never crash on it."""

from __future__ import annotations

import json

import pytest

from openpipeline.core import versions
from openpipeline.core.fsutil import dump_json
from tests.helpers.cli import cli_json, one_sentence, run_cli
from tests.helpers.files import maya_scene, snapshot


def _warned_about(stderr: str, path) -> None:
    """One warning line, naming the file, and nothing else."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("openpipeline: warning: ") and str(path) in lines[0], lines
    assert "Traceback" not in stderr


def _last_event(asset):
    return sorted((asset.meta / "history").iterdir())[-1]


@pytest.mark.parametrize("damage", [
    lambda record: record.pop("version"),
    lambda record: record.update(version="abc"),
    lambda record: record.pop("author"),
    lambda record: record.update(data="not a mapping"),
    lambda record: record.update(seq="7"),
], ids=["no version", "version abc", "no author", "data not an object", "seq not a number"])
def test_a_damaged_workshop_event_is_skipped_with_one_warning(asset, project, scene, damage):
    """item show and item history exit 0 with a damaged event; stderr names it once."""
    versions.save_workshop(asset, scene, note="x")
    path = _last_event(asset)
    record = json.loads(path.read_text())
    damage(record)
    path.write_bytes(dump_json(record))
    p = ["--project", str(project.root)]
    for command in (["item", "show"], ["item", "history"]):
        result = run_cli(*p, "--json", *command, "asset/prop/chair")
        assert result.returncode == 0, result.stderr
        _warned_about(result.stderr, path)
    assert cli_json(*p, "item", "show", "asset/prop/chair")["workshops"] == []


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "{broken", "\xff\xfe"],
                         ids=["list", "string", "broken json", "not utf-8"])
def test_an_event_file_that_is_not_an_object_is_skipped_with_one_warning(asset, project, content):
    """A history file that is not a JSON object is skipped and named; the item still shows."""
    path = asset.meta / "history" / "99999999999999999999-x.json"
    path.write_bytes(content.encode("latin-1"))
    result = run_cli("--project", str(project.root), "item", "show", "asset/prop/chair")
    assert result.returncode == 0, result.stderr
    _warned_about(result.stderr, path)


def test_a_master_with_a_damaged_history_event_still_works(asset, project, tmp_path):
    """Mastering an item whose history holds a damaged file succeeds, and warns about it."""
    versions.save_workshop(asset, maya_scene(tmp_path / "a.ma", "a"), note="a")
    path = asset.meta / "history" / "99999999999999999999-x.json"
    path.write_text('{"event": "master"}')
    result = run_cli("--project", str(project.root), "master", "asset/prop/chair", "--note", "m")
    assert result.returncode == 0, result.stderr
    _warned_about(result.stderr, path)
    assert asset.state().master.data.workshop == 1


def test_a_claim_named_with_a_non_ascii_digit_is_ignored(asset, project, scene):
    """A claim file named '²' neither breaks a save nor a rename; numbers go on from the real ones."""
    versions.save_workshop(asset, scene, note="one")
    (asset.claims_dir("workshop") / "²").touch()
    p = ["--project", str(project.root)]
    saved = cli_json(*p, "workshop", "save", "asset/prop/chair", str(scene), "--note", "two")
    assert saved["version"] == 2
    assert cli_json(*p, "item", "rename", "asset/prop/chair", "stool")["to"] == "asset/prop/stool"


def test_a_description_that_is_not_utf8_shows_with_one_warning(asset, project):
    """A description file holding Latin-1 bytes shows (with replacement marks) and is named."""
    asset.description_file.write_bytes(b"caf\xe9 chair")
    result = run_cli("--project", str(project.root), "--json", "item", "show", "asset/prop/chair")
    assert result.returncode == 0, result.stderr
    _warned_about(result.stderr, asset.description_file)
    assert json.loads(result.stdout)["description"] == "caf\ufffd chair"


def test_a_user_error_on_an_item_with_damaged_history_changes_nothing(asset, project):
    """A refused command (no workshop to master) on a damaged history exits 2 and writes nothing."""
    path = asset.meta / "history" / "99999999999999999999-x.json"
    path.write_text("{broken")
    before = snapshot(project.root)
    result = run_cli("--project", str(project.root), "master", "asset/prop/chair", "--note", "m")
    assert result.returncode == 2
    assert "has no workshop yet" in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(project.root) == before
    one_sentence(result.stderr.split("\n", 1)[1])


def test_a_damaged_item_record_reads_as_empty_with_a_warning(asset, caplog):
    """An item.json that is not JSON reads as an empty record; the warning names the file."""
    path = asset.meta / "item.json"
    path.write_text("{broken")
    assert asset.info() == {}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and str(path) in warnings[0]
