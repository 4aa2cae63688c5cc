"""The openpipeline command, run as a real process: exit codes, messages, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openpipeline.engine.images import read_image
from tests.helpers.cli import cli_json, one_sentence, run_cli
from tests.helpers.files import maya_scene, snapshot


@pytest.fixture
def cli_project(tmp_path):
    root = tmp_path / "proj"
    result = run_cli("project", "create", "film", "--root", str(root), "--deadline", "2027-05-01")
    assert result.returncode == 0, result.stderr
    assert run_cli("--project", str(root), "asset", "create", "prop", "chair").returncode == 0
    return root


def test_full_workflow_through_the_cli(cli_project, tmp_path):
    """Create, save, master, archive, lock, delete and restore, all with --json."""
    p = ["--project", str(cli_project)]
    scene = maya_scene(tmp_path / "s.ma", "cli")
    assert cli_json(*p, "shot", "create", "sq010", "sh010")["item"] == "shot/sq010/sh010"
    assert cli_json(*p, "component", "create", "asset/prop/chair", "model")["kind"] == (
        "asset_component")
    for n in range(1, 4):
        record = cli_json(*p, "workshop", "save", "asset/prop/chair", str(scene), "--note", f"n{n}")
        assert record["version"] == n
    master = cli_json(*p, "master", "asset/prop/chair", "--workshop", "2", "--note", "ok")
    assert master["data"]["workshop"] == 2
    master = cli_json(*p, "master", "asset/prop/chair", "--note", "ok")
    assert master["data"]["preserved_version"] == 1
    archived = cli_json(*p, "archive", "asset/prop/chair", "--keep", "1")
    assert archived["data"]["workshops"] == [1, 2]
    retrieved = cli_json(*p, "retrieve", "asset/prop/chair", "--workshop", "1")
    assert retrieved["data"]["workshops"] == [1]
    assert cli_json(*p, "lock", "acquire", "asset/prop/chair")["user"] == "tester"
    assert cli_json(*p, "lock", "status", "asset/prop/chair")["lock"]["user"] == "tester"
    shown = cli_json(*p, "item", "show", "asset/prop/chair")
    assert [w["state"] for w in shown["workshops"]] == ["active", "archived", "active"]
    assert shown["master"]["workshop"] == 3 and shown["lock"]["user"] == "tester"
    assert cli_json(*p, "lock", "release", "asset/prop/chair")["user"] == "tester"
    listing = cli_json(*p, "item", "list")
    assert [r["item"] for r in listing] == ["asset/prop", "asset/prop/chair",
                                            "asset/prop/chair/model", "shot/sq010",
                                            "shot/sq010/sh010"]
    history = cli_json(*p, "item", "history", "asset/prop/chair")
    assert [e["event"] for e in history] == ["created", "workshop", "workshop", "workshop",
                                             "master", "master", "archive", "retrieve", "lock",
                                             "unlock"]
    cli_json(*p, "delete", "shot/sq010/sh010")
    assert cli_json(*p, "item", "list", "--deleted")[0]["item"] == "shot/sq010/sh010"
    assert cli_json(*p, "restore", "shot/sq010/sh010")["path"] == "scenes/sq010/sh010"
    renamed = cli_json(*p, "item", "rename", "asset/prop/chair", "stool")
    assert renamed["to"] == "asset/prop/stool"


def test_project_registry_and_environment_selection(cli_project, tmp_path):
    """Registered projects are listed; OPENPIPELINE_PROJECT and the active project select one."""
    listed = cli_json("project", "list")
    assert listed == [{"name": "film", "path": str(cli_project), "active": True}]
    assert cli_json("project", "show")["name"] == "film"
    env = {"OPENPIPELINE_PROJECT": str(cli_project)}
    assert cli_json("asset", "list", env=env)[0]["item"] == "asset/prop"
    edited = cli_json("project", "edit", "--status", "on_hold", "--add-user", "ann",
                      "--root-for", "windows=P:/film")
    assert edited["status"] == "on_hold" and edited["users"] == ["ann"]
    assert edited["roots"] == {"windows": "P:/film"}


def test_text_output_is_readable(cli_project, tmp_path):
    """Without --json, commands print short human sentences."""
    scene = maya_scene(tmp_path / "s.ma", "x")
    out = run_cli("--project", str(cli_project), "workshop", "save", "asset/prop/chair",
                  str(scene), "--note", "first").stdout
    assert out.startswith("Saved workshop 1 of 'asset/prop/chair'")
    out = run_cli("--project", str(cli_project), "item", "show", "asset/prop/chair").stdout
    assert "master   none yet" in out and "workshop    1" in out


BAD_INPUT = [
    (["asset", "create", "prop", "ch/air"], "found '/'"),
    (["asset", "create", "prop", ".."], "'..'"),
    (["asset", "create", "prop", "my chair"], "a space"),
    (["asset", "create", "prop", "chаir"], "CYRILLIC"),
    (["asset", "create", "prop", ""], "empty"),
    (["asset", "create", "prop", "x" * 65], "characters long"),
    (["asset", "create", "prop", "Chair"], "only by case"),
    (["asset", "create", "prop", "chair"], "already exists"),
    (["component", "create", "asset/prop/table", "model"], "does not exist"),
    (["item", "show", "asset/prop/table"], "does not exist"),
    (["item", "show", "asset/prop/../x"], "'..'"),
    (["workshop", "save", "asset/prop/chair", "/no/such/file.ma", "--note", "x"],
     "does not exist"),
    (["workshop", "save", "asset/prop", "/no/such/file.ma", "--note", "x"], "holds items"),
    (["master", "asset/prop/chair", "--note", "x"], "no workshop yet"),
    (["lock", "release", "asset/prop/chair"], "not checked out"),
    (["restore", "asset/prop/chair"], "No deleted item"),
    (["retrieve", "asset/prop/chair", "--workshop", "3"], "not archived"),
]


@pytest.mark.parametrize("args,expected", BAD_INPUT, ids=[" ".join(a)[:40] for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_one_sentence_and_changes_nothing(cli_project, args, expected):
    """Each bad input: exit code 2, one sentence naming the problem, disk untouched."""
    before = snapshot(cli_project)
    result = run_cli("--project", str(cli_project), *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in one_sentence(result.stderr)
    assert snapshot(cli_project) == before


def test_corrupt_config_exits_2_and_changes_nothing(cli_project, tmp_path):
    """A damaged YAML config is reported in one sentence; nothing is written."""
    config = cli_project / "openpipeline.yaml"
    config.write_text("name: [film\n")
    before = snapshot(cli_project)
    scene = maya_scene(tmp_path / "s.ma", "x")
    result = run_cli("--project", str(cli_project), "workshop", "save", "asset/prop/chair",
                     str(scene), "--note", "x")
    assert result.returncode == 2
    assert "not valid YAML" in one_sentence(result.stderr)
    config.write_text("config_version: 1\nname: film\ncode: FILM\nfolders: {library: ../x}\n")
    result = run_cli("--project", str(cli_project), "item", "list")
    assert result.returncode == 2
    assert "one plain folder name" in one_sentence(result.stderr)
    assert snapshot(cli_project) == {**before, "openpipeline.yaml": snapshot(cli_project)[
        "openpipeline.yaml"]}


def test_missing_project_and_bad_arguments_exit_2(tmp_path):
    """No project selected, a missing folder, or a malformed command line: exit code 2."""
    result = run_cli("item", "list")
    assert result.returncode == 2 and "No project selected" in one_sentence(result.stderr)
    result = run_cli("--project", str(tmp_path / "nope"), "item", "list")
    assert result.returncode == 2 and "does not exist" in one_sentence(result.stderr)
    result = run_cli("--project", str(tmp_path), "item", "list")
    assert result.returncode == 2 and "not an OpenPipeline project" in result.stderr
    assert run_cli("master").returncode == 2
    assert run_cli("workshop", "save", "asset/a/b", "f.ma").returncode == 2  # --note missing


def test_project_create_refuses_a_bad_name_and_a_used_folder(tmp_path):
    """Creating a project with a bad name or over existing files writes nothing."""
    result = run_cli("project", "create", "my film", "--root", str(tmp_path / "p"))
    assert result.returncode == 2 and "a space" in result.stderr
    assert not (tmp_path / "p").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("artist file")
    result = run_cli("project", "create", "film", "--root", str(tmp_path / "used"))
    assert result.returncode == 2 and "not an empty folder" in result.stderr
    assert sorted(p.name for p in (tmp_path / "used").iterdir()) == ["keep.txt"]


def test_lock_held_by_someone_else_exits_2_naming_the_holder(cli_project, tmp_path):
    """Saving on an item checked out by alice fails for bob, naming alice."""
    assert run_cli("--project", str(cli_project), "--user", "alice", "lock", "acquire",
                   "asset/prop/chair").returncode == 0
    scene = maya_scene(tmp_path / "s.ma", "x")
    result = run_cli("--project", str(cli_project), "--user", "bob", "workshop", "save",
                     "asset/prop/chair", str(scene), "--note", "x")
    assert result.returncode == 2 and "checked out by alice" in one_sentence(result.stderr)
    result = run_cli("--project", str(cli_project), "--user", "bob", "workshop", "save",
                     "asset/prop/chair", str(scene), "--note", "x", "--ignore-lock")
    assert result.returncode == 0


def test_validator_failure_exits_2_and_force_masters(cli_project, tmp_path):
    """A validator problem blocks with exit code 2; --force masters and records it."""
    p = ["--project", str(cli_project)]
    assert run_cli(*p, "workshop", "save", "asset/prop/chair", str(maya_scene(tmp_path / "a.ma")),
                   "--note", "x").returncode == 0
    (cli_project / "lib/prop/chair/workshop/chair_workshop_0001.ma").write_text("not maya")
    result = run_cli(*p, "master", "asset/prop/chair", "--note", "x")
    assert result.returncode == 2 and "not a Maya ASCII file" in one_sentence(result.stderr)
    forced = cli_json(*p, "master", "asset/prop/chair", "--note", "x", "--force")
    assert forced["data"]["forced"] is True


def test_internal_errors_exit_1(cli_project, tmp_path):
    """An unexpected failure inside a command is an internal error: exit code 1, no traceback."""
    scene = str(maya_scene(tmp_path / "s.ma"))
    result = run_cli("--project", str(cli_project), "workshop", "save", "asset/prop/chair", scene,
                     "--note", "x", env={"OPENPIPELINE_FAULT": "workshop.claimed:raise"})
    assert result.returncode == 1
    assert "internal error (RuntimeError)" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_builds_a_project(tmp_path):
    """The demo builds a sample project and prints its tree."""
    result = run_cli("--json", "demo", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert any("chair_asset.ma" in line for line in summary["tree"])
    assert any("validator blocked" in line for line in summary["log"])
    events = [e["event"] for e in summary["history"]]
    assert events.count("workshop") == 5 and events.count("master") == 2
    assert "archive" in events
    restored = Path(summary["project"]) / "textures" / "restored"
    for name in ("denoise_before_after.png", "inpaint_before_after.png"):
        height, width = read_image(restored / name).pixels.shape[:2]
        assert height >= 256 and width >= 3 * 256  # three panels a person can judge



def test_project_edit_that_would_orphan_workshops_exits_2(cli_project, tmp_path):
    """'project edit --workshop-format/--master-format mb' with saved files: exit 2, no change."""
    p = ["--project", str(cli_project)]
    scene = maya_scene(tmp_path / "s.ma", "x")
    assert run_cli(*p, "workshop", "save", "asset/prop/chair", str(scene), "--note", "a"
                   ).returncode == 0
    assert run_cli(*p, "master", "asset/prop/chair", "--note", "m").returncode == 0
    before = snapshot(cli_project)
    for option in ("--workshop-format", "--master-format"):
        result = run_cli(*p, "project", "edit", option, "mb")
        assert result.returncode == 2, result.stderr
        line = one_sentence(result.stderr)
        assert "would orphan 1 existing" in line and "new project" in line
    assert snapshot(cli_project) == before
    assert cli_json(*p, "item", "show", "asset/prop/chair")["uncommitted"] == []


def test_archive_and_retrieve_with_nothing_to_do_print_an_object(cli_project):
    """With nothing to move, --json prints the item and empty lists, not null."""
    p = ["--project", str(cli_project)]
    empty = {"workshops": [], "versions": []}
    assert cli_json(*p, "archive", "asset/prop/chair") == {
        "item": "asset/prop/chair", "archived": empty}
    assert cli_json(*p, "retrieve", "asset/prop/chair") == {
        "item": "asset/prop/chair", "retrieved": empty}


def test_archive_under_json_names_what_moved(cli_project, tmp_path):
    """An archive that moves files prints the same 'archived' lists beside the event's fields."""
    p = ["--project", str(cli_project)]
    scene = maya_scene(tmp_path / "s.ma", "x")
    for n in range(3):
        assert run_cli(*p, "workshop", "save", "asset/prop/chair", str(scene), "--note", f"{n}"
                       ).returncode == 0
    archived = cli_json(*p, "archive", "asset/prop/chair", "--keep", "1")
    assert archived["archived"] == {"workshops": [1, 2], "versions": []}
    assert archived["event"] == "archive" and archived["item"] == "asset/prop/chair"


