"""Many real processes saving to the same item at once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.cli import REPO
from tests.helpers.files import maya_scene

WRITERS = 32


@pytest.mark.slow
def test_32_processes_saving_at_once_get_32_distinct_intact_versions(asset, project, tmp_path):
    """32 writers → 32 distinct versions, each file intact, 32 history events."""
    go = tmp_path / "go"
    sources = [maya_scene(tmp_path / f"src{i}.ma", f"writer-{i:02d}-", size=64 * 1024 + i)
               for i in range(WRITERS)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(REPO / "tests/helpers/saver.py"), str(project.root), str(go),
             str(src), f"writer {i}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        for i, src in enumerate(sources)
    ]
    go.touch()
    numbers = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        numbers.append(int(out.strip()))
    assert sorted(numbers) == list(range(1, WRITERS + 1))
    state = asset.state()
    assert sorted(state.workshops) == list(range(1, WRITERS + 1))
    contents = {src.read_bytes() for src in sources}
    found = set()
    for number, entry in state.workshops.items():
        data = entry.path.read_bytes()
        assert data in contents, f"workshop {number} is not an intact copy of any source"
        found.add(data)
        writer = int(entry.event.comment.split()[1])
        assert data == sources[writer].read_bytes(), "workshop holds another writer's file"
    assert len(found) == WRITERS
    workshop_events = [e for e in asset.events() if e.event == "workshop"]
    assert len(workshop_events) == WRITERS
    assert asset.uncommitted() == []
