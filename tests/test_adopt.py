"""`openpipeline project adopt`: projects made by the MEL openPipeline become ours, untouched."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from openpipeline.core.legacy import formats, plan_adoption
from tests.helpers.cli import cli_json, one_sentence, run_cli
from tests.helpers.legacy import make_legacy_project

UTC = {"TZ": "UTC0"}

SPEC = {
    "name": "film",
    "description": "Old & <loved> film",
    "deadline": "12/24/2008",
    "users": ["alice", "bob"],
    "user": "alice",
    "workshopname": "wip",
    "mastername": "final",
    "masterformat": "mb",
    "workshopformat": "mb",
    "assets": {
        "prop": {
            "chair": {
                "components": {"model": {"workshops": 2, "master": True,
                                         "master_comment": "model ok"}},
                "workshops": 3, "versions": 1, "master": True,
                "description": "A chair", "master_comment": "approved\nby <lead> & co",
            },
            "table": {
                "workshops": 2, "master": True,
                "history": [
                    ("alice", "created", 0, ""),
                    ("bob", "wip", 1, 'blocking, v1 <wip> & "quotes"'),
                    ("bob", "wip", 2, "line one\nline two", "04/01/2007", "17:04:00"),
                    ("alice", "final", 0, "ok </comment> really", "04/01/2007", "17:05:00"),
                ],
            },
        },
    },
    "shots": {
        "sq010": {
            "sh010": {"components": {"anim": {"workshops": 2}}, "workshops": 4, "versions": 2,
                      "master": True, "archive_keep_workshops": 1},
        },
    },
}


def _legacy(tmp_path: Path, spec: dict | None = None) -> tuple[Path, Path]:
    """A legacy project and its registry, as the MEL plug-in writes them."""
    root = tmp_path / "projects" / "film"
    registry = tmp_path / "maya_scripts" / "openPipeline" / "openPipeline_projects.xml"
    make_legacy_project(root, registry, spec or SPEC)
    return root, registry


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and mtime."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def _ours(rel: str) -> bool:
    return (rel == "openpipeline.yaml" or rel.startswith(".openpipeline/")
            or "/.op/" in rel or rel.startswith(".op/"))


def _adopt(root: Path, registry: Path | None = None, *extra: str) -> dict:
    args = ["project", "adopt", str(root), *extra]
    if registry is not None:
        args += ["--registry", str(registry)]
    return cli_json(*args, env=UTC)


def _history(root: Path, item: str) -> list[dict]:
    return cli_json("--project", str(root), "item", "history", item, env=UTC)


def test_adopt_round_trip_keeps_history_exactly(tmp_path):
    """Authors, events, versions and raw comments (<, &, newlines) come through as events."""
    root, registry = _legacy(tmp_path)
    summary = _adopt(root, registry)
    assert summary["warnings"] == []
    assert (summary["items"], summary["masters"]) == (7, 4)
    listing = cli_json("--project", str(root), "item", "list")
    assert [row["item"] for row in listing] == [
        "asset/prop", "asset/prop/chair", "asset/prop/chair/model", "asset/prop/table",
        "shot/sq010", "shot/sq010/sh010", "shot/sq010/sh010/anim"]
    table = _history(root, "asset/prop/table")
    assert [(e["author"], e["event"], e["version"], e["comment"]) for e in table] == [
        ("alice", "created", None, ""),
        ("bob", "workshop", 1, 'blocking, v1 <wip> & "quotes"'),
        ("bob", "workshop", 2, "line one\nline two"),
        ("alice", "master", 2, "ok </comment> really"),
    ]
    assert {e["host"] for e in table} == {"legacy"}
    assert table[3]["time"] == "2007-04-01T17:05:00+00:00"
    assert table[3]["data"]["workshop"] == 2 and table[3]["data"]["preserved_version"] is None
    chair = _history(root, "asset/prop/chair")
    assert [(e["event"], e["version"]) for e in chair] == [
        ("created", None), ("workshop", 1), ("workshop", 2), ("master", 2), ("workshop", 3),
        ("master", 3)]
    assert chair[3]["comment"] == "approved\nby <lead> & co"
    assert [e["data"].get("preserved_version") for e in chair if e["event"] == "master"] == [None, 1]


def test_adopt_recognises_workshops_versions_and_master(tmp_path):
    """`item show` lists legacy workshops and versions as committed and finds the master."""
    root, registry = _legacy(tmp_path)
    _adopt(root, registry)
    chair = cli_json("--project", str(root), "item", "show", "asset/prop/chair")
    assert [(w["number"], w["state"], w["path"]) for w in chair["workshops"]] == [
        (n, "active", f"lib/prop/chair/wip/chair_wip_000{n}.mb") for n in (1, 2, 3)]
    assert [v["path"] for v in chair["versions"]] == ["lib/prop/chair/version/chair_version_0001.mb"]
    assert chair["master"]["path"] == "lib/prop/chair/chair_asset.mb"
    assert chair["master"]["workshop"] == 3
    assert chair["uncommitted"] == [] and chair["description"] == "A chair"
    shot = cli_json("--project", str(root), "item", "show", "shot/sq010/sh010")
    assert [(w["number"], w["state"]) for w in shot["workshops"]] == [
        (1, "archived"), (2, "archived"), (3, "archived"), (4, "active")]
    assert shot["workshops"][0]["path"] == "archive/scenes/sq010/sh010/wip/sh010_wip_0001.mb"
    assert [v["number"] for v in shot["versions"]] == [1, 2] and shot["uncommitted"] == []


def test_adopt_leaves_every_legacy_file_as_it_was(tmp_path):
    """Every legacy file keeps its bytes and mtime; adopt only adds hidden metadata and the config."""
    root, registry = _legacy(tmp_path)
    before, registry_before = _files(root), _files(registry.parent)
    _adopt(root, registry)
    after = _files(root)
    assert {rel: after[rel] for rel in before} == before
    added = sorted(set(after) - set(before))
    assert added and all(_ours(rel) for rel in added), [r for r in added if not _ours(r)]
    assert _files(registry.parent) == registry_before


def test_adopted_item_saves_and_masters_after_the_legacy_numbers(tmp_path):
    """The next workshop takes number 4, and master keeps the old master as version 2."""
    root, registry = _legacy(tmp_path)
    _adopt(root, registry)
    old_master = (root / "lib/prop/chair/chair_asset.mb").read_bytes()
    old_version = (root / "lib/prop/chair/version/chair_version_0001.mb").read_bytes()
    scene = tmp_path / "new.mb"
    scene.write_bytes(b"FOR4\x00\x00\x00\x08Mayanew!")
    p = ["--project", str(root)]
    saved = cli_json(*p, "workshop", "save", "asset/prop/chair", str(scene), "--note", "after")
    assert saved["version"] == 4
    assert saved["data"]["path"] == "lib/prop/chair/wip/chair_wip_0004.mb"
    mastered = cli_json(*p, "master", "asset/prop/chair", "--note", "new era")
    assert mastered["data"]["preserved_version"] == 2 and mastered["data"]["workshop"] == 4
    assert (root / "lib/prop/chair/version/chair_version_0002.mb").read_bytes() == old_master
    assert (root / "lib/prop/chair/version/chair_version_0001.mb").read_bytes() == old_version
    assert (root / "lib/prop/chair/chair_asset.mb").read_bytes() == scene.read_bytes()
    shown = cli_json(*p, "item", "show", "asset/prop/chair")
    assert [v["number"] for v in shown["versions"]] == [1, 2] and shown["uncommitted"] == []


def test_adopt_reads_legacy_times_as_local_time(tmp_path):
    """A note written at 17:05 local time in UTC+2 is stored as 15:05 UTC."""
    root, registry = _legacy(tmp_path)
    cli_json("project", "adopt", str(root), "--registry", str(registry), env={"TZ": "XXX-2"})
    table = _history(root, "asset/prop/table")
    assert table[3]["time"] == "2007-04-01T15:05:00+00:00"


def test_adopt_twice_is_refused_and_changes_nothing(tmp_path):
    """A second adopt says so in one sentence, exits 2 and adds no event."""
    root, registry = _legacy(tmp_path)
    _adopt(root, registry)
    before = _files(root)
    result = run_cli("project", "adopt", str(root), "--registry", str(registry), env=UTC)
    assert result.returncode == 2
    assert "already" in one_sentence(result.stderr)
    assert _files(root) == before


def test_adopt_run_again_after_a_crash_duplicates_nothing(tmp_path):
    """Adopt that died before the config and one item.json finishes without duplicate events."""
    root, registry = _legacy(tmp_path)
    _adopt(root, registry)
    events = sorted(p.name for p in root.rglob(".op/history/*.json"))
    (root / "openpipeline.yaml").unlink()
    (root / "lib/prop/table/.op/item.json").unlink()
    _adopt(root, registry)
    assert sorted(p.name for p in root.rglob(".op/history/*.json")) == events
    assert len(_history(root, "asset/prop/table")) == 4


def test_damaged_note_is_a_warning_and_the_rest_is_adopted(tmp_path):
    """A note with no closing tags and garbage are warned about, naming the file; others stay."""
    root, registry = _legacy(tmp_path)
    note = root / "lib/prop/table/notes/table_AssetNote.xml"
    with open(note, "a", encoding="utf-8", newline="") as handle:
        handle.write("\t<note>\n\t\t<author>carl</author>\n\t\t<date>04/02/2007</date>\n"
                     "\t\t<time>09:00:00</time>\n\t\t<event>wip</event>\n\t\t<comment>cut off")
    bad = root / "scenes/sq010/sh010/notes/sh010_SceneNote.xml"
    bad.write_bytes(b"\x00\xffgarbage<<<\n" + bad.read_bytes())
    summary = _adopt(root, registry)
    warnings = summary["warnings"]
    assert any(w.startswith("lib/prop/table/notes/table_AssetNote.xml: note 5") for w in warnings)
    assert any(w.startswith("scenes/sq010/sh010/notes/sh010_SceneNote.xml:") for w in warnings)
    assert [e["author"] for e in _history(root, "asset/prop/table")] == ["alice", "bob", "bob", "alice"]
    assert [e["event"] for e in _history(root, "shot/sq010/sh010")].count("master") == 3


def test_a_folder_that_is_not_a_legacy_project_is_refused(tmp_path):
    """No lib or scenes folder: one sentence, exit 2, nothing written."""
    folder = tmp_path / "notalegacy"
    (folder / "stuff").mkdir(parents=True)
    (folder / "readme.txt").write_text("hello")
    before = _files(folder)
    result = run_cli("project", "adopt", str(folder))
    assert result.returncode == 2
    assert "not an openPipeline project" in one_sentence(result.stderr)
    assert _files(folder) == before and sorted(p.name for p in folder.iterdir()) == [
        "readme.txt", "stuff"]


def test_registry_with_the_broken_header_gives_the_settings(tmp_path):
    """The registry (comment before <?xml ?>, raw & and <) is read for name, formats and folders."""
    spec = {**SPEC, "masterformat": "ma", "workshopformat": "ma", "libraryfolder": "library"}
    root, registry = _legacy(tmp_path, spec)
    with pytest.raises(ET.ParseError):
        ET.parse(registry)
    _adopt(root, registry)
    shown = cli_json("--project", str(root), "project", "show")
    assert (shown["name"], shown["description"], shown["deadline"]) == (
        "film", "Old & <loved> film", "2008-12-24")
    assert (shown["master_format"], shown["workshop_format"]) == ("ma", "ma")
    assert shown["users"] == ["alice", "bob"] and shown["folders"]["library"] == "library"
    assert shown["folders"]["workshop"] == "wip"
    chair = cli_json("--project", str(root), "item", "show", "asset/prop/chair")
    assert chair["workshops"][0]["path"] == "library/prop/chair/wip/chair_wip_0001.ma"


def test_a_registry_without_the_project_is_refused(tmp_path):
    """A registry that lists other projects only: one sentence naming them, nothing written."""
    root, _ = _legacy(tmp_path)
    other = tmp_path / "other" / "openPipeline_projects.xml"
    make_legacy_project(tmp_path / "elsewhere" / "commercial", other, {"name": "commercial"})
    before = _files(root)
    result = run_cli("project", "adopt", str(root), "--registry", str(other))
    assert result.returncode == 2
    assert "commercial" in one_sentence(result.stderr)
    assert _files(root) == before


def test_adopt_without_registry_infers_workshop_name_and_formats(tmp_path):
    """With no registry the workshop folder and the formats are read from the files."""
    spec = {**SPEC, "masterformat": "ma", "workshopformat": "ma"}
    root, _ = _legacy(tmp_path, spec)
    summary = _adopt(root)
    assert summary["project"] == "film" and summary["registry"] is None
    shown = cli_json("--project", str(root), "project", "show")
    assert shown["folders"]["workshop"] == "wip" and shown["master_format"] == "ma"
    chair = _history(root, "asset/prop/chair")
    assert [e["event"] for e in chair].count("master") == 2


def test_dry_run_reports_and_writes_nothing(tmp_path):
    """--dry-run prints the same counts and leaves the folder and our registry as they were."""
    root, registry = _legacy(tmp_path)
    before = _files(root)
    summary = _adopt(root, registry, "--dry-run")
    assert summary["dry_run"] is True and summary["items"] == 7
    assert _files(root) == before
    assert cli_json("project", "list") == []


def test_adopt_registers_the_project(tmp_path):
    """The adopted project is in our registry, under the legacy name."""
    root, registry = _legacy(tmp_path)
    _adopt(root, registry)
    assert [(r["name"], r["path"]) for r in cli_json("project", "list")] == [("film", str(root))]


def test_items_with_names_we_cannot_use_are_left_with_a_warning(tmp_path):
    """A legacy asset named '01chair' is not adopted; a warning names its folder."""
    spec = {**SPEC, "assets": {"prop": {"01chair": {"workshops": 1}, "lamp": {"workshops": 1}}}}
    root, registry = _legacy(tmp_path, spec)
    summary = _adopt(root, registry)
    assert any(w.startswith("lib/prop/01chair: not adopted") for w in summary["warnings"])
    listing = [r["item"] for r in cli_json("--project", str(root), "item", "list")]
    assert "asset/prop/lamp" in listing and not (root / "lib/prop/01chair/.op").exists()


def test_notes_parser_reads_crlf_and_notes_without_version():
    """CRLF files, a note without <version>, and a trailing unterminated note are read."""
    text = ("\t<note>\r\n\t\t<author></author>\r\n\t\t<date>01/02/2008</date>\r\n"
            "\t\t<time>9:05:00</time>\r\n\t\t<event>master</event>\r\n"
            "\t\t<comment>a & b\r\nc</comment>\r\n\t</note>\r\n"
            "\t<note>\n\t\t<author>x</author>\n\t\t<date>01/02/2008</date>\n"
            "\t\t<time>09:06:00</time>\n\t\t<event>workshop</event>\n\t\t<version>12</version>\n"
            "\t\t<comment>end</comment>\n")
    notes, warnings = formats.parse_notes(formats.decode(text.encode("cp1252")), "n.xml")
    assert [(n.author, n.event, n.version, n.comment) for n in notes] == [
        ("", "master", 0, "a & b\nc"), ("x", "workshop", 12, "end")]
    assert warnings == ["n.xml: note 2 has no closing </note>; read it anyway."]


def test_description_reads_as_openpipeline_showed_it(tmp_path):
    """info.xml: <br> is a newline, raw line breaks join, a created-only file is empty."""
    info = tmp_path / "info.xml"
    info.write_text("<!--x-->\n<?xml version=\"1.0\"?>\n<openPipeline_objectInfo>\n"
                    "<description>first<br>sec\nond & more\n</description>\n"
                    "</openPipeline_objectInfo>", encoding="utf-8")
    assert formats.read_description(info) == "first\nsecond & more"
    info.write_text("<openPipeline_objectInfo>\n\t\t<description>\n\t\t\t \n\t\t</description>\n")
    assert formats.read_description(info) == ""


def test_plan_is_read_only(tmp_path):
    """Planning an adoption reads the legacy files and writes nothing at all."""
    root, registry = _legacy(tmp_path)
    before = _files(tmp_path)
    plan = plan_adoption(root, registry=registry)
    assert plan.summary()["events"] > 0 and _files(tmp_path) == before
    assert json.loads(json.dumps(plan.summary()))["project"] == "film"


def test_missing_files_and_deleted_items_are_warned_about(tmp_path):
    """A workshop the history names but the disk lacks, and the deleted/ folder, give warnings."""
    spec = {**SPEC, "shots": {"sq010": {"sh020": {"workshops": 1, "deleted": True}}}}
    root, registry = _legacy(tmp_path, spec)
    (root / "lib/prop/table/wip/table_wip_0001.mb").unlink()
    warnings = _adopt(root, registry)["warnings"]
    assert any(w.startswith("lib/prop/table: the history names workshop(s) 1 ") for w in warnings)
    assert any(w.startswith("deleted/ holds 1 item(s) the original deleted (sh020_deleted_0)")
               for w in warnings)
    assert [w["number"] for w in cli_json("--project", str(root), "item", "show",
                                          "asset/prop/table")["workshops"]] == [1, 2]


def test_a_folder_name_we_cannot_use_needs_name(tmp_path):
    """Folder '2007_film' without a registry: refused in one sentence naming --name; --name works."""
    root = tmp_path / "2007_film"
    make_legacy_project(root, tmp_path / "reg" / "openPipeline_projects.xml",
                        {"name": "film", "assets": {"prop": {"cup": {"workshops": 1}}}})
    before = _files(root)
    result = run_cli("project", "adopt", str(root))
    assert result.returncode == 2 and "--name" in one_sentence(result.stderr)
    assert _files(root) == before
    assert _adopt(root, None, "--name", "film07")["project"] == "film07"
