"""Scene checks: a whole Maya scene of the project's format masters and saves; anything else does not."""

from __future__ import annotations

import pytest

from openpipeline.core import Project, validators, versions
from openpipeline.core.address import ItemRef
from openpipeline.core.config import CONFIG_NAME, ProjectConfig
from openpipeline.core.errors import ConfigError, SourceFileError, ValidationFailedError
from tests.helpers.cli import one_sentence, run_cli
from tests.helpers.files import maya_binary_scene, maya_scene, snapshot

ASCII_SCENE = (
    "//Maya ASCII 2025 scene\n"
    "//Name: prop.ma\n"
    'requires maya "2025";\n'
    "currentUnit -l centimeter -a degree -t film;\n"
    'createNode transform -n "pCube1";\n'
    '\trename -uid "4B1E2E80-0000-0000-0000-000000000001";\n'
    '\tsetAttr ".t" -type "double3" 0 1.5 0 ;\n'
    "// End of prop.ma\n"
)


def _ascii(tmp_path, text=ASCII_SCENE, name="prop.ma"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _png(tmp_path):
    path = tmp_path / "shot.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    return path


def test_a_whole_ascii_scene_passes(tmp_path):
    """A Maya ASCII file whose last statement ends with ';' (a comment may follow) passes."""
    assert validators.scene_problem(_ascii(tmp_path), "ma") is None


@pytest.mark.parametrize("cut", [
    ASCII_SCENE.index("0 1.5") + 3,  # inside the last statement
    ASCII_SCENE.index("-t film"),  # inside an earlier statement
    len("//Maya ASCII 2025 scene\n//Name: prop.ma\n"),  # only the header is left
])
def test_an_ascii_scene_cut_short_is_refused(tmp_path, cut):
    """A Maya ASCII file truncated mid-statement, or with no statement left, fails the check."""
    path = _ascii(tmp_path, ASCII_SCENE[:cut])
    problem = validators.scene_problem(path, "ma")
    assert problem is not None and "cut short" in problem


def test_the_last_statement_is_found_across_read_blocks(tmp_path):
    """A scene ending in more comment lines than one read block still finds its last statement."""
    text = ASCII_SCENE + "// a trailing comment line\n" * 8000
    assert validators.scene_problem(_ascii(tmp_path, text), "ma") is None
    assert validators.scene_problem(_ascii(tmp_path, text.replace(" 0 ;", " 0"), "cut.ma"),
                                    "ma") is not None


@pytest.mark.parametrize("wide", [False, True], ids=["FOR4", "FOR8"])
def test_a_whole_binary_scene_passes_and_a_cut_one_fails(tmp_path, wide):
    """The top-level IFF chunks of a Maya binary file tile it; cut or padded, they do not."""
    path = maya_binary_scene(tmp_path / "prop.mb", "pCube1", wide=wide)
    data = path.read_bytes()
    assert validators.scene_problem(path, "mb") is None
    for broken in (data[:-3], data[:len(data) // 2], data[:10], data + b"junk"):
        path.write_bytes(broken)
        assert validators.scene_problem(path, "mb") is not None, len(broken)


def test_an_iff_file_that_is_not_a_maya_form_fails(tmp_path):
    """An IFF file whose first form is not a 'Maya' form is not a Maya binary scene."""
    path = maya_binary_scene(tmp_path / "prop.mb")
    path.write_bytes(path.read_bytes().replace(b"Maya", b"AIFF", 1))
    assert "'Maya' form" in validators.scene_problem(path, "mb")


def test_check_scene_file_names_the_file_and_the_expected_format(tmp_path):
    """A PNG and a binary scene are refused for a .ma project, in one sentence naming the file."""
    png = _png(tmp_path)
    binary = maya_binary_scene(tmp_path / "prop.mb")
    for path in (png, binary):
        (problem,) = validators.check_scene_file(path, "ma")
        assert str(path) in problem and "Maya ASCII (.ma)" in problem and problem.endswith(".")
    assert validators.check_scene_file(maya_scene(tmp_path / "ok.ma"), "ma") == []
    assert validators.check_scene_file(png, "abc") == []  # not a Maya format: not checked


def test_a_truncated_ascii_workshop_is_blocked_at_master(asset, tmp_path, project):
    """A workshop cut short after its save (half-copied, disk full) does not master."""
    versions.save_workshop(asset, _ascii(tmp_path), note="whole")
    asset.workshop_path(1).write_text(ASCII_SCENE[:ASCII_SCENE.index("0 1.5") + 3])
    before = snapshot(project.root)
    with pytest.raises(ValidationFailedError, match="cut short") as info:
        versions.master(asset, note="m")
    assert info.value.report[0]["validator"] == "maya_file_header"
    assert snapshot(project.root) == before


def _binary_item(tmp_path):
    project = Project.create(tmp_path / "bin", "bin", master_format="mb", workshop_format="mb")
    return project.create_item(ItemRef.parse("asset/prop/chair"))


def test_a_truncated_binary_workshop_is_blocked_at_master(tmp_path):
    """A Maya binary workshop whose chunks no longer reach its end does not master."""
    chair = _binary_item(tmp_path)
    versions.save_workshop(chair, maya_binary_scene(tmp_path / "a.mb"), note="whole")
    data = chair.workshop_path(1).read_bytes()
    chair.workshop_path(1).write_bytes(data[: len(data) - 5])
    with pytest.raises(ValidationFailedError, match="cut short"):
        versions.master(chair, note="m")
    versions.save_workshop(chair, maya_binary_scene(tmp_path / "b.mb", wide=True), note="wide")
    assert versions.master(chair, note="m").data.workshop == 2


@pytest.mark.parametrize("make", [
    _png,
    lambda tmp: maya_binary_scene(tmp / "prop.mb"),
    lambda tmp: _ascii(tmp, ASCII_SCENE[:-40], "cut.ma"),
], ids=["png", "binary scene", "ascii cut short"])
def test_workshop_save_refuses_a_file_that_is_not_a_scene_of_the_project_format(
        tmp_path, project, asset, make):
    """workshop save of a PNG, an .mb or a cut .ma into a .ma project: exit 2, nothing written."""
    source = make(tmp_path)
    before = snapshot(project.root)
    result = run_cli("--project", str(project.root), "workshop", "save", "asset/prop/chair",
                     str(source), "--note", "x")
    assert result.returncode == 2
    sentence = one_sentence(result.stderr)
    assert str(source) in sentence and "Maya ASCII (.ma)" in sentence
    assert snapshot(project.root) == before


def test_a_host_that_writes_something_else_than_a_scene_is_refused(asset):
    """A host writer that leaves a non-scene file: the save is refused and the file removed."""
    with pytest.raises(SourceFileError, match="not a Maya ASCII file"):
        versions.save_workshop(asset, writer=lambda path: path.write_bytes(b"GIF89a"), note="x")
    assert list(asset.workshop_path(1).parent.iterdir()) == []
    assert asset.state().workshops == {}


class _Repairable:
    name = "adds_header"

    def check(self, context):
        return [] if context.staged.read_bytes().startswith(b"//Maya ASCII") else ["no header"]

    def repair(self, context):
        context.staged.write_bytes(b"//Maya ASCII 2025 scene\n" + context.staged.read_bytes())


class _NoTodo:
    name = "no_todo"

    def check(self, context):
        return ["The scene still says TODO."] if b"TODO" in context.staged.read_bytes() else []


def test_a_blocked_master_suggests_repair_only_when_a_failing_validator_can_repair(
        asset, tmp_path):
    """Only failing validators without a repair: no --repair advice; a repairable one: advice."""
    versions.save_workshop(asset, maya_scene(tmp_path / "a.ma", "TODO"), note="x")
    validators.register(_NoTodo())
    validators.register(_Repairable())
    try:
        with pytest.raises(ValidationFailedError) as info:
            versions.master(asset, note="m")
        assert "--repair" not in str(info.value) and "--force" in str(info.value)
        asset.workshop_path(1).write_text("createNode transform;\n")  # header gone: repairable
        with pytest.raises(ValidationFailedError) as info:
            versions.master(asset, note="m")
        assert "--repair" in str(info.value)
    finally:
        validators.unregister("no_todo")
        validators.unregister("adds_header")


def test_a_blocked_master_by_a_builtin_check_does_not_suggest_repair(project, asset, tmp_path):
    """A workshop that is no Maya scene (no built-in repair): the message offers no --repair."""
    versions.save_workshop(asset, maya_scene(tmp_path / "a.ma"), note="x")
    asset.workshop_path(1).write_text("not maya\n")
    result = run_cli("--project", str(project.root), "master", "asset/prop/chair", "--note", "m")
    assert result.returncode == 2
    sentence = one_sentence(result.stderr)
    assert "not a Maya ASCII file" in sentence and "--repair" not in sentence


def test_a_project_setting_turns_the_save_refusal_into_a_warning(tmp_path, caplog):
    """With save_scene_check set to 'warn' a foreign file is let through with one warning."""
    png = _png(tmp_path)
    refusing = ProjectConfig(name="p", code="P")
    warning = ProjectConfig(name="p", code="P", save_scene_check="warn")
    with pytest.raises(SourceFileError, match="not a Maya ASCII file"):
        validators.refuse_foreign_scene(png, refusing)
    assert caplog.records == []
    validators.refuse_foreign_scene(png, warning)
    (record,) = caplog.records
    assert record.levelname == "WARNING" and str(png) in record.getMessage()
    validators.refuse_foreign_scene(maya_scene(tmp_path / "ok.ma"), refusing)


def test_the_save_check_setting_is_read_from_the_project_config(project, tmp_path):
    """'save_scene_check: warn' in openpipeline.yaml lets a PNG be saved; another value is refused."""
    config = project.root / CONFIG_NAME
    config.write_text(config.read_text().replace("save_scene_check: refuse", "save_scene_check: warn"))
    chair = Project.open(project.root).create_item(ItemRef.parse("asset/prop/chair"))
    assert Project.open(project.root).config.save_scene_check == "warn"
    versions.save_workshop(chair, _png(tmp_path), note="reference image")
    assert chair.workshop_path(1).is_file()
    config.write_text(config.read_text().replace("save_scene_check: warn", "save_scene_check: maybe"))
    with pytest.raises(ConfigError, match="save_scene_check"):
        Project.open(project.root)
