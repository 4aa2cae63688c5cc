"""Farm jobs that really run the engine: the local back end, `openjd run`, items, resume after a kill.

Tiny images (32 px) and a few iterations keep each task to seconds; all are marked slow.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from openpipeline.core import ItemRef, Project
from tests.helpers.cli import REPO, run_cli

pytestmark = pytest.mark.slow
OPENJD = Path(sys.executable).with_name("openjd")
FAST = ["--max-iterations", "4", "--tile", "96", "--threads", "1"]  # one thread: the same bits anywhere


def _image(path: Path, size: int = 32, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (np.random.default_rng(seed).random((size, size, 3)) * 255).astype("uint8")
    Image.fromarray(pixels).save(path)
    return path


def _textures(folder: Path, count: int) -> Path:
    for i in range(count):
        _image(folder / f"t{i}.png", seed=i)
    return folder


@pytest.fixture
def farm_env(tmp_path):
    """Each test's own state folder, result cache and calibration folder."""
    return {"OPENPIPELINE_FARM_STATE": str(tmp_path / "state"), "OPENPIPELINE_CACHE": str(tmp_path / "cache"),
            "XDG_CACHE_HOME": str(tmp_path / "xdg")}


def _submit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli("--json", "farm", "submit", *args, env=env)


def test_a_local_job_restores_a_folder_and_a_rerun_reuses_every_result(tmp_path, farm_env):
    """Two textures run in worker processes; the same command again computes nothing, and
    `farm status` shows both jobs."""
    tex = _textures(tmp_path / "tex", 2)
    first = _submit("texture-denoise", str(tex), str(tmp_path / "out"), "--workers", "2", *FAST, env=farm_env)
    assert first.returncode == 0, first.stderr
    state = json.loads(first.stdout)
    assert state["counts"]["done"] == 2 and state["state"] == "done"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["t0.png", "t1.png"]
    again = _submit("texture-denoise", str(tex), str(tmp_path / "again"), *FAST, env=farm_env)
    assert json.loads(again.stdout)["counts"] == {**state["counts"], "done": 0, "reused": 2}
    for name in ("t0.png", "t1.png"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    status = run_cli("--json", "farm", "status", env=farm_env)
    assert [job["state"] for job in json.loads(status.stdout)] == ["done", "done"]
    one = run_cli("farm", "status", state["id"], env=farm_env)
    assert "2 ran, 0 reused, 0 failed" in one.stdout


def test_openjd_run_gives_the_same_bits_as_the_local_back_end(tmp_path, farm_env):
    """The exported template passes `openjd check`, runs with plain `openjd run` (its own cache),
    and its outputs equal the local run's byte for byte."""
    tex = _textures(tmp_path / "tex", 2)
    local = _submit("texture-denoise", str(tex), str(tmp_path / "local"), *FAST, env=farm_env)
    assert local.returncode == 0, local.stderr
    written = _submit("texture-denoise", str(tex), str(tmp_path / "farm"), "--backend", "openjd",
                      "--out", str(tmp_path / "job"), "--cache", str(tmp_path / "farm-cache"), *FAST,
                      env=farm_env)
    assert written.returncode == 0, written.stderr
    template = tmp_path / "job" / "job.template.yaml"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OPENPIPELINE_CACHE")}
    check = subprocess.run([str(OPENJD), "check", str(template)], capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stdout
    run = subprocess.run([str(OPENJD), "run", str(template)], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert list((tmp_path / "farm-cache" / "texture").iterdir())  # the farm computed them itself
    for name in ("t0.png", "t1.png"):
        assert (tmp_path / "farm" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_a_failing_openjd_task_fails_the_run(tmp_path, farm_env):
    """A task whose input vanished after export makes `openjd run` exit non-zero."""
    tex = _textures(tmp_path / "tex", 1)
    written = _submit("texture-denoise", str(tex), str(tmp_path / "farm"), "--backend", "openjd",
                      "--out", str(tmp_path / "job"), *FAST, env=farm_env)
    assert written.returncode == 0, written.stderr
    (tex / "t0.png").unlink()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([str(OPENJD), "run", str(tmp_path / "job" / "job.template.yaml")],
                         capture_output=True, text=True, env={**env, **farm_env}, timeout=300)
    assert run.returncode != 0
    assert "Cannot read" in run.stdout + run.stderr


def test_a_failing_task_is_retried_once_and_named_in_the_summary(tmp_path, farm_env, monkeypatch):
    """A task that cannot deliver (its output folder is a file) fails twice; the job exits 1,
    the other task is done, and the summary names the failed one."""
    tex = _textures(tmp_path / "tex", 2)
    job = _submit("texture-denoise", str(tex), str(tmp_path / "out"), "--backend", "openjd",
                  "--out", str(tmp_path / "job"), *FAST, env=farm_env)
    assert job.returncode == 0
    data = json.loads((tmp_path / "job" / "job.json").read_text())
    (tmp_path / "blocker").write_text("a file, not a folder")
    data["tasks"][1]["output"] = str(tmp_path / "blocker" / "t1.png")
    from openpipeline.farm.local import LocalRunner, summary_text
    from openpipeline.farm.model import parse_job

    for name, value in farm_env.items():
        monkeypatch.setenv(name, value)

    runner = LocalRunner(parse_job(data), tmp_path / "state" / "job1")
    state = runner.run()
    assert state.state == "failed"
    assert [(t.state, t.attempts) for t in state.tasks] == [("done", 1), ("failed", 2)]
    assert "failed: t1.png: Task failed" in summary_text(state)
    status = run_cli("farm", "status", "job1", env=farm_env)
    assert "1 ran, 0 reused, 1 failed" in status.stdout


def _wait_for(predicate, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _states(folder: Path) -> list[str]:
    try:
        return [t["state"] for t in json.loads(next(folder.glob("*/state.json")).read_text())["tasks"]]
    except (StopIteration, ValueError, OSError):
        return []


def test_a_killed_local_job_resumes_without_recomputing_finished_tasks(tmp_path, farm_env):
    """SIGTERM half-way: the job stops (exit 130, cancelled, no half-written output); the same command
    again reuses the finished tasks and computes only the rest."""
    tex = _textures(tmp_path / "tex", 3)
    env = {**os.environ, **farm_env}
    command = [sys.executable, "-m", "openpipeline", "farm", "submit", "texture-denoise", str(tex),
               str(tmp_path / "out"), "--max-iterations", "60", "--tile", "96"]
    first = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    _wait_for(lambda: "done" in _states(tmp_path / "state"))
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    finished = _states(tmp_path / "state").count("done")
    assert "cancelled" in _states(tmp_path / "state") and 1 <= finished < 3
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    again = subprocess.run([*command[:3], "--json", *command[3:]], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=300)
    counts = json.loads(again.stdout)["counts"]
    assert counts["reused"] == finished and counts["done"] == 3 - finished, again.stderr


def test_an_items_textures_come_back_as_workshops_with_provenance(tmp_path, farm_env):
    """`farm submit texture-denoise asset/...`: each texture of the item's textures folder becomes a
    numbered texture workshop; the history records the source's sha256, the parameters and the key;
    the same job again adds nothing, other parameters add the next workshop."""
    import hashlib

    project = Project.create(tmp_path / "proj", "demo")
    chair = project.create_item(ItemRef.parse("asset/prop/chair"))
    source = _image(chair.path / "textures" / "wood.png")
    env = {**farm_env, "OPENPIPELINE_PROJECT": str(project.root)}
    for seed in ("0", "0", "1"):
        result = _submit("texture-denoise", "asset/prop/chair", *FAST, "--seed", seed, env=env)
        assert result.returncode == 0, result.stderr
    workshop = chair.path / "textures" / "workshop"
    assert sorted(p.name for p in workshop.iterdir()) == ["wood_workshop_0001.png", "wood_workshop_0002.png"]
    events = [e for e in project.item("asset/prop/chair").events() if e.event == "farm-result"]
    assert [e.version for e in events] == [1, 2]
    data = events[0].data.to_dict()
    assert data["path"] == "lib/prop/chair/textures/workshop/wood_workshop_0001.png"
    assert data["inputs"] == [["", hashlib.sha256(source.read_bytes()).hexdigest()]]
    assert data["params"]["max_iterations"] == 4 and data["operation"] == "denoise" and len(data["key"]) == 64


def test_scatter_runs_as_a_farm_job_locally_and_under_openjd(tmp_path, farm_env):
    """A folder of meshes gives one points file per mesh; `openjd run` of the same job (its own
    cache) writes the same bytes."""
    mesh = tmp_path / "meshes" / "quad.obj"
    mesh.parent.mkdir()
    mesh.write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
                    "f 1/1 2/2 3/3\nf 1/1 3/3 4/4\n")
    result = _submit("scatter", str(mesh.parent), str(tmp_path / "points"), "--count", "40", env=farm_env)
    assert result.returncode == 0, result.stderr
    points = np.load(tmp_path / "points" / "quad.npz")
    assert points["positions"].shape == (40, 3)
    written = _submit("scatter", str(mesh.parent), str(tmp_path / "farm"), "--count", "40", "--backend",
                      "openjd", "--out", str(tmp_path / "job"), "--cache", str(tmp_path / "farm-cache"),
                      env=farm_env)
    assert written.returncode == 0, written.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OPENPIPELINE_CACHE")}
    run = subprocess.run([str(OPENJD), "run", str(tmp_path / "job" / "job.template.yaml")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    assert (tmp_path / "farm" / "quad.npz").read_bytes() == (tmp_path / "points" / "quad.npz").read_bytes()


def test_a_udim_set_is_one_task_and_its_paths_are_remapped_for_a_windows_farm(tmp_path, farm_env):
    """In a project with per-OS roots, a UDIM set in a folder becomes one task whose job.json,
    written for a Windows farm, names Windows paths under the Windows root (the project's cache too)."""
    project = Project.create(tmp_path / "proj", "demo")
    project.edit(roots={"linux": str(project.root), "windows": "P:\\film"})
    tex = project.root / "textures" / "set"
    for tile in (1001, 1002):
        _image(tex / f"wood.{tile}.png", seed=tile)
    env = {**farm_env, "OPENPIPELINE_PROJECT": str(project.root)}
    result = _submit("texture-denoise", str(tex), str(project.root / "renders" / "out"), "--backend",
                     "deadline", "--out", str(project.root / "jobs" / "j1"), "--farm-os", "windows", *FAST,
                     env=env)
    assert result.returncode == 0, result.stderr
    job = json.loads((project.root / "jobs" / "j1" / "job.json").read_text())
    assert [t["name"] for t in job["tasks"]] == ["wood.<UDIM>.png"]
    assert job["tasks"][0]["job"]["source"] == "P:\\film\\textures\\set\\wood.<UDIM>.png"
    assert job["tasks"][0]["output"] == "P:\\film\\renders\\out\\wood.<UDIM>.png"
    assert job["python"] == "python"
    assert job["cache"] == "P:\\film\\.openpipeline\\cache"  # the project's shared cache, remapped
    plugin = (project.root / "jobs" / "j1" / "plugin_info.job").read_text()
    assert "Arguments=-m openpipeline.farm.task P:\\film\\jobs\\j1\\job.json <STARTFRAME>" in plugin
    local = _submit("texture-denoise", str(tex), str(tmp_path / "out"), *FAST, env=env)
    assert local.returncode == 0, local.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["wood.1001.png", "wood.1002.png"]


def test_a_local_job_with_an_unreadable_texture_exits_1_and_names_it(tmp_path, farm_env):
    """One good texture and one damaged file: the good one is restored, the job exits 1 and its one
    sentence names the damaged file (a bad input is not retried)."""
    tex = _textures(tmp_path / "tex", 1)
    (tex / "broken.png").write_bytes(b"not a png at all")
    result = run_cli("farm", "submit", "texture-denoise", str(tex), str(tmp_path / "out"), *FAST,
                     env=farm_env)
    assert result.returncode == 1
    assert "1 ran, 0 reused, 1 failed" in result.stderr and "failed: broken.png:" in result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["t0.png"]
    state = json.loads(next((tmp_path / "state").glob("*/state.json")).read_text())
    assert [(t["name"], t["state"], t["attempts"]) for t in state["tasks"]] == [("broken.png", "failed", 1),
                                                                               ("t0.png", "done", 1)]
