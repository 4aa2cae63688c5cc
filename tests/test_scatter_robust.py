"""The engine's own guards behind tests/test_scatter_hostile.py: parameters of the wrong type
from a job file, flat faces reaching the compiled kernels, a clip that would overrun its
buffer, and a density map lit in a small part."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.images import Image
from openpipeline.engine.scatter import DensityMap, Mesh, ScatterParams, scatter
from openpipeline.engine.scatter.density import density_weight
from openpipeline.engine.scatter.distribute import without_flat_faces
from openpipeline.engine.scatter.mesh import Surface
from openpipeline.engine.scatter.primitives import plane
from tests.test_scatter_inputs import assert_on_surface

ROOT = Path(__file__).resolve().parents[1]


def lit_spot() -> DensityMap:
    """An 8 × 8 map zero but for one pixel (its bilinear density is > 0 on a 2 × 2 pixel square)."""
    values = np.zeros((8, 8), np.float32)
    values[2, 5] = 1.0
    return DensityMap(Image(values[..., None], ["Y"], "float"))


@pytest.mark.parametrize("options", [
    {"count": 10, "ng_epochs": 2.5}, {"count": 10, "multigrid_base": "250"},
    {"count": 10, "exact_epochs": -1},
    {"count": 10, "polyak": None}, {"count": 10, "max_points": math.nan}, {"count": 10, "max_memory": 0},
    {"count": "100"}, {"spacing": "0.1"}, {"count": 10, "samples_per_point": True},
], ids=lambda options: ",".join(f"{k}={v!r}" for k, v in options.items()))
def test_params_of_the_wrong_type_or_range_are_refused_in_one_sentence(options):
    """What json.loads can put in a farm job's params: refused before any work, one sentence."""
    with pytest.raises(EngineInputError) as error:
        scatter(plane(), ScatterParams(**options))
    text = str(error.value)
    assert "\n" not in text and text.endswith("."), text


def test_flat_faces_are_left_out_and_the_face_ids_are_the_mesh_given():
    """Flat faces before and among the good ones: every point on a face with area, its face id
    one of the mesh given (positions rebuilt from it), the same points as without them."""
    ground = plane(2.0, 8)
    flat = np.array([[0, 0, 1], [9, 10, 11], [4, 4, 4]])
    mesh = Mesh(ground.vertices, np.vstack([flat, ground.faces[:50], flat, ground.faces[50:]]), name="flat")
    usable, kept = without_flat_faces(mesh)
    assert kept is not None and len(usable.faces) == len(ground.faces)
    assert without_flat_faces(ground) == (ground, None)
    result = scatter(mesh, ScatterParams(count=150, seed=2))
    assert_on_surface(mesh, result, 150)
    assert not np.isin(result.face_ids, [0, 1, 2, 53, 54, 55]).any()
    alone = scatter(ground, ScatterParams(count=150, seed=2))
    assert np.array_equal(result.positions, alone.positions)


def test_a_mesh_of_flat_faces_only_is_refused():
    """Slivers whose height is 1e-14 of their length: some area, but no face to hold a point."""
    sliver = Mesh(np.array([[0.0, 0, 0], [1, 0, 0], [0.5, 1e-14, 0]]), np.array([[0, 1, 2]]), name="sliver")
    with pytest.raises(EngineInputError, match="no face with an area"):
        scatter(sliver, ScatterParams(count=10))


FLAT_FACES_IN_THE_KERNELS = """
import numpy as np
from openpipeline.engine.progress import Reporter
from openpipeline.engine.scatter import Mesh, ScatterParams
from openpipeline.engine.scatter.mesh import Surface
from openpipeline.engine.scatter.neural_gas import BatchNeuralGas
from openpipeline.engine.scatter.primitives import plane
ground = plane(2.0, 8)
mesh = Mesh(ground.vertices, np.vstack([ground.faces, [[0, 0, 1], [1, 1, 1], [0, 1, 0], [9, 10, 11]]]))
for seed in range(3):
    params = ScatterParams(count=200, seed=seed)
    rng = np.random.default_rng(seed)
    gas = BatchNeuralGas(Surface(mesh), params.batch_schedule(), rng, Reporter(None), 1.0)
    points, _, on = gas.solve(200)
    assert np.isfinite(points).all() and 0 <= on.face_ids.min() <= on.face_ids.max() < len(mesh.faces)
print("ok")
"""


@pytest.mark.slow
def test_the_compiled_kernels_take_flat_faces_fed_to_them_directly():
    """Flat faces past scatter()'s filter, straight into the restricted cells and the closest
    points (a ZeroDivisionError before, or a garbage face id read out of bounds), in a child
    process in case compiled code reads out of bounds."""
    done = subprocess.run([sys.executable, "-c", FLAT_FACES_IN_THE_KERNELS], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-800:]


def test_a_clip_never_writes_past_its_buffer():
    """A zig-zag polygon (not convex, as rounding could make one) cut by a plane through every
    edge would grow from 40 to 60 vertices; the buffer holds 48 and the clip stops there."""
    from openpipeline.engine.scatter import kernels

    capacity = kernels.FACE_POLYGON_CAPACITY
    polygon = (np.zeros((capacity, 3)), np.zeros(capacity, np.int64))
    polygon[0][:40, 0] = np.arange(40)
    polygon[0][:40, 1] = np.where(np.arange(40) % 2 == 0, 1.0, -1.0)
    clipped = (np.zeros((capacity, 3)), np.zeros(capacity, np.int64))
    count = kernels._clip3(polygon, 40, np.array([0.0, 1.0, 0.0, 0.0]), 7, clipped)
    assert count <= capacity


def test_distinct_draws_keep_no_candidate_twice():
    """Five samples on a map lit at one pixel: the first draw keeps a candidate several times
    (few candidates are lit); a distinct draw takes more candidates and keeps none twice."""
    ground = plane(2.0, 8)
    surface = Surface(ground, density_weight(ground, lit_spot()))
    drawn = surface.sample(np.random.default_rng(1), 5, distinct=True)
    assert len(np.unique(drawn.positions, axis=0)) == 5
    assert (lit_spot().lookup(np.einsum("nk,nkc->nc", drawn.barycentrics,
                                        ground.corner_uvs[drawn.face_ids])) > 0).all()


@pytest.mark.slow
def test_a_lit_spot_gets_distinct_points_on_every_level():
    """3,000 points (two levels: the refinement adds midpoints and samples) on a map lit at one
    pixel: every point where the map is above 0 and none stacked (the sampled extra points of
    a refined level were drawn from too few candidates and repeated; the map's zero was once
    refused as 'zero everywhere')."""
    density = lit_spot()
    result = scatter(plane(2.0, 8), ScatterParams(count=3000, seed=0), density)
    assert result.uvs is not None and (density.lookup(result.uvs) > 0).all()
    from scipy.spatial import cKDTree

    gaps, _ = cKDTree(result.positions).query(result.positions, k=2)
    assert gaps[:, 1].min() > 0.3 * np.median(gaps[:, 1])
