"""The project config file: cut-short copies, hand-written files, colliding layout folders."""

from __future__ import annotations

import pytest

from openpipeline.core import ItemRef, Project
from openpipeline.core.config import CONFIG_NAME, load_config
from openpipeline.core.errors import ConfigError


def test_every_cut_short_copy_of_a_written_config_is_refused(tmp_path):
    """A config cut anywhere before its last line fails to load instead of loading smaller."""
    project = Project.create(tmp_path / "p", "film")
    path = project.root / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    loaded = []
    for cut in range(len(text.rstrip())):
        path.write_text(text[:cut], encoding="utf-8")
        try:
            load_config(project.root)
        except ConfigError:
            continue
        loaded.append(cut)
    assert loaded == []


def test_config_cut_mid_folder_name_names_the_missing_end_line(tmp_path):
    """A config cut in the middle of 'scenes: scenes' is refused, and the message says why."""
    project = Project.create(tmp_path / "p", "film")
    path = project.root / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("scenes: scenes") + len("scenes: sce")], encoding="utf-8")
    with pytest.raises(ConfigError, match=r"was cut short .its last line .* is missing"):
        Project.open(project.root)


def test_hand_written_config_without_the_end_line_loads(tmp_path):
    """A config a TD writes by hand, with no note and no end line, loads as it is."""
    root = tmp_path / "p"
    root.mkdir()
    (root / CONFIG_NAME).write_text(
        "config_version: 1\nname: film\ncode: FILM\nfolders:\n  library: assets\n",
        encoding="utf-8")
    config = load_config(root)
    assert config.name == "film" and config.folders["library"] == "assets"


def test_hand_edit_between_the_note_and_the_end_line_loads(tmp_path):
    """A value changed by hand in a file OpenPipeline wrote is read back."""
    project = Project.create(tmp_path / "p", "film")
    path = project.root / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("archive_keep: 3", "archive_keep: 7"), encoding="utf-8")
    assert load_config(project.root).archive_keep == 7


@pytest.mark.parametrize("folders", [
    {"library": "scenes"},
    {"library": "Scenes"},
    {"archive": "deleted"},
    {"workshop": "version"},
    {"notes": "components"},
])
def test_two_layout_folders_with_one_name_are_refused(tmp_path, folders):
    """Layout folders that share a name (in any case) are refused and no project is made."""
    with pytest.raises(ConfigError, match="give each layout folder its own name"):
        Project.create(tmp_path / "p", "film", folders=folders)
    assert not (tmp_path / "p").exists()


def test_hand_edited_colliding_folders_are_refused_on_load(tmp_path):
    """A config edited to 'library: scenes' is refused instead of listing shots as assets."""
    project = Project.create(tmp_path / "p", "film")
    project.create_item(ItemRef.parse("shot/sq010/sh010"))
    path = project.root / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("library: lib", "library: scenes"), encoding="utf-8")
    with pytest.raises(ConfigError, match="'library' and 'scenes'"):
        Project.open(project.root)


def test_asset_and_shot_templates_in_one_folder_are_refused(tmp_path):
    """Asset and shot templates that start in the same root folder are refused."""
    with pytest.raises(ConfigError, match="shots would be listed as assets"):
        Project.create(tmp_path / "p", "film",
                       templates={"asset": "{scenes}/{type}/{asset}"})
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("tail", [
    "folders:\n  library: assets\n  scenes:\n",
    "templates:\n  shot:\n",
    "templates:\n  shot: '{scenes}/{seq\n",
    "roots:\n  linux:\n",
    "users:\n- ann\n-\n",
])
def test_hand_written_config_ending_mid_structure_is_refused(tmp_path, tail):
    """A hand-written config (no note) that stops inside a setting is refused, not read smaller."""
    root = tmp_path / "p"
    root.mkdir()
    (root / CONFIG_NAME).write_text("config_version: 1\nname: film\ncode: FILM\n" + tail,
                                    encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(root)
