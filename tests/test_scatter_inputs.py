"""The scatter command at the edges of its inputs: tiny counts, huge jobs, odd meshes and outputs.

Every case either succeeds with exactly N points on the surface or exits 2 with one
sentence and nothing written, before any work is done.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.scatter.distribute import ScatterParams, scatter
from openpipeline.engine.scatter.primitives import icosphere, plane
from tests.helpers.cli import one_sentence, run_cli
from tests.test_scatter_cli import write_obj

METHODS = ("batch-ng", "online-ng", "gng")


def assert_on_surface(mesh, result, count):
    """Exactly ``count`` points, each rebuilt from its face and barycentrics; unit normals."""
    assert result.count == count and result.positions.shape == (count, 3)
    corners = mesh.vertices[mesh.faces[result.face_ids]]
    rebuilt = np.einsum("nk,nkc->nc", result.barycentrics, corners)
    assert np.allclose(rebuilt, result.positions, atol=1e-9)
    assert (result.barycentrics >= -1e-9).all()
    assert np.isfinite(result.normals).all()
    assert np.allclose(np.linalg.norm(result.normals, axis=1), 1)
    if result.edges is not None and len(result.edges):
        assert result.edges.max() < count


@pytest.mark.parametrize("method", METHODS)
def test_every_small_count_works_for_every_method(method):
    """Counts 1 to 17 (fewer points than the neighbours asked for) give exactly N points."""
    for mesh in (plane(divisions=4), icosphere(1)):
        for count in (1, 2, 3, 5, 9, 13, 15, 17):
            result = scatter(mesh, ScatterParams(count=count, seed=1, method=method))
            assert_on_surface(mesh, result, count)


def test_one_point_through_the_cli_gives_strict_json(tmp_path):
    """`--count 1 --json` exits 0 with one point and a summary that is strict JSON."""
    mesh = write_obj(plane(divisions=4), tmp_path / "plane.obj")
    result = run_cli("scatter", str(mesh), str(tmp_path / "o.npz"), "--count", "1", "--json",
                     "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(name))
    assert summary["count"] == 1 and result.stderr == ""
    with np.load(tmp_path / "o.npz") as data:
        assert data["positions"].shape == (1, 3)


FAR_APART = ("v 0 0 0\nv 1 0 0\nv 1 0 -1\nv 1e12 0 0\nv 1e12 1 0\nv 1e12 1 1\n"
             "f 1 2 3\nf 4 5 6\n")


@pytest.mark.parametrize("method", METHODS)
def test_parts_far_apart_scatter_without_warnings(tmp_path, method):
    """Two triangles 1e12 apart: exit 0, exactly N points, and nothing at all on stderr."""
    mesh = tmp_path / "far.obj"
    mesh.write_text(FAR_APART)
    out = tmp_path / "o.npz"
    result = run_cli("scatter", str(mesh), str(out), "--count", "50", "--quiet", "--method", method)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    with np.load(out) as data:
        assert data["positions"].shape == (50, 3) and np.isfinite(data["normals"]).all()


def unwritable_folder(tmp_path):
    """A folder this process cannot create files in (read-only; /sys when running as root)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    for candidate in (folder, Path("/sys")):
        try:
            (candidate / "probe").touch()
        except OSError:
            return candidate
        (candidate / "probe").unlink()
    pytest.skip("no folder here refuses writes")


@pytest.mark.parametrize("mesh_text,out,extra,expected", [
    (None, "o.npz", ["--seed", "-1"], "Seed must be a whole number of at least 0"),
    (None, "taken.npz", [], "is a folder"),
    (None, "{read_only}/o.npz", [], "Cannot write into"),
    ("v 0 0 0\nv 1e200 0 0\nv 1e200 0 -1e200\nf 1 2 3\n", "o.npz", [], "scale it first"),
    ("v 0 0 0\nv 1e-90 0 0\nv 0 0 1e-90\nf 1 2 3\n", "o.npz", [], "scale it first"),
    ("v 0 0 0\nv 1 0 0\nv 1 0 -1\nv 0 0 -1\nf 1 2 3\nf 0 1 3\n", "o.npz", [], "index 0 on line 6"),
])
def test_plain_user_input_exits_2_before_any_work(tmp_path, mesh_text, out, extra, expected):
    """A negative seed, a folder or a read-only folder as output, coordinates of 1e200 or
    1e-90, an OBJ face index 0: exit 2, one sentence, no progress drawn, nothing written."""
    mesh = tmp_path / "mesh.obj"
    if mesh_text is None:
        write_obj(plane(divisions=4), mesh)
    else:
        mesh.write_text(mesh_text)
    (tmp_path / "taken.npz").mkdir()
    target = out.format(read_only=unwritable_folder(tmp_path)) if "{" in out else str(tmp_path / out)
    before = sorted(tmp_path.rglob("*"))
    result = run_cli("scatter", str(mesh), target, "--count", "200", *extra)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in one_sentence(result.stderr)  # one line: no progress bar was drawn
    assert sorted(tmp_path.rglob("*")) == before and not Path(target).is_file()


QUAD = "v 0 0 0\nv 1 0 0\nv 1 0 -1\nv 0 0 -1\nf 1 2 3\nf 1 3 4\n"


@pytest.mark.parametrize("extra,expected", [
    (["--spacing", "1e-9"], "1,154,700,538,379,251,456 points (batch-ng) need about"),
    (["--spacing", "1e-200"], "too small"),
    (["--count", "1000000000000"], "raise --max-points and --max-memory"),
    (["--count", "99999999999", "--method", "online-ng"], "of memory and"),
    (["--count", "500", "--max-memory", "1M"], "over the memory limit set (1.05 MB)"),
    (["--count", "500", "--max-points", "499"], "over the limit of 499 points"),
    (["--count", "500", "--max-memory", "lots"], "not understood"),
    (["--count", "20001", "--method", "gng"], "Growing neural gas adds one node at a time"),
])
def test_jobs_beyond_the_limits_are_refused_before_any_work(tmp_path, extra, expected):
    """Spacing 1e-9 (≈1.15e18 points), 1e12 points, a memory or point limit below the job's
    estimate: exit 2 with the numbers in one sentence, no progress drawn, nothing written."""
    mesh = tmp_path / "quad.obj"
    mesh.write_text(QUAD)
    result = run_cli("scatter", str(mesh), str(tmp_path / "o.npz"), *extra)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in one_sentence(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quad.obj"]


def test_raised_limits_let_a_job_run(tmp_path):
    """The same job runs once --max-memory and --max-points are raised above its estimate."""
    mesh = tmp_path / "quad.obj"
    mesh.write_text(QUAD)
    result = run_cli("scatter", str(mesh), str(tmp_path / "o.npz"), "--count", "500",
                     "--max-memory", "2G", "--max-points", "500", "--quiet")
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "o.npz") as data:
        assert data["positions"].shape == (500, 3)


def test_the_engine_refuses_a_negative_seed_and_takes_numpy_integers():
    """ScatterParams: seed -1 or 1.5 is a one-sentence input error; a numpy integer is a seed."""
    ground = plane(divisions=2)
    for bad in (-1, 1.5):
        with pytest.raises(EngineInputError, match="Seed must be a whole number of at least 0"):
            scatter(ground, ScatterParams(count=5, seed=bad))
    same = scatter(ground, ScatterParams(count=5, seed=np.int64(3)))
    assert np.array_equal(same.positions, scatter(ground, ScatterParams(count=5, seed=3)).positions)
