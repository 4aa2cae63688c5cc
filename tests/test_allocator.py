"""The engine's own processes keep freed memory (openpipeline.engine.allocator): measured in
fresh processes by the page faults a loop of big tensors makes, not by time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from openpipeline.engine.allocator import OPT_OUT_ENV
from tests.helpers.cli import REPO

# 30 tensors of 40 MB made, written and dropped: above glibc's largest self-raised mmap
# threshold (32 MB) every one is a fresh mapping, page-faulted in (10,240 faults of 4 KB
# each); below ours most of them reuse the heap (a quarter of the faults or fewer here).
PROBE = """
import json, resource, sys, torch
from openpipeline.engine.allocator import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "tune" else None
torch.ones(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30):
    block = torch.empty(10 << 20)  # 40 MB of float32
    block.fill_(1.0)
    del block
print(json.dumps({"tuned": tuned, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def _probe(mode: str, **env: str) -> dict[str, object]:
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith("MALLOC_") and key != OPT_OUT_ENV}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, cwd=REPO,
                          env={**clean, **env}, timeout=120, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings: Linux only")
def test_a_process_of_ours_reuses_freed_memory_instead_of_faulting_it_in_again():
    """Tuned, the loop page-faults under half of what it does with the system's
    settings; the opt-out variable and any MALLOC_* variable of the user's leave malloc
    alone (and it faults as much as untuned)."""
    untuned = _probe("plain")
    tuned = _probe("tune")
    assert tuned["tuned"] is True
    assert isinstance(untuned["faults"], int) and isinstance(tuned["faults"], int)
    assert untuned["faults"] > 30 * 5000  # ~10,240 a tensor: the probe measures what it means to
    assert tuned["faults"] < untuned["faults"] / 2
    for env in ({OPT_OUT_ENV: "1"}, {"MALLOC_ARENA_MAX": "2"}):
        left = _probe("tune", **env)
        assert left["tuned"] is False
        assert isinstance(left["faults"], int) and left["faults"] > untuned["faults"] / 2


def test_the_command_line_worker_and_farm_task_set_it_first(monkeypatch, tmp_path):
    """The command line, the Maya node's worker and the farm task each set it before their
    work, even work that then fails on bad input; importing the engine (as Maya does) does
    not (the untuned probe above imports it too)."""
    import io

    import openpipeline.cli as cli
    import openpipeline.engine.worker as worker
    import openpipeline.farm.task as task

    calls: list[str] = []
    for module in (cli, worker, task):
        monkeypatch.setattr(module, "keep_freed_memory",
                            lambda name=module.__name__: calls.append(name) or True)
    assert cli.main(["texture", "predict", str(tmp_path / "missing.png")]) != 0
    assert worker.main(io.StringIO("not json"), io.StringIO()) == 2
    assert task.main([str(tmp_path / "missing.json"), "0"]) != 0
    assert calls == ["openpipeline.cli", "openpipeline.engine.worker", "openpipeline.farm.task"]
