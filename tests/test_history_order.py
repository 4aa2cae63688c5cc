"""An item's history is in the order its events were written, whatever the hosts' clocks say."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from openpipeline.core import versions
from openpipeline.core.events import parse_event
from openpipeline.core.fsutil import dump_json
from tests.helpers.cli import REPO, cli_json, run_cli
from tests.helpers.files import maya_scene

# The real command in a process whose clock runs ``sys.argv[1]`` seconds ahead.
SKEWED_CLI = (
    "import sys, time\n"
    "skew = float(sys.argv[1])\n"
    "ns, s = time.time_ns, time.time\n"
    "time.time_ns = lambda: ns() + int(skew * 1e9)\n"
    "time.time = lambda: s() + skew\n"
    "from openpipeline.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def _run_skewed(seconds: float, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SKEWED_CLI, str(seconds), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def test_a_fast_clock_on_one_host_does_not_reorder_masters(asset, project, tmp_path):
    """A master made on a host 120 s fast, then one made elsewhere: the later one is the master."""
    for n in (1, 2):
        versions.save_workshop(asset, maya_scene(tmp_path / f"w{n}.ma", f"body-{n}"), note=f"w{n}")
    p = ["--project", str(project.root)]
    fast = _run_skewed(120.0, *p, "master", "asset/prop/chair", "--workshop", "1", "--note", "fast host")
    assert fast.returncode == 0, fast.stderr
    assert run_cli(*p, "master", "asset/prop/chair", "--workshop", "2", "--note", "slow host").returncode == 0
    shown = cli_json(*p, "item", "show", "asset/prop/chair")
    assert "body-2" in asset.master_path.read_text()
    assert shown["master"]["workshop"] == 2 and shown["master"]["comment"] == "slow host"
    history = cli_json(*p, "item", "history", "asset/prop/chair")
    assert [e["comment"] for e in history if e["event"] == "master"] == ["fast host", "slow host"]


def test_events_written_by_concurrent_processes_get_distinct_sequence_numbers(asset, project):
    """Eight processes describing one item at once: eight events, eight different sequences."""
    p = ["--project", str(project.root)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda n: run_cli(*p, "item", "describe", "asset/prop/chair", f"text {n}"), range(8)))
    assert all(result.returncode == 0 for result in results), [r.stderr for r in results]
    seqs = [event.seq for event in asset.events()]
    assert len(seqs) == 9 and None not in seqs and len(set(seqs)) == 9
    assert seqs == sorted(seqs)


def _strip_sequences(folder):
    """Make every event file look as one written before sequences existed."""
    for path in folder.iterdir():
        record = json.loads(path.read_text())
        record.pop("seq", None)
        path.write_bytes(dump_json(record))


def test_events_without_a_sequence_still_read_in_time_order(asset, tmp_path):
    """History written before sequences existed reads in file-name (time) order, as before."""
    for n in (1, 2):
        versions.save_workshop(asset, maya_scene(tmp_path / f"w{n}.ma", f"body-{n}"), note=f"w{n}")
        versions.master(asset, n, note=f"m{n}")
    _strip_sequences(asset.meta / "history")
    events = asset.events()
    assert [e.seq for e in events] == [None] * 5
    assert [e.file for e in events] == sorted(p.name for p in (asset.meta / "history").iterdir())
    assert asset.state().master.data.workshop == 2


def test_events_without_a_sequence_come_before_those_with_one(asset, tmp_path):
    """An old item's unsequenced history comes first, then what newer versions wrote."""
    versions.save_workshop(asset, maya_scene(tmp_path / "w1.ma", "one"), note="w1")
    _strip_sequences(asset.meta / "history")
    late = asset.meta / "history" / "00000000000000000001-describe-000000000000.json"
    record = {**asset.events()[0].to_dict(), "event": "describe", "data": {}, "file": late.name,
              "id": "0" * 32, "seq": 1}
    late.write_bytes(dump_json(record))
    assert [e.event for e in asset.events()] == ["created", "workshop", "describe"]


def test_an_old_event_file_without_a_sequence_parses_and_writes_back_the_same_bytes():
    """The JSON of an event written before sequences existed still parses, byte for byte."""
    old = {"author": "alice", "comment": "w1", "data": {"path": "lib/prop/chair/w.ma",
           "size": 3, "source": ""}, "event": "workshop", "file": "00000000000000000001-w.json",
           "host": "ws1", "id": "a" * 32, "item": "asset/prop/chair", "pid": 7, "schema": 1,
           "time": "2026-01-01T00:00:00+00:00", "version": 1}
    event = parse_event(old, "old.json")
    assert event.seq is None and dump_json(event.to_dict()) == dump_json(old)