def test_user_error_under_json_prints_an_error_object(cli_project):
    """Under --json a user error prints {"error", "problems"} on stdout and the sentence on stderr."""
    result = run_cli("--project", str(cli_project), "--json", "asset", "create", "prop", "ch/air")
    assert result.returncode == 2
    line = one_sentence(result.stderr)
    assert json.loads(result.stdout) == {"error": line.removeprefix("openpipeline: "),
                                         "problems": []}
    result = run_cli("--project", str(cli_project), "item", "show", "asset/prop/nope", "--json")
    assert result.returncode == 2
    assert "does not exist" in json.loads(result.stdout)["error"]


def test_blocked_master_under_json_prints_the_validator_report(cli_project, tmp_path):
    """A master blocked by a validator prints the problems on stdout under --json; exit 2."""
    p = ["--project", str(cli_project)]
    assert run_cli(*p, "workshop", "save", "asset/prop/chair", str(maya_scene(tmp_path / "s.ma")),
                   "--note", "x").returncode == 0
    (cli_project / "lib/prop/chair/workshop/chair_workshop_0001.ma").write_text("not maya")
    result = run_cli(*p, "--json", "master", "asset/prop/chair", "--note", "x")
    assert result.returncode == 2
    printed = json.loads(result.stdout)
    assert printed["error"] == one_sentence(result.stderr).removeprefix("openpipeline: ")
    assert len(printed["problems"]) == 1
    assert "not a Maya ASCII file" in json.dumps(printed["problems"])


