"""The farm's job model, inputs, path remapping and job files, without running the engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from openpipeline.farm.backends import (
    deadline_files,
    opencue_xml,
    openjd_template,
    remapped,
    write_deadline,
    write_openjd,
)
from openpipeline.farm.estimate import default_model, runtime_model, texture_estimate, timeout_seconds
from openpipeline.farm.inputs import mask_for, texture_sources
from openpipeline.farm.local import parse_state
from openpipeline.farm.model import FarmJob, FarmJobError, FarmTask, parse_job, read_job
from openpipeline.farm.remap import remap_fields, remap_path
from tests.helpers.cli import REPO, one_sentence, run_cli
from tests.helpers.files import snapshot

OPENJD = Path(sys.executable).with_name("openjd")
ROOTS = {"windows": "P:\\show", "linux": "/mnt/show", "darwin": "/Volumes/show"}


def _image(path: Path, size: int = 32, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (np.random.default_rng(seed).random((size, size, 3)) * 255).astype("uint8")
    Image.fromarray(pixels).save(path)
    return path


def _job(count: int = 3, seconds: float | None = 20.0, python: str = "python") -> FarmJob:
    tasks = tuple(FarmTask(f"t{i}.png", {"kind": "texture", "source": f"/mnt/show/tex/t{i}.png"}, "ab" * 32,
                           f"/mnt/show/out/t{i}.png", seconds=seconds, memory=3 * 2**30)
                  for i in range(count))
    return FarmJob("op-texture-denoise-tex", "texture-denoise", tasks, python=python)


# -- paths ----------------------------------------------------------------------------------
def test_a_windows_path_under_the_project_root_is_remapped_for_linux():
    """A path under the Windows root lands under the Linux root with forward slashes."""
    assert remap_path("P:\\show\\lib\\prop\\wood.png", ROOTS, "linux") == "/mnt/show/lib/prop/wood.png"


def test_windows_roots_match_without_case_and_posix_paths_map_back():
    """Drive letters and folder names compare without case; a Linux path maps to Windows."""
    assert remap_path("p:\\SHOW\\a.png", ROOTS, "darwin") == "/Volumes/show/a.png"
    assert remap_path("/mnt/show/a/b.png", ROOTS, "windows") == "P:\\show\\a\\b.png"


def test_a_path_outside_every_root_is_left_as_it_is():
    """Only paths under a root change; a sibling folder with a longer name is not under it."""
    assert remap_path("/mnt/showcase/a.png", ROOTS, "windows") == "/mnt/showcase/a.png"
    assert remap_path("/tmp/a.png", ROOTS, "windows") == "/tmp/a.png"


def test_the_most_specific_root_wins():
    """Nested roots: the longest matching one decides."""
    roots = {"linux": "/mnt/show", "windows": "P:\\", "darwin": "/mnt/show/sub"}
    assert remap_path("/mnt/show/sub/x.png", roots, "windows") == "P:\\x.png"


def test_every_path_field_of_a_job_is_remapped():
    """Sources, masks, outputs and the cache move; names and keys do not."""
    data = {"name": "P:\\show\\x", "job": {"source": "P:\\show\\t.png", "mask": "P:\\show\\m.png"},
            "output": "P:\\show\\o.png", "key": "P:\\show"}
    moved = remap_fields(data, ROOTS, "linux")
    assert moved == {"name": "P:\\show\\x", "job": {"source": "/mnt/show/t.png", "mask": "/mnt/show/m.png"},
                     "output": "/mnt/show/o.png", "key": "P:\\show"}


def test_a_whole_job_is_remapped_for_the_farm():
    """The job file written for Windows farm machines holds Windows paths."""
    job = remapped(_job(1), ROOTS, "windows")
    assert job.tasks[0].job["source"] == "P:\\show\\tex\\t0.png"
    assert job.tasks[0].output == "P:\\show\\out\\t0.png"


# -- the job model ----------------------------------------------------------------------------
def test_a_job_survives_its_json(tmp_path):
    """job.json read back gives the same job."""
    job = _job()
    (tmp_path / "job.json").write_text(job.to_json())
    assert read_job(str(tmp_path / "job.json")) == job


@pytest.mark.parametrize("damage", [[], {"format": 99}, {"format": 1}])
def test_a_damaged_job_file_is_one_sentence(damage):
    """A job file that is not a job is refused, naming what to do."""
    with pytest.raises(FarmJobError, match=r"\.$"):
        parse_job(damage)


def test_a_damaged_state_file_is_refused():
    """`farm status` refuses a state file with missing fields."""
    with pytest.raises(FarmJobError):
        parse_state({"id": "x"})


# -- inputs ----------------------------------------------------------------------------------
def test_a_folder_lists_textures_grouping_udim_tiles_and_leaving_masks_out(tmp_path):
    """UDIM tiles become one set; <stem>_mask images are not textures."""
    for name in ("wood.1001.png", "wood.1002.png", "stone.png", "stone_mask.png", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    assert texture_sources(tmp_path) == [str(tmp_path / "stone.png"), str(tmp_path / "wood.<UDIM>.png")]
    assert mask_for(str(tmp_path / "stone.png")) == str(tmp_path / "stone_mask.png")


@pytest.mark.slow  # imports torch
def test_estimates_come_from_a_fixed_model_without_calibrating(tmp_path, monkeypatch):
    """With no cached calibration the default model answers at once; the estimate grows with
    iterations and a time budget caps the fit's part of it, per file."""
    from openpipeline.engine.texture import RestoreParams

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = runtime_model("denoise")
    assert model == default_model()
    few, memory = texture_estimate([(1024, 1024)], RestoreParams(max_iterations=10), model)
    many, _ = texture_estimate([(1024, 1024)], RestoreParams(max_iterations=1000), model)
    capped, _ = texture_estimate([(1024, 1024)], RestoreParams(max_iterations=1000, time_budget=5), model)
    classical, _ = texture_estimate([(1024, 1024)], RestoreParams(), model)
    assert 0 < few < many and memory > 512 * 2**20
    # the budget bounds the fit; every tile still gets its classical result, each file its own budget
    assert capped == pytest.approx(classical + 5)
    udim, _ = texture_estimate([(1024, 1024)] * 3, RestoreParams(max_iterations=1000, time_budget=5), model)
    assert udim == pytest.approx(3 * capped)
    assert not list(tmp_path.iterdir())  # nothing calibrated, nothing cached


