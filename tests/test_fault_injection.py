"""Fault injection: every multi-step operation, failed at every step, loses nothing.

``OPENPIPELINE_FAULT=<checkpoint>`` kills the real CLI with SIGKILL there;
``<checkpoint>:ENOSPC`` (any errno name) raises that error there and
``<checkpoint>:raise`` a ``RuntimeError``. For each operation × checkpoint ×
failure: the command is killed, or exits non-zero with one sentence having changed
no file; afterwards
``item list``, ``item show``, a new ``workshop save`` and a ``master`` work; every
payload reported saved is still there, intact; no journal is left or set aside;
nothing outside the project changed. Errors are injected into the CLI run in
this process (so a journal left with a live pid would be caught); kills need a
process of their own.

Set ``FAULT_MATRIX_OUT=<file>`` to append one JSON line per case (operation,
checkpoint, failure, exit code, whether the operation took effect).
"""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest

from openpipeline.cli import main
from openpipeline.core import ItemRef, Project, archive, removal, versions
from tests.helpers.cli import one_sentence, run_cli
from tests.helpers.files import maya_scene, snapshot

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform.startswith("win"), reason="uses SIGKILL")]

ITEM = "asset/prop/a"
FAILURES = ["kill", "raise", "ENOSPC", "EACCES", "EXDEV"]
OPERATIONS = {
    "save": (["workshop", "save", ITEM, "{payload}", "--note", "faulty"],
             ["workshop.claimed", "workshop.staged", "workshop.journaled", "workshop.before-move",
              "workshop.step0", "workshop.before-event"]),
    "master": (["master", ITEM, "--workshop", "3", "--note", "faulty"],
               ["master.staged", "master.preserved", "master.before-replace", "master.step1",
                "master.before-event"]),
    "archive": (["archive", ITEM, "--keep", "1"],
                ["archive.journaled", "archive.step0", "archive.before-event"]),
    "retrieve": (["retrieve", ITEM], ["retrieve.journaled", "retrieve.step0", "retrieve.before-event"]),
    "delete": (["delete", ITEM], ["delete.journaled", "delete.before-move", "delete.step0",
                                  "delete.before-event"]),
    "restore": (["restore", ITEM], ["restore.journaled", "restore.step0", "restore.before-event"]),
    "rename": (["item", "rename", ITEM, "b"], ["rename.journaled", "rename.step0",
                                               "rename.before-event"]),
}
CASES = [(op, point, failure) for op, (_args, points) in OPERATIONS.items()
         for point in points for failure in FAILURES]


def _cli(monkeypatch, capsys, *args, fault=None):
    """Run the real CLI in this process; returns (exit code, stdout, stderr)."""
    if fault:
        monkeypatch.setenv("OPENPIPELINE_FAULT", fault)
    try:
        code = main(["--json", *args])
    finally:
        monkeypatch.delenv("OPENPIPELINE_FAULT", raising=False)
    out, err = capsys.readouterr()
    return code, out, err


def _setup(tmp_path, op):
    """asset/prop/a with workshops 1-3, mastered from 1 then 2; archived or deleted as ``op`` needs."""
    sources = tmp_path / "sources"
    sources.mkdir()
    project = Project.create(tmp_path / "p", "p")
    item = project.create_item(ItemRef.parse(ITEM))
    payloads = {}
    for n in (1, 2, 3):
        source = maya_scene(sources / f"w{n}.ma", f"work{n}-", size=20_000 + n)
        versions.save_workshop(item, source, note=f"w{n}")
        payloads[n] = source.read_bytes()
    versions.master(item, 1, note="m1")
    versions.master(item, 2, note="m2")
    if op == "retrieve":
        archive.archive(item, keep=1)
    if op == "restore":
        removal.delete(item)
    maya_scene(sources / "faulty.ma", "faulty-", size=30_000)
    maya_scene(sources / "later.ma", "later-", size=10_000)
    return project, payloads, sources


def _fail(monkeypatch, capsys, project, sources, op, fault):
    """Run ``op`` failing at ``fault``; returns its exit code (negative: killed)."""
    args = [a.replace("{payload}", str(sources / "faulty.ma")) for a in OPERATIONS[op][0]]
    if fault.partition(":")[2] == "kill":
        result = run_cli("--project", str(project.root), *args, env={"OPENPIPELINE_FAULT": fault})
        assert result.returncode == -signal.SIGKILL, result.stderr
        return result.returncode
    code, _out, err = _cli(monkeypatch, capsys, *args, fault=fault)
    assert code != 0, "the injected fault did not fail the command"
    one_sentence(err)
    if fault.partition(":")[2] != "raise":
        assert code == 2, err
    return code


