"""The farm scripts of standalone/ as a render wrangler runs them: by path, real files, real processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.cli import REPO

SCRIPTS = ("restore_textures.py", "scatter_points.py", "master_scene.py")
PERCENT_LINE = re.compile(r"^ *\d{1,3}% \S")
FAST = ["--max-iterations", "3", "--threads", "1", "--device", "cpu"]


def run_script(script: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
               unset: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run ``standalone/<script>`` by path under plain python, as a farm task does."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}  # the cache: conftest's, or env's
    for name in unset:
        full_env.pop(name, None)
    return subprocess.run([sys.executable, str(REPO / "standalone" / script), *args],
                          capture_output=True, text=True, env=full_env, cwd=cwd or REPO, timeout=300)


def one_line(stderr: str, name: str) -> str:
    """The scripts' error contract: one line, ``<name>: <sentence>``, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"{name}: ") and lines[0].rstrip().endswith((".", ")")), lines
    return lines[0]


def everything_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_has_help(script):
    """--help exits 0 and describes the script and its exit codes."""
    result = run_script(script, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout and "Exit codes" in result.stdout


def test_scripts_find_the_package_when_run_from_their_own_folder(tmp_path):
    """Run by path with no PYTHONPATH and no installed package, a script still imports openpipeline."""
    python = [sys.executable, "-S", "-E"]  # no site-packages, no PYTHONPATH: the package is not installed
    probe = subprocess.run([*python, "-c", "import openpipeline"], capture_output=True, cwd=tmp_path)
    assert probe.returncode != 0
    result = subprocess.run([*python, str(REPO / "standalone" / "master_scene.py"), "--help"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: master_scene.py" in result.stdout


BAD_INPUT = [
    ("restore_textures.py", ["{tmp}/missing", "{tmp}/out"], "is not a folder"),
    ("restore_textures.py", ["{tmp}/textures", "{tmp}/out", "--operation", "sharpen"], "invalid choice"),
    pytest.param("restore_textures.py", ["{tmp}/textures", "{tmp}/out", "--operation", "upscale",
                                         "--factor", "3"], "factor", marks=pytest.mark.slow),  # imports torch
    ("restore_textures.py", ["{tmp}/textures", "{tmp}/out", "--operation", "inpaint"], "has no mask"),
    ("restore_textures.py", ["{tmp}/textures", "{tmp}/textures"], "overwrite"),
    pytest.param("restore_textures.py", ["{tmp}/textures", "{tmp}/out", "--sigma", "-1"], "sigma",
                 marks=pytest.mark.slow),  # checked by the engine: imports torch
    ("scatter_points.py", ["{tmp}/missing.obj", "--count", "5", "--out-dir", "{tmp}/out"], "does not exist"),
    ("scatter_points.py", ["{tmp}/tri.obj", "--out-dir", "{tmp}/out"], "--count"),
    ("scatter_points.py", ["{tmp}/tri.obj", "--count", "0", "--out-dir", "{tmp}/out"], "at least"),
    ("scatter_points.py", ["{tmp}/tri.obj", "--count", "5"], "--out-dir"),
    ("scatter_points.py", [], "Give mesh files"),
    ("scatter_points.py", ["--scene", "{tmp}/tri.obj"], "not a Maya scene"),
    ("master_scene.py", ["asset/prop/chair"], "--note"),
]


@pytest.mark.parametrize(("script", "args", "expected"), BAD_INPUT)
def test_bad_input_exits_2_with_one_sentence_and_writes_nothing(tmp_path, script, args, expected):
    """Each refusal: exit 2, one line on stderr naming the problem, no file or cache folder made."""
    (tmp_path / "textures").mkdir()
    from openpipeline.engine.images import write_image

    write_image(tmp_path / "textures" / "wall.png", np.full((8, 8, 3), 0.5, np.float32))
    (tmp_path / "tri.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", encoding="utf-8")
    before = everything_under(tmp_path)
    cache = tmp_path / "cache"
    result = run_script(script, *[arg.format(tmp=tmp_path) for arg in args],
                        env={"OPENPIPELINE_CACHE": str(cache)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in one_line(result.stderr, script.removesuffix(".py"))
    assert everything_under(tmp_path) == before


def test_mastering_under_plain_python_says_it_needs_mayapy(tmp_path):
    """master_scene.py without Maya: exit 2, one sentence naming mayapy."""
    result = run_script("master_scene.py", "asset/prop/chair", "--note", "farm master", cwd=tmp_path)
    assert result.returncode == 2
    assert "mayapy" in one_line(result.stderr, "master_scene")
    assert list(tmp_path.iterdir()) == []


# -- restoring textures -------------------------------------------------------------------
def write_texture(path: Path, seed: int = 0, size: int = 24) -> Path:
    from openpipeline.engine.images import write_image
    from tests.helpers.images import noisy_version, pattern

    write_image(path, noisy_version(pattern(size), seed=seed))
    return path


@pytest.mark.slow
def test_restore_a_folder_then_serve_it_from_the_cache(tmp_path):
    """Two noisy images are denoised into the output folder; a second run computes nothing."""
    textures = tmp_path / "textures"
    textures.mkdir()
    write_texture(textures / "wall.png", seed=1)
    write_texture(textures / "floor.png", seed=2)
    cache = tmp_path / "cache"
    first = run_script("restore_textures.py", str(textures), str(tmp_path / "out"), "--cache", str(cache),
                       "--sigma", "20", *FAST)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["floor.png", "wall.png"]
    assert first.stdout.count("restored ->") == 2 and "from the cache" not in first.stdout.split("Done")[0]
    lines = [line for line in first.stdout.splitlines() if PERCENT_LINE.match(line)]
    assert lines, first.stdout
    fractions = [int(line.split("%")[0]) for line in lines]
    assert fractions == sorted(fractions) and all(0 <= f <= 100 for f in fractions)
    written = {name: (tmp_path / "out" / name).read_bytes() for name in ("floor.png", "wall.png")}

    second = run_script("restore_textures.py", str(textures), str(tmp_path / "out2"), "--cache", str(cache),
                        "--sigma", "20", *FAST)
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("from the cache ->") == 2 and "(2 from the cache)" in second.stdout
    for name, data in written.items():
        assert (tmp_path / "out2" / name).read_bytes() == data


@pytest.mark.slow
def test_inpaint_finds_each_texture_s_mask_by_the_naming_rule(tmp_path):
    """--operation inpaint pairs wall.png with wall_mask.png and leaves the mask out of the results."""
    from openpipeline.engine.images import write_image

    textures = tmp_path / "textures"
    textures.mkdir()
    write_texture(textures / "wall.png")
    holes = np.zeros((24, 24, 1), np.float32)
    holes[8:12, 8:12] = 1
    write_image(textures / "wall_mask.png", holes)
    result = run_script("restore_textures.py", str(textures), str(tmp_path / "out"), "--operation", "inpaint",
                        "--no-cache", *FAST)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["wall.png"]


@pytest.mark.slow
def test_a_udim_set_in_a_folder_is_one_job(tmp_path):
    """wall.1001.png and wall.1002.png are restored as one set, both written."""
    textures = tmp_path / "textures"
    textures.mkdir()
    write_texture(textures / "wall.1001.png", seed=1)
    write_texture(textures / "wall.1002.png", seed=2)
    result = run_script("restore_textures.py", str(textures), str(tmp_path / "out"), "--no-cache",
                        "--sigma", "20", *FAST)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["wall.1001.png", "wall.1002.png"]
    assert result.stdout.count("restored ->") == 1


@pytest.mark.parametrize("case", ["inside", "collide"])
def test_restore_refuses_an_output_inside_the_input_or_two_textures_on_one_name(tmp_path, case):
    """tex/sub as the output, or a.png and a.tif both as .png: exit 2, one sentence, nothing written."""
    textures = tmp_path / "tex"
    textures.mkdir()
    write_texture(textures / "a.png", seed=1)  # real images: before the check, both were restored
    write_texture(textures / "a.tif", seed=2)
    args = {"inside": [str(textures), str(textures / "sub")],
            "collide": [str(textures), str(tmp_path / "out"), "--format", ".png"]}[case]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = run_script("restore_textures.py", *args, "--no-cache", *FAST)
    assert result.returncode == 2, result.stderr
    message = one_line(result.stderr, "restore_textures")
    if case == "collide":
        assert "a.png" in message and "a.tif" in message
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


# -- scattering points ----------------------------------------------------------------------
def write_ball(path: Path) -> Path:
    from openpipeline.engine.scatter.primitives import icosphere

    mesh = icosphere(2)
    lines = [f"v {x:.9f} {y:.9f} {z:.9f}" for x, y, z in mesh.vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_scatter_a_mesh_then_serve_it_from_the_cache(tmp_path):
    """A tiny OBJ gets its points file; the second run is served from the cache, same points."""
    ball = write_ball(tmp_path / "ball.obj")
    cache = tmp_path / "cache"
    first = run_script("scatter_points.py", str(ball), "--count", "40", "--out-dir", str(tmp_path / "a"),
                       "--cache", str(cache))
    assert first.returncode == 0, first.stderr
    points = np.load(tmp_path / "a" / "ball.npz")["positions"]
    assert points.shape == (40, 3)
    assert np.allclose(np.linalg.norm(points, axis=1), 1.0, atol=0.05)  # on the unit sphere
    assert "scattered ->" in first.stdout
    assert all(PERCENT_LINE.match(line) for line in first.stdout.splitlines()
               if "%" in line and "->" not in line and "Done" not in line)

    second = run_script("scatter_points.py", str(ball), "--count", "40", "--out-dir", str(tmp_path / "b"),
                        "--cache", str(cache))
    assert second.returncode == 0, second.stderr
    assert "from the cache ->" in second.stdout
    assert np.array_equal(np.load(tmp_path / "b" / "ball.npz")["positions"], points)


def test_scattering_a_scene_under_plain_python_says_it_needs_mayapy(tmp_path):
    """--scene S.ma without Maya: exit 2, one sentence naming mayapy, nothing written."""
    scene = tmp_path / "shot.ma"
    scene.write_text("//Maya ASCII 2025 scene\n", encoding="utf-8")
    result = run_script("scatter_points.py", "--scene", str(scene), "--cache", str(tmp_path / "cache"))
    assert result.returncode == 2
    assert "mayapy" in one_line(result.stderr, "scatter_points")
    assert [p.name for p in tmp_path.iterdir()] == ["shot.ma"]


@pytest.mark.slow
def test_an_item_address_restores_the_item_s_textures_folder(project, tmp_path):
    """asset/prop/chair with --project restores the item's textures/ into the project's cache (no
    $OPENPIPELINE_CACHE), as the openpipeline command and the nodes do."""
    from openpipeline.core import ItemRef

    item = project.create_item(ItemRef.parse("asset/prop/chair"))
    (item.path / "textures").mkdir()
    write_texture(item.path / "textures" / "chair_col.png")
    result = run_script("restore_textures.py", "asset/prop/chair", str(tmp_path / "out"),
                        "--project", str(project.root), *FAST, unset=("OPENPIPELINE_CACHE",))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["chair_col.png"]
    assert len(list((project.meta / "cache").rglob("meta.json"))) == 1


def test_an_item_without_textures_is_refused(project, tmp_path):
    """An item with no textures folder: exit 2, one sentence naming where to put them."""
    from openpipeline.core import ItemRef

    project.create_item(ItemRef.parse("asset/prop/chair"))
    result = run_script("restore_textures.py", "asset/prop/chair", str(tmp_path / "out"),
                        "--project", str(project.root))
    assert result.returncode == 2
    assert "textures" in one_line(result.stderr, "restore_textures")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_sigterm_stops_a_restore_and_publishes_nothing(tmp_path):
    """A farm manager's SIGTERM mid-run: exit 130, one sentence, no result in the output or the cache."""
    import signal

    textures = tmp_path / "textures"
    textures.mkdir()
    write_texture(textures / "wall.png", size=48)
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, str(REPO / "standalone" / "restore_textures.py"), str(textures),
         str(tmp_path / "out"), "--cache", str(cache), "--max-iterations", "5000", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    first = process.stdout.readline()  # the first progress line: the work has started
    assert PERCENT_LINE.match(first), first
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "interrupted" in one_line(stderr, "restore_textures")
    assert not (tmp_path / "out").exists()
    assert not list(cache.rglob("meta.json"))


# -- mastering, through a stand-in for Maya --------------------------------------------------
def fake_env(fake: Path, log: Path) -> dict[str, str]:
    """The stand-in maya package first on PYTHONPATH; it logs its start and stop to ``log``."""
    return {"PYTHONPATH": os.pathsep.join([str(fake), str(REPO)]), "FAKE_MAYA_LOG": str(log)}


def test_master_scene_masters_the_workshop_through_a_maya_stand_in(project, tmp_path):
    """With a file-backed stand-in for maya: the workshop is opened and mastered, Maya started, stopped.

    The flow only; tests/maya/ masters a real scene in a real Maya.
    """
    from openpipeline.core import ItemRef
    from openpipeline.core import versions as core_versions
    from tests.helpers import maya_on_disk
    from tests.helpers.files import maya_scene

    item = project.create_item(ItemRef.parse("asset/prop/chair"))
    core_versions.save_workshop(item, maya_scene(tmp_path / "chair.ma", "the chair"), note="first")
    log = tmp_path / "maya.log"
    fake = maya_on_disk.install(tmp_path / "fake")
    result = run_script("master_scene.py", "asset/prop/chair", "--project", str(project.root),
                        "--note", "farm master",
                        env=fake_env(fake, log))
    assert result.returncode == 0, result.stderr
    assert "Mastered workshop 1 of asset/prop/chair" in result.stdout
    assert [line for line in result.stdout.splitlines() if "%" in line.split(" master")[0]]
    assert item.master_path.read_text(encoding="utf-8") == item.workshop_path(1).read_text(encoding="utf-8")
    assert log.read_text(encoding="utf-8").split() == ["initialize", "uninitialize"]


def test_master_scene_of_an_older_workshop_masters_that_workshop(project, tmp_path):
    """--workshop 1 of two: workshop 1 is mastered and reported; workshop 2 stays the latest."""
    from openpipeline.core import ItemRef
    from openpipeline.core import versions as core_versions
    from tests.helpers import maya_on_disk
    from tests.helpers.files import maya_scene

    item = project.create_item(ItemRef.parse("asset/prop/chair"))
    core_versions.save_workshop(item, maya_scene(tmp_path / "old.ma", "the old chair"), note="first")
    core_versions.save_workshop(item, maya_scene(tmp_path / "new.ma", "the new chair"), note="second")
    fake = maya_on_disk.install(tmp_path / "fake")
    result = run_script("master_scene.py", "asset/prop/chair", "--project", str(project.root),
                        "--workshop", "1", "--note", "the old one",
                        env=fake_env(fake, tmp_path / "maya.log"))
    assert result.returncode == 0, result.stderr
    assert "Mastered workshop 1 of asset/prop/chair" in result.stdout
    assert item.workshop().number == 2
    assert "the old chair" in item.master_path.read_text(encoding="utf-8")


def test_master_scene_of_an_item_without_workshops_is_refused(project, tmp_path):
    """No workshop to master: exit 2, one sentence, Maya never started."""
    from openpipeline.core import ItemRef
    from tests.helpers import maya_on_disk

    item = project.create_item(ItemRef.parse("asset/prop/chair"))
    log = tmp_path / "maya.log"
    fake = maya_on_disk.install(tmp_path / "fake")
    result = run_script("master_scene.py", "asset/prop/chair", "--project", str(project.root),
                        "--note", "x",
                        env=fake_env(fake, log))
    assert result.returncode == 2
    one_line(result.stderr, "master_scene")
    assert not log.exists() and not item.master_path.exists()


def test_a_scene_without_scatter_nodes_is_refused_and_maya_stopped(tmp_path):
    """scatter_points.py --scene through the stand-in: no opNeuralGasScatter node, exit 2, Maya stopped."""
    from tests.helpers import maya_on_disk

    scene = tmp_path / "shot.ma"
    scene.write_text("//Maya ASCII 2025 scene\n", encoding="utf-8")
    log = tmp_path / "maya.log"
    fake = maya_on_disk.install(tmp_path / "fake")
    result = run_script("scatter_points.py", "--scene", str(scene), "--cache", str(tmp_path / "cache"),
                        env=fake_env(fake, log))
    assert result.returncode == 2
    assert "no opNeuralGasScatter nodes" in one_line(result.stderr, "scatter_points")
    assert log.read_text(encoding="utf-8").split() == ["initialize", "uninitialize"]
    assert not (tmp_path / "cache").exists()
