"""A journal record can only ever touch the project it lies in.

Anyone who can write to a project can drop a record into ``.openpipeline/journal``;
the next command anybody runs rolls it forward. A record whose paths are absolute,
climb out with ``..`` or lead out through a symbolic link must change nothing
outside the project: it is set aside with a note, and the command works.
"""

from __future__ import annotations

import pytest

from openpipeline.core.fsutil import dump_json
from tests.helpers.cli import cli_json, run_cli
from tests.helpers.files import snapshot

EVENT = {"schema": 1, "id": "0" * 32, "event": "describe", "item": "asset/prop/a",
         "time": "2026-01-01T00:00:00Z", "author": "x", "host": "x", "pid": 1, "version": None,
         "comment": "", "data": {"text": "x"}, "file": "00000000000000000001-describe-x.json"}


def _steps(kind, outside):
    """The hostile steps of each kind, aimed at the folder ``outside``."""
    return {
        "replace-absolute": [{"replace": ["scripts/.x.tmp-000000000000.sh", f"{outside}/.bashrc"]}],
        "write-json-absolute": [{"write_json": [f"{outside}/planted.json", {}]}],
        "move-dotdot": [{"move": ["../outside/victim", "lib/stolen"]}],
        "write-json-through-link": [{"write_json": ["scripts/link/planted.json", {}]}],
        "event-through-link": [{"event": ["scripts/link/.op", EVENT]}],
        "replace-through-link": [{"replace": ["scripts/.x.tmp-000000000000.sh", "scripts/link/.bashrc"]}],
    }[kind]


@pytest.mark.parametrize("kind", ["replace-absolute", "write-json-absolute", "move-dotdot",
                                  "write-json-through-link", "event-through-link",
                                  "replace-through-link"])
def test_a_journal_record_leading_outside_the_project_changes_nothing_there(tmp_path, kind):
    """A hostile journal record is set aside; nothing outside the project is created, moved or replaced."""
    root = tmp_path / "p"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".bashrc").write_text("mine\n")
    (outside / "victim").mkdir()
    (outside / "victim" / "work.ma").write_text("work\n")
    assert run_cli("project", "create", "p", "--root", str(root)).returncode == 0
    env = {"OPENPIPELINE_PROJECT": str(root)}
    assert run_cli("asset", "create", "prop", "a", env=env).returncode == 0
    (root / "scripts" / ".x.tmp-000000000000.sh").write_text("evil\n")
    (root / "scripts" / "link").symlink_to(outside)
    journal = root / ".openpipeline" / "journal"
    journal.mkdir(exist_ok=True)
    record = journal / "00000000000000000001-master-000000000000.json"
    record.write_bytes(dump_json({"op": "master", "pid": -1, "host": "elsewhere", "time": 0.0,
                                  "steps": _steps(kind, outside)}))
    before = snapshot(outside)
    listed = cli_json("item", "list", env=env)
    assert [row["item"] for row in listed] == ["asset/prop", "asset/prop/a"]
    assert snapshot(outside) == before
    assert (outside / ".bashrc").read_text() == "mine\n"
    assert not record.exists()
    assert (journal / "set-aside" / record.name).is_file()
    assert (journal / "set-aside" / record.with_suffix(".txt").name).read_text().strip()
    assert cli_json("item", "show", "asset/prop/a", env=env)["item"] == "asset/prop/a"