def _files(root):
    """Every file (size, mtime) under ``root``; folders left out (undoing a move may leave one)."""
    return {path: state for path, state in snapshot(root).items() if state[0] != -1}


def _address_after(monkeypatch, capsys):
    """List the items (rolling forward what a kill left); restore the item if it lies deleted."""
    code, out, err = _cli(monkeypatch, capsys, "item", "list")
    assert code == 0, err
    listed = [row["item"] for row in json.loads(out)]
    for address in (ITEM, "asset/prop/b"):
        if address in listed:
            return address, False
    code, _out, err = _cli(monkeypatch, capsys, "restore", ITEM)
    assert code == 0, err
    return ITEM, True


def _payloads_intact(project, shown, payloads, sources):
    """Workshops 1-3 hold their bytes wherever they lie; a fourth is the faulty save, whole."""
    by_number = {row["number"]: row for row in shown["workshops"]}
    for number, data in payloads.items():
        assert (project.root / by_number[number]["path"]).read_bytes() == data, number
    if 4 in by_number:
        assert (project.root / by_number[4]["path"]).read_bytes() == (sources / "faulty.ma").read_bytes()
    versions_by_number = {row["number"]: row for row in shown["versions"]}
    assert (project.root / versions_by_number[1]["path"]).read_bytes() == payloads[1]
    master = project.root / shown["master"]["path"]
    assert master.read_bytes() == payloads[shown["master"]["workshop"]]


@pytest.mark.parametrize(("op", "point", "failure"), CASES,
                         ids=[f"{op}-{point}-{failure}" for op, point, failure in CASES])
def test_a_failed_step_leaves_the_project_usable_and_loses_nothing(tmp_path, monkeypatch, capsys,
                                                                   op, point, failure):
    """The operation fails at the checkpoint; afterwards every command works and every payload is whole."""
    project, payloads, sources = _setup(tmp_path, op)
    monkeypatch.setenv("OPENPIPELINE_PROJECT", str(project.root))
    outside = snapshot(sources)
    files_before = _files(project.root)
    code = _fail(monkeypatch, capsys, project, sources, op, f"{point}:{failure}")
    if failure != "kill":
        assert _files(project.root) == files_before, "a refused operation changed files"
    address, restored = _address_after(monkeypatch, capsys)
    code_show, out, err = _cli(monkeypatch, capsys, "item", "show", address)
    assert code_show == 0, err
    shown = json.loads(out)
    _payloads_intact(project, shown, payloads, sources)
    if failure != "kill":
        assert shown["uncommitted"] == []
    journal = project.meta / "journal"
    assert not list(journal.glob("*.json"))
    assert not (journal / "set-aside").exists()
    saved_code, out, err = _cli(monkeypatch, capsys, "workshop", "save", address,
                                str(sources / "later.ma"), "--note", "after")
    assert saved_code == 0, err
    number = json.loads(out)["version"]
    master_code, out, err = _cli(monkeypatch, capsys, "master", address, "--workshop", str(number),
                                 "--note", "after")
    assert master_code == 0, err
    assert (project.root / json.loads(out)["data"]["path"]).read_bytes() == (
        sources / "later.ma").read_bytes()
    assert snapshot(sources) == outside
    _record(op, point, failure, code, _took_effect(op, shown, address, restored))


def _took_effect(op, shown, address, restored):
    """Whether the failed operation ended up done (rolled forward) or not (undone)."""
    workshops = {row["number"]: row["state"] for row in shown["workshops"]}
    return {
        "save": 4 in workshops,
        "master": shown["master"]["workshop"] == 3,
        "archive": "archived" in workshops.values(),
        "retrieve": "archived" not in workshops.values(),
        "delete": restored,
        "restore": not restored,
        "rename": address == "asset/prop/b",
    }[op]


def _record(op, point, failure, code, done):
    out = os.environ.get("FAULT_MATRIX_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"op": op, "point": point, "failure": failure, "code": code,
                                     "done": done}) + "\n")
