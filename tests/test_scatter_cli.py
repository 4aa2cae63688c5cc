"""The scatter command as a new user runs it: real files, real process, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openpipeline.engine.images import write_image
from openpipeline.engine.scatter.primitives import icosphere, torus
from tests.helpers.cli import one_sentence, run_cli


def write_obj(mesh, path, with_uvs=True):
    lines = [f"v {x:.9f} {y:.9f} {z:.9f}" for x, y, z in mesh.vertices]
    if with_uvs and mesh.corner_uvs is not None:
        lines += [f"vt {u:.9f} {v:.9f}" for u, v in mesh.corner_uvs.reshape(-1, 2)]
        lines += [f"f {a + 1}/{3 * i + 1} {b + 1}/{3 * i + 2} {c + 1}/{3 * i + 3}"
                  for i, (a, b, c) in enumerate(mesh.faces)]
    else:
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scatter")
    ring = write_obj(torus(sections=48, rings=24), folder / "torus.obj")
    ball = write_obj(icosphere(3), folder / "ball.obj", with_uvs=False)
    ramp = np.tile(np.linspace(0.1, 1.0, 128, dtype=np.float32)[None, :, None], (64, 1, 1))
    write_image(folder / "ramp.png", ramp, "uint8")
    return folder, ring, ball


def test_scatter_with_a_density_map_writes_npz(files):
    """OBJ + PNG density → .npz with every field, and a JSON summary."""
    folder, ring, _ = files
    out = folder / "dense.npz"
    result = run_cli("scatter", str(ring), str(out), "--count", "600", "--density",
                     str(folder / "ramp.png"), "--seed", "3", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["count"] == 600 and summary["density"] is True and summary["seconds"] > 0
    assert "done" in result.stderr or "%" in result.stderr  # the progress bar
    with np.load(out) as data:
        assert set(data.files) == {"positions", "normals", "face_ids", "barycentrics", "uvs", "ids",
                                   "edges"}
        assert data["positions"].shape == (600, 3) and data["uvs"].shape == (600, 2)
        assert data["normals"].shape == data["barycentrics"].shape == (600, 3)
        assert data["ids"].tolist() == list(range(600)) and data["face_ids"].shape == (600,)
        assert data["edges"].shape[1] == 2 and len(data["edges"]) == summary["edges"]
        left = (data["uvs"][:, 0] % 1 < 0.5).sum()
    assert left < 300  # the ramp is denser on the right


@pytest.mark.slow
def test_scatter_even_to_usd_is_deterministic(files):
    """Same seed → same points; the USD opens; the summary estimates NQE."""
    folder, _, ball = files
    first = run_cli("scatter", str(ball), str(folder / "a.npz"), "--count", "500", "--json", "--quiet")
    second = run_cli("scatter", str(ball), str(folder / "b.npz"), "--count", "500", "--quiet")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    with np.load(folder / "a.npz") as a, np.load(folder / "b.npz") as b:
        assert np.array_equal(a["positions"], b["positions"])
    assert json.loads(first.stdout)["nqe_estimate"] < 1.05
    usd = run_cli("scatter", str(ball), str(folder / "c.usda"), "--count", "300", "--method", "gng",
                  "--quiet")
    assert usd.returncode == 0, usd.stderr
    from pxr import Usd

    stage = Usd.Stage.Open(str(folder / "c.usda"))
    assert stage.GetPrimAtPath("/Scatter/points").GetTypeName() == "PointInstancer"


@pytest.mark.parametrize("args,expected", [
    (["missing.obj", "o.npz", "--count", "10"], "does not exist"),
    (["{ring}", "o.npz", "--count", "0"], "at least 1"),
    (["{ring}", "o.npz", "--count", "-5"], "at least 1"),
    (["{ring}", "o.txt", "--count", "10"], "use a .npz, .json"),
    (["{ring}", "o.npz"], "--count"),
    (["{ball}", "o.npz", "--count", "10", "--density", "{folder}/ramp.png"], "has no UVs"),
    (["{ring}", "o.npz", "--count", "10", "--density", "{folder}/torus.obj"], "Cannot read image"),
    (["{ring}", "o.npz", "--count", "10", "--spacing", "0.1"], "not both"),
    (["{folder}/broken.obj", "o.npz", "--count", "10"], "non-manifold"),
    (["{folder}/empty.obj", "o.npz", "--count", "10"], "empty"),
])
def test_bad_input_exits_2_and_writes_nothing(files, args, expected):
    """Each bad input: exit code 2, one sentence, no output file (nor a temporary one)."""
    folder, ring, ball = files
    (folder / "broken.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nv 0 -1 0\n"
                                       "f 1 2 3\nf 1 2 4\nf 1 2 5\n")
    (folder / "empty.obj").write_text("# nothing here\n")
    filled = [a.format(ring=ring, ball=ball, folder=folder) for a in args]
    filled[1] = str(folder / filled[1])
    before = sorted(folder.iterdir())
    result = run_cli("scatter", *filled)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in one_sentence(result.stderr)
    assert not (folder / args[1]).exists()
    assert sorted(folder.iterdir()) == before
