"""The exact polish (restricted Voronoi cells) on open meshes, with density maps, and its
compiled kernels: quality, repeatability, and the fallback when no cache can be written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from openpipeline.engine.images import Image
from openpipeline.engine.scatter import kernels, quality
from openpipeline.engine.scatter.density import DensityMap, density_weight
from openpipeline.engine.scatter.distribute import ScatterParams, scatter
from openpipeline.engine.scatter.mesh import Mesh
from openpipeline.engine.scatter.primitives import torus

ROOT = Path(__file__).resolve().parents[1]


def cliff_terrain(divisions: int = 48) -> Mesh:
    """An open 2 × 2 patch of gentle hills with a near-vertical cliff 0.5 high across it:
    a border and two sharp edges."""
    x = np.linspace(-1, 1, divisions + 1)
    gx, gz = np.meshgrid(x, x, indexing="ij")
    height = 0.08 * np.sin(3 * gx) * np.cos(2 * gz) + 0.5 * np.clip((gx - 0.2) / 0.05, 0, 1)
    vertices = np.stack([gx.ravel(), height.ravel(), gz.ravel()], 1)
    i, j = np.meshgrid(np.arange(divisions), np.arange(divisions), indexing="ij")
    a = (i * (divisions + 1) + j).ravel()
    b, c, d = a + divisions + 1, a + divisions + 2, a + 1
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return Mesh(vertices, faces.astype(np.int64), name="terrain")


def ten_to_one(width: int = 128, height: int = 64) -> DensityMap:
    """A smooth map from 1 to 10 over the UVs (the benchmark's map, smaller)."""
    u = (np.arange(width) + 0.5) / width
    v = (np.arange(height) + 0.5) / height
    values = 10 ** (0.5 + 0.5 * np.sin(2 * np.pi * u)[None, :] * np.cos(2 * np.pi * v)[:, None])
    return DensityMap(Image(values[..., None].astype(np.float32), ["Y"], "float"))


def test_open_mesh_with_a_cliff_is_even():
    """1,500 points on an open terrain with a cliff: within 3 % of the hexagonal optimum
    (the border costs about 1 % at this count), no clumps, no holes, and the cliff holds
    its share of the points."""
    terrain = cliff_terrain()
    result = scatter(terrain, ScatterParams(count=1500, seed=4))
    figures = quality.evenness(terrain, result.positions, samples=300_000)
    assert figures["nqe"] < 1.03
    assert figures["min_nn"] > 0.6 and figures["coverage"] < 1.6
    probe, _, _ = quality.uniform_samples(terrain, 300_000, seed=5)
    on_wall = (probe[:, 0] > 0.21) & (probe[:, 0] < 0.24)
    wall = (result.positions[:, 0] > 0.21) & (result.positions[:, 0] < 0.24)
    assert abs(wall.mean() / on_wall.mean() - 1) < 0.1


def test_cells_stop_at_the_border():
    """A cell cut at the border has its centroid inside, so no point sits on the border:
    every point keeps at least a fifth of the spacing from it."""
    terrain = cliff_terrain()
    result = scatter(terrain, ScatterParams(count=800, seed=1))
    spacing = quality.hex_spacing(quality.face_areas(terrain.vertices, terrain.faces).sum(), 800)
    to_border = 1 - np.abs(result.positions[:, [0, 2]]).max(1)
    assert to_border.min() > 0.2 * spacing


def test_density_map_reaches_the_weighted_optimum():
    """With a 10:1 map the points are within 3.5 % of the optimal quantiser for the map
    (weighted NQE), where evenly spread points are far from it (and the measure can fail)."""
    ring = torus(sections=64, rings=32)
    density = ten_to_one()
    target = density_weight(ring, density)
    assert target is not None
    follows = scatter(ring, ScatterParams(count=2000, seed=2), density)
    even = scatter(ring, ScatterParams(count=2000, seed=2))
    assert quality.weighted_nqe(ring, follows.positions, target, samples=300_000) < 1.035
    assert quality.weighted_nqe(ring, even.positions, target, samples=300_000) > 1.15


def test_two_runs_give_the_same_bytes_on_open_meshes_and_with_density():
    """The exact polish is deterministic: the same inputs and seed give identical bytes."""
    terrain = cliff_terrain(24)
    terrain.corner_uvs = (terrain.vertices[terrain.faces][..., [0, 2]] + 1) / 2
    density = ten_to_one()
    first = scatter(terrain, ScatterParams(count=600, seed=9), density)
    second = scatter(terrain, ScatterParams(count=600, seed=9), density)
    assert first.positions.tobytes() == second.positions.tobytes()
    assert first.face_ids.tobytes() == second.face_ids.tobytes()
    assert first.barycentrics.tobytes() == second.barycentrics.tobytes()


RUN_KERNELS = textwrap.dedent("""
    import sys
    import warnings
    sys.path.insert(0, sys.argv[1])
    import kernels  # the copy beside an unwritable cache folder
    sys.modules["openpipeline.engine.scatter.kernels"] = kernels
    import numpy as np
    from openpipeline.engine.scatter.distribute import ScatterParams, scatter
    from openpipeline.engine.scatter.primitives import torus
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about the cache either
        result = scatter(torus(sections=32, rings=16), ScatterParams(count=400, seed=3))
    assert type(kernels.restricted_cells._cache).__name__ == "NullCache", "expected no disk cache"
    np.save(sys.argv[2], result.positions)
""")


@pytest.mark.slow
def test_kernels_compile_in_memory_where_no_cache_can_be_written(tmp_path):
    """Where neither the package folder nor the user's cache folder can be written (a
    read-only studio install, no home), the kernels compile in memory instead of failing,
    in another process, with other thread settings, and give the same bytes as here."""
    copy = tmp_path / "readonly"
    copy.mkdir()
    shutil.copy(Path(kernels.__file__), copy / "kernels.py")
    (copy / "__pycache__").write_text("")  # a file where numba would make its cache folder
    blocker = tmp_path / "no-home"
    blocker.write_text("")  # a file: nothing can be made under it, not even by root
    env = {**os.environ, "HOME": str(blocker), "NUMBA_CACHE_DIR": str(blocker / "numba"),
           "XDG_CACHE_HOME": str(blocker / "cache"), "PYTHONPATH": str(ROOT),
           "PYTHONDONTWRITEBYTECODE": "1", "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = tmp_path / "positions.npy"
    subprocess.run([sys.executable, "-c", RUN_KERNELS, str(copy), str(out)], env=env, check=True,
                   timeout=600)
    here = scatter(torus(sections=32, rings=16), ScatterParams(count=400, seed=3))
    assert np.load(out).tobytes() == here.positions.tobytes()