@pytest.mark.slow  # imports torch
def test_a_job_without_a_fit_is_estimated_by_its_classical_steps_alone(tmp_path, monkeypatch):
    """Denoise, inpaint and upscale run no network fit unless iterations or a time budget are
    given: their estimate is the classical steps' (seconds per megapixel, less memory than a
    fit's), growing with the image; flash always fits."""
    from openpipeline.engine.texture import RestoreParams

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = runtime_model("denoise")
    classical, memory = texture_estimate([(2048, 2048)], RestoreParams(), model)
    fitted, fit_memory = texture_estimate([(2048, 2048)], RestoreParams(max_iterations=500), model)
    assert not RestoreParams().fits and RestoreParams(max_iterations=500).fits
    assert 0 < classical < fitted / 3 and memory < fit_memory
    small, small_memory = texture_estimate([(512, 512)], RestoreParams(), model)
    assert small < classical / 10 and small_memory < memory
    for operation in ("inpaint", "upscale"):
        params = RestoreParams(operation=operation, factor=4)
        assert not params.fits
        assert texture_estimate([(512, 512)], params, model)[0] < texture_estimate(
            [(512, 512)], RestoreParams(operation=operation, factor=4, time_budget=10**6), model)[0]
    assert RestoreParams(operation="flash").fits and RestoreParams(recipe=True).fits