def test_internal_error_under_json_prints_an_error_object(cli_project, tmp_path):
    """An internal error under --json prints the error object too, and still exits 1."""
    scene = str(maya_scene(tmp_path / "s.ma"))
    result = run_cli("--project", str(cli_project), "--json", "workshop", "save", "asset/prop/chair",
                     scene, "--note", "x", env={"OPENPIPELINE_FAULT": "workshop.claimed:raise"})
    assert result.returncode == 1
    printed = json.loads(result.stdout)
    assert "fault injected" in printed["error"] and printed["problems"] == []


@pytest.mark.parametrize("note", ["", "   "])
def test_blank_note_is_refused_for_save_and_master(cli_project, tmp_path, note):
    """'--note' that says nothing is refused for 'workshop save' and 'master': exit 2, no change."""
    p = ["--project", str(cli_project)]
    scene = maya_scene(tmp_path / "s.ma", "x")
    assert run_cli(*p, "workshop", "save", "asset/prop/chair", str(scene), "--note", "a"
                   ).returncode == 0
    before = snapshot(cli_project)
    for args in (["workshop", "save", "asset/prop/chair", str(scene)],
                 ["master", "asset/prop/chair"]):
        result = run_cli(*p, "--json", *args, "--note", note)
        assert result.returncode == 2, result.stderr
        assert "note is empty" in one_sentence(result.stderr)
        assert "note is empty" in json.loads(result.stdout)["error"]
    assert snapshot(cli_project) == before


def test_malformed_command_line_is_one_sentence_and_json(tmp_path):
    """A missing argument or a bad value: exit 2, one sentence naming --help, JSON under --json."""
    result = run_cli("master")
    assert result.returncode == 2
    assert "'openpipeline master --help'" in one_sentence(result.stderr)
    result = run_cli("--json", "master", "asset/a/b", "--note", "x", "--workshop", "two")
    assert result.returncode == 2
    line = one_sentence(result.stderr)
    assert json.loads(result.stdout) == {"error": line.removeprefix("openpipeline: "),
                                         "problems": []}
