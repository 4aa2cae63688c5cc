"""Property lane of the scatter command: generated meshes, counts, spacings, seeds, methods, maps.

For every generated job the command either exits 0 with exactly N points on the surface,
finite unit normals, nothing on stderr, the same bits as a second run with the same seed
and a peak memory under its estimate; or exits 2 with one sentence and nothing written.
Hypothesis runs derandomized (the same examples every run), bounded to about a minute.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from openpipeline.cli import main
from openpipeline.engine.images import read_image, write_image
from openpipeline.engine.scatter.budget import estimate
from openpipeline.engine.scatter.density import DensityMap
from openpipeline.engine.scatter.distribute import ScatterParams, scatter
from openpipeline.engine.scatter.mesh import Mesh, load_mesh
from openpipeline.engine.scatter.primitives import icosphere, plane
from tests.test_scatter_cli import write_obj

LANE = settings(derandomize=True, max_examples=80, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@dataclass
class Job:
    """One generated scatter job: the mesh, what is asked, and the expected point count."""

    mesh: Mesh
    count: int | None
    spacing: float | None
    seed: int
    method: str
    density: str | None  # None, "ramp" or "zero"


def one_triangle(scale: float) -> Mesh:
    uv = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    return Mesh(np.array([[0, 0, 0], [scale, 0, 0], [0, 0, -scale]], float), np.array([[0, 1, 2]]), uv)


def far_apart(mesh: Mesh, offset: float) -> Mesh:
    """Two copies of ``mesh``, the second ``offset`` away along x."""
    shifted = mesh.vertices + np.array([offset, 0.0, 0.0])
    uvs = None if mesh.corner_uvs is None else np.concatenate([mesh.corner_uvs, mesh.corner_uvs])
    return Mesh(np.concatenate([mesh.vertices, shifted]),
                np.concatenate([mesh.faces, mesh.faces + len(mesh.vertices)]), uvs)


def with_degenerate_face(mesh: Mesh) -> Mesh:
    """``mesh`` plus a zero-area sliver (three points on a line) far from nothing."""
    base = mesh.vertices[mesh.faces[0, 0]]
    extra = base + np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1e-3, 0.0, 0.0]])
    faces = np.concatenate([mesh.faces, [np.arange(3) + len(mesh.vertices)]])
    uvs = None if mesh.corner_uvs is None else np.concatenate([mesh.corner_uvs, mesh.corner_uvs[:1]])
    return Mesh(np.concatenate([mesh.vertices, extra]), faces, uvs)


@st.composite
def meshes(draw: st.DrawFn) -> Mesh:
    """1 triangle to a few hundred, open or closed, scaled, maybe in parts far apart or with a
    degenerate face."""
    scale = draw(st.sampled_from([1e-4, 1.0, 37.0, 1e5]))
    kind = draw(st.sampled_from(["triangle", "plane", "sphere"]))
    if kind == "triangle":
        mesh = one_triangle(scale)
    elif kind == "plane":
        base = plane(size=scale, divisions=draw(st.integers(1, 12)))
        mesh = Mesh(base.vertices, base.faces, base.corner_uvs)
    else:
        base = icosphere(draw(st.integers(0, 2)), radius=scale)
        mesh = Mesh(base.vertices, base.faces)
    if draw(st.booleans()):
        mesh = far_apart(mesh, scale * draw(st.sampled_from([3.0, 1e6, 1e12])))
    if draw(st.integers(0, 4)) == 0:
        mesh = with_degenerate_face(mesh)
    return mesh


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    mesh = draw(meshes())
    area = float(np.linalg.norm(np.cross(*(mesh.vertices[mesh.faces[:, 1:]]
                                            - mesh.vertices[mesh.faces[:, :1]]).transpose(1, 0, 2)),
                                axis=1).sum() / 2)
    count = spacing = None
    if draw(st.booleans()):
        count = draw(st.integers(1, 300))
    else:  # a spacing for about 0.3 to 300 points (below one point: refused)
        wanted = draw(st.integers(0, 300)) or 0.3
        spacing = math.sqrt(area / (math.sqrt(3) / 2 * wanted))
    method = draw(st.sampled_from(["batch-ng", "online-ng", "gng"]))
    maps = [None, "ramp", "zero"] if mesh.corner_uvs is not None else [None, None, None, "ramp"]
    density = draw(st.sampled_from(maps))  # a map on a mesh without UVs: refused
    return Job(mesh, count, spacing, draw(st.integers(0, 2**32)), method, density)


def peak_rss_reset() -> int | None:
    """Reset this process's peak RSS and return its current RSS; None where Linux cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _status("VmRSS:")


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise AssertionError(key)


