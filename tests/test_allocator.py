"""The engine's own processes keep freed memory (openpipeline.engine.allocator): measured in
fresh processes by the page faults an engine fill makes, not by time."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from openpipeline.engine.allocator import OPT_OUT_ENV
from tests.helpers.cli import REPO

# Twenty DCT-thresholding steps of a 128² colour fill (the engine's own work), counted in
# page faults after a warm-up; transparent huge pages off in the probe (with them on, every
# fault maps 2 MB and the counts say little).
PROBE = """
import ctypes, json, resource, sys, torch
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE
from openpipeline.engine.allocator import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "tune" else None
torch.set_num_threads(1)
from openpipeline.engine.texture.sparse_fill import FillChoice, inpaint_fill
image = torch.rand((1, 3, 128, 128), generator=torch.Generator().manual_seed(0))
known = (torch.rand((1, 1, 128, 128), generator=torch.Generator().manual_seed(1)) > 0.3).float()
inpaint_fill(image, known, FillChoice(2))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
inpaint_fill(image, known, FillChoice(20))
print(json.dumps({"tuned": tuned, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def _probe(mode: str, **env: str) -> dict[str, object]:
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith("MALLOC_") and key not in (OPT_OUT_ENV, "GLIBC_TUNABLES")}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, cwd=REPO,
                          env={**clean, **env}, timeout=120, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc settings: glibc Linux only")
def test_a_process_of_ours_reuses_freed_memory_instead_of_faulting_it_in_again():
    """Tuned, the fill page-faults a small fraction of what it does with the system's
    settings (here 1.6 k against 50 k); the opt-out variable and a user's own setting of the
    same knobs (an environment variable or a glibc tunable) leave malloc alone (faults far
    above the tuned count), an unrelated one (the arena count) does not."""
    untuned = _probe("plain")
    tuned = _probe("tune")
    assert tuned["tuned"] is True
    assert isinstance(untuned["faults"], int) and isinstance(tuned["faults"], int)
    # The probe measures what it means to: 46–48 k untuned on an idle machine, but 9.3 k once in
    # a CI run beside other heavy processes (a floor of 10 k failed there); the ratio below is
    # the claim, this floor only rules out a probe that barely faults at all.
    assert untuned["faults"] > 4_000
    assert tuned["faults"] < untuned["faults"] / 4
    for env in ({OPT_OUT_ENV: "1"}, {"MALLOC_TRIM_THRESHOLD_": "131072"},
                {"GLIBC_TUNABLES": "glibc.malloc.top_pad=0"}):
        left = _probe("tune", **env)
        assert left["tuned"] is False, env
        # Against the tuned count, not the untuned one: untuned counts vary 2–3× between
        # processes on a loaded machine (51.9 k and 20.9 k in one CI run), tuned ones stay ~30× lower.
        assert isinstance(left["faults"], int) and left["faults"] > 4 * tuned["faults"], env
    assert _probe("tune", MALLOC_ARENA_MAX="2")["tuned"] is True


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
