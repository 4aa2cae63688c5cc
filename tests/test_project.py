"""Projects: creation, config checking, layout, templates, root mapping, listing."""

from __future__ import annotations

from pathlib import PureWindowsPath

import pytest
import yaml

from openpipeline.core import ItemRef, Project, removal, versions
from openpipeline.core.config import CONFIG_NAME
from openpipeline.core.errors import ConfigError, ItemExistsError, ItemNotFoundError, UserError
from tests.helpers.files import maya_binary_scene, snapshot


def test_new_project_has_openpipeline_layout(tmp_path):
    """A new project holds the config and openPipeline's top folders."""
    project = Project.create(tmp_path / "p", "film", description="A film", deadline="2027-01-31")
    for folder in ("lib", "scenes", "archive", "deleted", "textures", "renders"):
        assert (project.root / folder).is_dir()
    data = yaml.safe_load((project.root / CONFIG_NAME).read_text())
    assert data["config_version"] == 1
    assert data["name"] == "film" and data["code"] == "FILM"
    assert data["master_format"] == "ma"
    reopened = Project.open(project.root)
    assert reopened.config.description == "A film"
    assert reopened.config.deadline == "2027-01-31"


def test_default_item_paths_follow_openpipeline(project, scene):
    """Assets, shots and components land where openPipeline put them."""
    chair = project.create_item(ItemRef.parse("asset/prop/chair"))
    model = project.create_item(ItemRef.parse("asset/prop/chair/model"))
    shot = project.create_item(ItemRef.parse("shot/sq010/sh010"))
    assert chair.rel == "lib/prop/chair"
    assert project.relative(chair.master_path) == "lib/prop/chair/chair_asset.ma"
    assert project.relative(chair.workshop_path(1)) == "lib/prop/chair/workshop/chair_workshop_0001.ma"
    assert project.relative(chair.version_path(12)) == "lib/prop/chair/version/chair_version_0012.ma"
    assert project.relative(model.master_path) == "lib/prop/chair/components/model/chair_model.ma"
    assert project.relative(model.workshop_path(3)) == (
        "lib/prop/chair/components/model/workshop/chair_model_workshop_0003.ma")
    assert project.relative(shot.master_path) == "scenes/sq010/sh010/sh010_shot.ma"
    assert shot.workshop_path(10000).name == "sh010_workshop_10000.ma"


def test_studio_templates_change_the_layout(tmp_path):
    """Every template can be changed in the config and the whole API follows it."""
    project = Project.create(
        tmp_path / "p", "studio",
        folders={"library": "assets", "workshop": "wip"},
        templates={
            "asset": "{library}/{type}/{type}_{asset}",
            "master_asset": "{type}_{asset}_MASTER.{ext}",
            "workshop": "{workshop}/{stem}.v{number}.{ext}",
        },
        version_padding=3, master_format="mb", workshop_format="mb",
    )
    chair = project.create_item(ItemRef.parse("asset/prop/chair"))
    assert chair.rel == "assets/prop/prop_chair"
    versions.save_workshop(chair, maya_binary_scene(tmp_path / "chair.mb"), note="x")
    assert (project.root / "assets/prop/prop_chair/wip/chair.v001.mb").is_file()
    assert project.relative(chair.master_path) == "assets/prop/prop_chair/prop_chair_MASTER.mb"
    assert [r.address for r in project.list_items()] == ["asset/prop", "asset/prop/chair"]


@pytest.mark.parametrize("bad,message", [
    ({"templates": {"asset": "{library}/{asset}"}}, "must have '{type}'"),
    ({"templates": {"workshop": "../{stem}_{number}.{ext}"}}, "'..'"),
    ({"templates": {"workshop": "/abs/{stem}.{ext}"}}, "relative path"),
    ({"templates": {"workshop": "{stem}_{nope}.{ext}"}}, "unknown field '{nope}'"),
    ({"folders": {"library": "a/b"}}, "one plain folder name"),
    ({"master_format": "obj"}, "'ma' or 'mb'"),
    ({"deadline": "tomorrow"}, "must be a date"),
])
def test_bad_settings_are_refused(tmp_path, bad, message):
    """Bad templates and settings fail at creation with a readable message."""
    with pytest.raises(ConfigError, match=message):
        Project.create(tmp_path / "p", "demo", **bad)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("text,message", [
    ("name: [unclosed", "not valid YAML at line 1"),
    ("- just\n- a list\n", "must hold a mapping"),
    ("config_version: 1\nname: demo\ncode: DEMO\nmaster_fromat: ma\n", "Unknown setting 'master_fromat'"),
    ("config_version: 7\nname: demo\ncode: DEMO\n", "config_version 7"),
    ("config_version: 1\nname: de mo\ncode: DEMO\n", "found a space"),
    ("config_version: 1\nname: demo\ncode: DEMO\nlock_ttl_seconds: yes\n", "whole number"),
])
def test_hand_edited_config_errors_name_the_problem(project, text, message):
    """A broken config gives one clear sentence instead of a traceback."""
    (project.root / CONFIG_NAME).write_text(text)
    with pytest.raises(ConfigError, match=message):
        Project.open(project.root)