# -- job files --------------------------------------------------------------------------------
def test_the_openjd_template_passes_openjd_check(tmp_path):
    """The generated template is valid for the reference CLI, one task per input."""
    write_openjd(_job(3), tmp_path, {}, "linux")
    result = subprocess.run([str(OPENJD), "check", str(tmp_path / "job.template.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = subprocess.run([str(OPENJD), "summary", str(tmp_path / "job.template.yaml")],
                             capture_output=True, text=True)
    assert summary.returncode == 0 and "3" in summary.stdout, summary.stdout + summary.stderr


def test_the_openjd_action_timeout_follows_the_estimates():
    """The onRun timeout is the largest task estimate times the safety factor."""
    template = openjd_template(_job(2, seconds=1000.0))
    action = template["steps"][0]["script"]["actions"]["onRun"]
    assert action["timeout"] == timeout_seconds(1000.0) == 3000
    assert action["args"][-2:] == ["{{Param.JobFile}}", "{{Task.Param.Index}}"]
    assert template["steps"][0]["parameterSpace"]["taskParameterDefinitions"][0]["range"] == "0-1"


def test_the_opencue_spec_has_one_layer_one_frame_per_task():
    """pyoutline's XML: the layer runs the task entry, frames 1-N, memory and timeout from estimates."""
    root = ET.fromstring(opencue_xml(_job(4, seconds=1200.0), "/mnt/show/job/job.json", "linux",
                                     user="wrangler").split("?>", 1)[1].split(">", 1)[1])
    layers = root.findall("./job/layers/layer")
    assert [layer.get("name") for layer in layers] == ["texture-denoise"]
    layer = layers[0]
    assert layer.findtext("range") == "1-4" and layer.findtext("chunk") == "1"
    assert layer.findtext("cmd") == ("python -m openpipeline.farm.task /mnt/show/job/job.json #IFRAME# "
                                     "--first 1")
    assert layer.findtext("memory") == "3072m"
    assert layer.findtext("timeout") == "60"  # minutes: 3 × 1200 s
    assert root.findtext("user") == "wrangler"


def test_the_deadline_files_hold_the_command_line_plugin_keys(tmp_path):
    """Job info: plug-in, name, frames 0..N-1 one per task, timeout, memory (extra info), output folder;
    plugin info: executable, arguments with the frame token, startup folder."""
    written = write_deadline(_job(3, seconds=200.0), tmp_path, {}, "linux")
    assert [p.name for p in written] == ["job.json", "job_info.job", "plugin_info.job"]
    info = dict(line.split("=", 1) for line in (tmp_path / "job_info.job").read_text().splitlines())
    plugin = dict(line.split("=", 1) for line in (tmp_path / "plugin_info.job").read_text().splitlines())
    assert info["Plugin"] == "CommandLine" and info["Frames"] == "0-2" and info["ChunkSize"] == "1"
    assert info["Name"] == info["BatchName"] == "op-texture-denoise-tex"
    assert info["TaskTimeoutMinutes"] == "10" and info["OnTaskTimeout"] == "Error"
    assert info["ExtraInfoKeyValue0"] == "OpenPipelineMemoryMB=3072"
    assert info["OutputDirectory0"] == "/mnt/show/out"
    assert plugin["Executable"] == "python" and plugin["StartupDirectory"] == str(tmp_path)
    assert plugin["Arguments"] == f"-m openpipeline.farm.task {tmp_path / 'job.json'} <STARTFRAME>"
    assert json.loads((tmp_path / "job.json").read_text())["tasks"][2]["name"] == "t2.png"


def test_windows_farm_files_quote_for_windows():
    """A Windows farm gets a Windows command line and Windows paths."""
    info, plugin = deadline_files(remapped(_job(1), ROOTS, "windows"), "P:\\show\\job\\job.json", "windows",
                                  "P:\\show\\job")
    assert plugin["Arguments"] == "-m openpipeline.farm.task P:\\show\\job\\job.json <STARTFRAME>"
    assert info["OutputDirectory0"] == "P:\\show\\out"


# -- refused input: exit 2, one sentence, nothing written -----------------------------------------
@pytest.mark.parametrize("case", ["empty", "inside", "backend", "no-out",
                                  pytest.param("no-mask", marks=pytest.mark.slow)])
def test_bad_input_is_one_sentence_and_writes_nothing(tmp_path, case):
    """Empty folder, output inside the input, unknown back end, a farm back end without --out,
    an inpaint texture without its mask: exit 2, one sentence, no file anywhere."""
    tex = tmp_path / "tex"
    tex.mkdir()
    if case != "empty":
        _image(tex / "a.png")
    args = {"empty": ["texture-denoise", str(tex), str(tmp_path / "out")],
            "inside": ["texture-denoise", str(tex), str(tex / "out")],
            "backend": ["texture-denoise", str(tex), str(tmp_path / "out"), "--backend", "tractor"],
            "no-out": ["texture-denoise", str(tex), str(tmp_path / "out"), "--backend", "openjd"],
            "no-mask": ["texture-inpaint", str(tex), str(tmp_path / "out")]}[case]
    before = snapshot(tmp_path)
    result = run_cli("farm", "submit", *args, env={"OPENPIPELINE_FARM_STATE": str(tmp_path / "state"),
                                                   "OPENPIPELINE_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 2, result.stderr
    one_sentence(result.stderr)
    assert snapshot(tmp_path) == before


def test_two_inputs_writing_the_same_output_are_refused(tmp_path):
    """a.png and a.tif as .png, or mx/a.obj and my/a.obj: one result would replace the other; exit 2,
    one sentence naming both inputs, nothing written."""
    _image(tmp_path / "col" / "a.png")
    _image(tmp_path / "col" / "a.tif")
    for folder in ("mx", "my"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    env = {"OPENPIPELINE_FARM_STATE": str(tmp_path / "state"), "OPENPIPELINE_CACHE": str(tmp_path / "cache")}
    cases = [(["texture-denoise", str(tmp_path / "col"), str(tmp_path / "out"), "--format", ".png"],
              ("a.png", "a.tif")),
             (["scatter", f"{tmp_path / 'mx' / 'a.obj'},{tmp_path / 'my' / 'a.obj'}", str(tmp_path / "out"),
               "--count", "10"], ("mx", "my"))]
    for args, names in cases:
        before = snapshot(tmp_path)
        result = run_cli("farm", "submit", *args, env=env)
        assert result.returncode == 2, result.stderr
        message = one_sentence(result.stderr)
        assert all(name in message for name in names), message
        assert snapshot(tmp_path) == before


def test_job_files_never_go_among_the_inputs_nor_over_other_job_files(tmp_path):
    """--out inside the textures folder is refused; an --out already holding job files is refused
    unless --force: exit 2, one sentence, nothing written."""
    _image(tmp_path / "tex" / "a.png")
    env = {"OPENPIPELINE_FARM_STATE": str(tmp_path / "state"), "OPENPIPELINE_CACHE": str(tmp_path / "cache")}
    submit = ["farm", "submit", "texture-denoise", str(tmp_path / "tex"), str(tmp_path / "out"),
              "--backend", "openjd", "--out"]
    for out in (tmp_path / "tex", tmp_path / "tex" / "jobs"):
        before = snapshot(tmp_path)
        result = run_cli(*submit, str(out), env=env)
        assert result.returncode == 2, result.stderr
        assert "inside the input folder" in one_sentence(result.stderr)
        assert snapshot(tmp_path) == before
    first = run_cli(*submit, str(tmp_path / "jobs"), env=env)
    assert first.returncode == 0, first.stderr
    before = snapshot(tmp_path)
    again = run_cli(*submit, str(tmp_path / "jobs"), env=env)
    assert again.returncode == 2, again.stderr
    assert "--force" in one_sentence(again.stderr)
    assert snapshot(tmp_path) == before
    forced = run_cli(*submit, str(tmp_path / "jobs"), "--force", env=env)
    assert forced.returncode == 0, forced.stderr


def test_a_missing_pyoutline_is_one_sentence(tmp_path, monkeypatch, capsys):
    """Without pyoutline the opencue back end is refused before anything is read or written."""
    from openpipeline.cli import main

    _image(tmp_path / "tex" / "a.png")
    monkeypatch.setitem(sys.modules, "outline", None)
    before = snapshot(tmp_path)
    code = main(["farm", "submit", "texture-denoise", str(tmp_path / "tex"), str(tmp_path / "out"),
                 "--backend", "opencue", "--out", str(tmp_path / "job")])
    assert code == 2
    assert "pip install 'openpipeline[farm]'" in one_sentence(capsys.readouterr().err)
    assert snapshot(tmp_path) == before


def test_a_master_job_runs_master_scene_under_mayapy(tmp_path):
    """`farm submit master ITEM --note` writes one task whose command is mayapy master_scene.py;
    without --note it is refused."""
    from openpipeline.core import ItemRef, Project
    from openpipeline.farm.task import master_command

    project = Project.create(tmp_path / "proj", "demo")
    project.create_item(ItemRef.parse("asset/prop/chair"))
    env = {"OPENPIPELINE_PROJECT": str(project.root)}
    refused = run_cli("farm", "submit", "master", "asset/prop/chair", "--backend", "openjd",
                      "--out", str(tmp_path / "job"), env=env)
    assert refused.returncode == 2 and "--note" in one_sentence(refused.stderr)
    assert not (tmp_path / "job").exists()
    result = run_cli("farm", "submit", "master", "asset/prop/chair", "--note", "approved", "--backend",
                     "openjd", "--out", str(tmp_path / "job"), "--pythonpath", str(REPO), env=env)
    assert result.returncode == 0, result.stderr
    job = read_job(str(tmp_path / "job" / "job.json"))
    assert job.python == "mayapy" and len(job.tasks) == 1
    assert master_command(job, job.tasks[0]) == ["mayapy", str(REPO / "standalone" / "master_scene.py"),
                                                 "--project", str(project.root), "--note", "approved",
                                                 "asset/prop/chair"]


@pytest.mark.parametrize("elsewhere", [False, True])
def test_a_master_job_without_a_checkout_is_refused_at_submit(tmp_path, elsewhere):
    """--pythonpath '' (the farm's installed wheel has no standalone/) or a folder without
    standalone/master_scene.py: exit 2, one sentence naming --pythonpath, nothing written."""
    from openpipeline.core import ItemRef, Project

    project = Project.create(tmp_path / "proj", "demo")
    project.create_item(ItemRef.parse("asset/prop/chair"))
    (tmp_path / "elsewhere").mkdir()
    pythonpath = str(tmp_path / "elsewhere") if elsewhere else ""
    before = snapshot(tmp_path)
    result = run_cli("farm", "submit", "master", "asset/prop/chair", "--note", "approved", "--backend",
                     "openjd", "--out", str(tmp_path / "job"), "--pythonpath", pythonpath,
                     env={"OPENPIPELINE_PROJECT": str(project.root)})
    assert result.returncode == 2, result.stderr
    assert "--pythonpath" in one_sentence(result.stderr)
    assert snapshot(tmp_path) == before


def test_a_master_task_runs_the_script_of_the_job_s_checkout_not_the_cwd(tmp_path):
    """A job naming no checkout (written before the submit check) is refused in one sentence,
    and a named checkout's script is an absolute path, whatever the worker's cwd."""
    from openpipeline.farm.task import master_command

    task = FarmTask("asset/prop/chair", {"kind": "master", "note": "n"}, None, "", item="asset/prop/chair",
                    project=str(tmp_path))
    with pytest.raises(FarmJobError, match="--pythonpath"):
        master_command(FarmJob("m", "master", (task,), python="mayapy"), task)
    job = FarmJob("m", "master", (task,), python="mayapy", pythonpath=str(REPO))
    assert master_command(job, task)[1] == str(REPO / "standalone" / "master_scene.py")


def test_run_task_refuses_a_task_the_job_does_not_have(tmp_path):
    """`farm run-task JOB 7` on a three-task job: exit 2, one sentence naming the range."""
    (tmp_path / "job.json").write_text(_job(3).to_json())
    result = run_cli("farm", "run-task", str(tmp_path / "job.json"), "7")
    assert result.returncode == 2
    assert "tasks 0 to 2" in one_sentence(result.stderr)


def test_a_master_task_without_mayapy_is_one_sentence(tmp_path):
    """On a machine without mayapy the master task exits 2 and says what it needs."""
    job = FarmJob("m", "master", (FarmTask("asset/prop/chair", {"kind": "master", "note": "n"}, None, "",
                                           item="asset/prop/chair", project=str(tmp_path)),),
                  python=str(tmp_path / "no-mayapy"))
    (tmp_path / "job.json").write_text(job.to_json())
    result = run_cli("farm", "run-task", str(tmp_path / "job.json"), "0")
    assert result.returncode == 2
    assert "mayapy" in one_sentence(result.stderr)


def test_status_says_stopped_when_a_running_jobs_runner_is_gone(tmp_path):
    """A state file left "running" by a runner that was killed (-9) reads back as "stopped"."""
    from openpipeline.core.identity import current_host
    from openpipeline.farm.local import read_state

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / "j1").mkdir()
    state = {"id": "j1", "name": "n", "operation": "scatter", "state": "running", "started": "",
             "tasks": [{"index": 0, "name": "a.obj", "state": "running"}], "host": current_host(),
             "pid": int(dead)}
    (tmp_path / "j1" / "state.json").write_text(json.dumps(state))
    assert read_state(tmp_path / "j1").state == "stopped"
    (tmp_path / "j1" / "state.json").write_text(json.dumps({**state, "pid": os.getpid()}))
    assert read_state(tmp_path / "j1").state == "running"


def test_a_failed_item_delivery_leaves_no_file_no_claim_no_event(tmp_path, monkeypatch):
    """The history event cannot be written: the result file is not left in the workshop folder,
    the claimed number is given back, and the next delivery takes workshop 1 (all or nothing)."""
    from openpipeline.core import ItemRef, Project, history
    from openpipeline.engine.cache import ResultCache
    from openpipeline.farm.items import deliver_to_item

    project = Project.create(tmp_path / "proj", "demo")
    chair = project.create_item(ItemRef.parse("asset/prop/chair"))
    source = _image(chair.path / "textures" / "wood.png")

    def build(folder):
        (folder / "restored.png").write_bytes(source.read_bytes())
        return {"files": ["restored.png"]}

    entry = ResultCache(tmp_path / "cache").put("texture", "ab" * 32, build)
    workshop = chair.path / "textures" / "workshop"
    task = FarmTask("wood.png", {"source": str(source), "params": {"operation": "denoise"}}, entry.key,
                    str(workshop), item="asset/prop/chair", project=str(project.root))

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(history, "write_event", broken)
        with pytest.raises(Exception, match="No space left"):  # a StorageError once journalled
            deliver_to_item(task, entry)
    assert list(workshop.iterdir()) == []
    assert not [e for e in project.item("asset/prop/chair").events() if e.event == "farm-result"]
    assert [p.name for p in deliver_to_item(task, entry)] == ["wood_workshop_0001.png"]
    assert [e.version for e in project.item("asset/prop/chair").events() if e.event == "farm-result"] == [1]


def test_the_farm_jobs_cache_wins_over_the_environment(tmp_path, monkeypatch):
    from openpipeline.farm.task import _cache

    monkeypatch.setenv("OPENPIPELINE_CACHE", str(tmp_path / "env"))
    job = FarmJob("j", "texture-denoise", (), cache=str(tmp_path / "shared"))
    assert _cache(job).root == tmp_path / "shared"
    monkeypatch.setenv("OPENPIPELINE_CACHE", str(tmp_path / "env"))
    assert _cache(FarmJob("j", "texture-denoise", ())).root == tmp_path / "env"