def write_inputs(job: Job, folder: Path) -> list[str]:
    """The mesh (and density map) files of ``job``; returns the command's arguments."""
    args = [str(write_obj(job.mesh, folder / "mesh.obj")), str(folder / "out.npz"), "--quiet",
            "--json", "--seed", str(job.seed), "--method", job.method]
    args += ["--count", str(job.count)] if job.count is not None else ["--spacing", repr(job.spacing)]
    if job.density:
        value = 0.0 if job.density == "zero" else 1.0
        ramp = np.linspace(0.05, 1.0, 32, dtype=np.float32)[None, :, None] * value
        write_image(folder / "density.exr", np.tile(ramp, (16, 1, 1)), "float")
        args += ["--density", str(folder / "density.exr")]
    return args


def check_refused(stderr: str, folder: Path, inputs: set[str]) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("openpipeline: "), stderr
    assert lines[0].rstrip().endswith((".", ")")) and "Traceback" not in stderr
    assert {p.name for p in folder.iterdir()} == inputs


def check_result(job: Job, folder: Path, count: int) -> None:
    """Exactly ``count`` points on the surface, unit normals; the same bits from the same seed."""
    mesh = load_mesh(folder / "mesh.obj")
    extent = float(np.abs(mesh.vertices).max())
    with np.load(folder / "out.npz") as data:
        positions, normals = data["positions"], data["normals"]
        corners = mesh.vertices[mesh.faces[data["face_ids"]]]
        rebuilt = np.einsum("nk,nkc->nc", data["barycentrics"], corners)
        assert positions.shape == (count, 3) and data["ids"].tolist() == list(range(count))
        assert np.abs(rebuilt - positions).max() <= 1e-9 * extent
        assert (data["barycentrics"] >= -1e-9).all()
        assert np.isfinite(normals).all() and np.allclose(np.linalg.norm(normals, axis=1), 1)
        density = DensityMap(read_image(folder / "density.exr")) if job.density else None
        again = scatter(mesh, ScatterParams(count=count, seed=job.seed, method=job.method), density)
        assert np.array_equal(again.positions, positions) and np.array_equal(again.normals, normals)


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """One job through the command first, so the lane measures jobs, not first imports."""
    folder = tmp_path_factory.mktemp("warm")
    job = Job(plane(divisions=2), 20, None, 0, "batch-ng", "ramp")
    assert main(["scatter", *write_inputs(job, folder)]) == 0


@pytest.mark.slow
@LANE
@given(job=jobs())
def test_every_generated_job_succeeds_exactly_or_is_refused_cleanly(job, capsys, warm):
    """Exit 0: exactly N points on the surface, unit normals, silent stderr, same bits from the
    same seed, peak memory under the estimate. Otherwise exit 2, one sentence, nothing written."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        args = write_inputs(job, folder)
        inputs = {p.name for p in folder.iterdir()}
        capsys.readouterr()
        base = peak_rss_reset()
        code = main(["scatter", *args])
        peak = None if base is None else _status("VmHWM:") - base
        out, err = capsys.readouterr()
        assert code in (0, 2), err
        event(f"exit {code}: {err.split(';')[0][14:50] if code else job.method}")
        if code == 2:
            check_refused(err, folder, inputs)
            return
        assert err == ""
        count = json.loads(out)["count"]
        assert job.count is None or count == job.count
        check_result(job, folder, count)
        if peak is not None:
            cost = estimate(count, job.method, len(job.mesh.faces), job.density is not None)
            assert peak <= cost.memory, (peak, cost.memory)