def test_paths_in_metadata_are_relative_and_resolve_on_other_platforms(tmp_path, scene):
    """A stored path resolves under each OS's configured root."""
    project = Project.create(tmp_path / "p", "demo", roots={
        "windows": "P:/projects/demo", "linux": str(tmp_path / "p"), "darwin": "/Volumes/demo"})
    chair = project.create_item(ItemRef.parse("asset/prop/chair"))
    record = versions.save_workshop(chair, scene, note="x")
    stored = record.data.path
    assert stored == "lib/prop/chair/workshop/chair_workshop_0001.ma"
    on_disk = chair.events()[-1].data.path
    assert on_disk == stored
    assert project.resolve(stored, "windows") == PureWindowsPath(
        r"P:\projects\demo\lib\prop\chair\workshop\chair_workshop_0001.ma")
    assert str(project.resolve(stored, "darwin")) == (
        "/Volumes/demo/lib/prop/chair/workshop/chair_workshop_0001.ma")
    assert project.resolve(stored) == chair.workshop_path(1)
    with pytest.raises(UserError):
        project.resolve("../etc/passwd")


def test_creating_items_and_listing(project):
    """Items appear in listings; parents are made; duplicates are refused."""
    for address in ("asset/prop/chair", "asset/prop/chair/model", "asset/char/hero",
                    "shot/sq010/sh010", "shot/sq010/sh010/anim", "shot/sq020/sh030"):
        project.create_item(ItemRef.parse(address))
    everything = [r.address for r in project.list_items()]
    assert everything == [
        "asset/char", "asset/char/hero", "asset/prop", "asset/prop/chair",
        "asset/prop/chair/model", "shot/sq010", "shot/sq010/sh010", "shot/sq010/sh010/anim",
        "shot/sq020", "shot/sq020/sh030",
    ]
    assert [r.address for r in project.list_items(ItemRef.parse("asset/prop"), depth=1)] == [
        "asset/prop/chair"]
    assert [r.address for r in project.list_items(ItemRef.parse("shot/sq010/sh010"))] == [
        "shot/sq010/sh010/anim"]
    with pytest.raises(ItemExistsError):
        project.create_item(ItemRef.parse("asset/prop/chair"))
    with pytest.raises(ItemNotFoundError):
        project.create_item(ItemRef.parse("asset/prop/table/model"))


def test_stray_folders_are_not_items(project):
    """A folder made by hand without metadata is not listed as an item."""
    project.create_item(ItemRef.parse("asset/prop/chair"))
    (project.root / "lib/prop/stray").mkdir()
    assert [r.address for r in project.list_items()] == ["asset/prop", "asset/prop/chair"]


def test_project_edit_is_checked_and_saved(project):
    """Editing settings goes through the same checks and survives a reopen."""
    project.edit(status="on_hold", users=["ann", "ben"])
    assert Project.open(project.root).config.users == ("ann", "ben")
    with pytest.raises(ConfigError):
        project.edit(status="sleeping")
    assert Project.open(project.root).config.status == "on_hold"


LAYOUT_EDITS = [
    {"master_format": "mb"},
    {"workshop_format": "mb"},
    {"version_padding": 3},
    {"templates": {"workshop": "{workshop}/{stem}.w{number}.{ext}"}},
    {"folders": {"library": "assets"}},
]


@pytest.mark.parametrize("changes", LAYOUT_EDITS, ids=[next(iter(c)) for c in LAYOUT_EDITS])
def test_edit_that_would_orphan_saved_files_is_refused(asset, project, scene, changes):
    """A layout edit is refused while files saved under the old layout exist; nothing changes."""
    versions.save_workshop(asset, scene, note="one")
    versions.master(asset, note="m1")
    versions.master(asset, note="m2")
    before = snapshot(project.root)
    with pytest.raises(ConfigError, match=r"would orphan \d+ existing file.*new project"):
        project.edit(**changes)
    assert snapshot(project.root) == before
    reopened = Project.open(project.root)
    assert reopened.item("asset/prop/chair").uncommitted() == []
    assert reopened.config == project.config


def test_edit_counts_the_files_it_would_orphan(asset, project, scene):
    """The refusal says how many files would be orphaned: two workshops, one version, the master."""
    versions.save_workshop(asset, scene, note="one")
    versions.save_workshop(asset, scene, note="two")
    versions.master(asset, note="m1")
    versions.master(asset, note="m2")
    with pytest.raises(ConfigError, match="would orphan 4 existing"):
        project.edit(version_padding=5, master_format="mb")


def test_layout_edit_is_allowed_before_any_file_is_saved(asset, project, tmp_path):
    """With items but no saved files, the formats and padding may change."""
    project.edit(master_format="mb", workshop_format="mb", version_padding=3)
    reopened = Project.open(project.root)
    chair = reopened.item("asset/prop/chair")
    record = versions.save_workshop(chair, maya_binary_scene(tmp_path / "scene.mb"), note="one")
    assert record.data.path.endswith("chair_workshop_001.mb")


def test_edit_counts_deleted_items_that_hold_files(project, scene):
    """A deleted item with a saved workshop blocks a layout change: restoring it would orphan it."""
    chair = project.create_item(ItemRef.parse("asset/prop/chair"))
    project.create_item(ItemRef.parse("asset/prop/lamp"))
    versions.save_workshop(chair, scene, note="one")
    removal.delete(chair)
    with pytest.raises(ConfigError, match=r"would orphan 1 existing .*first: 'deleted/"):
        project.edit(workshop_format="mb")
    removal.delete(project.item("asset/prop/lamp"))
    with pytest.raises(ConfigError, match="would orphan 1 existing"):
        project.edit(workshop_format="mb")


def test_edit_refuses_renaming_a_shared_folder_that_holds_files(project):
    """Renaming the textures folder is refused once it holds a file, allowed while it is empty."""
    project.edit(folders={"renders": "images"})
    (project.root / "textures" / "wood.exr").write_bytes(b"texels")
    with pytest.raises(ConfigError, match=r"would orphan 1 existing .*first: 'textures'"):
        project.edit(folders={"renders": "images", "textures": "maps"})
    assert Project.open(project.root).config.folders["textures"] == "textures"
