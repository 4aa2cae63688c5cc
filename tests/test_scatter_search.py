"""The scatter engine's neighbour search: the GPU path's code (a torch grid), run on the CPU.

No GPU here: :class:`TorchSearch` is run on torch's CPU device with ``min_work=0`` (every
question to the grid), and held to the k-d tree's answers — the same k nearest, so the
same points from a whole scatter — and to the same bits run to run and thread count to
thread count. What only a GPU can show (its speed, its own bits) is measured by
``bench/search_bench.py --device cuda`` where one is lent.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.images import Image
from openpipeline.engine.scatter import DensityMap, ScatterParams, scatter
from openpipeline.engine.scatter.graph import unique_edges
from openpipeline.engine.scatter.job import ScatterJob
from openpipeline.engine.scatter.primitives import plane, torus
from openpipeline.engine.scatter.search import (
    AUTO_GPU_MIN_POINTS,
    KdSearch,
    TorchSearch,
    grid_nearest_others,
    pick_search,
)
from tests.helpers.cli import one_sentence, run_cli

GRID = TorchSearch(torch.device("cpu"), min_work=0)


def on_sphere(count: int, seed: int) -> np.ndarray:
    points = np.random.default_rng(seed).normal(size=(count, 3))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def assert_same_neighbours(reference, queries, k, area=None):
    """The grid's k nearest are the k-d tree's: the same distances, nearest first."""
    got = GRID.index(reference, area).query(queries, k)
    k = min(k, len(reference))
    _, want = cKDTree(reference).query(queries, k=k)
    want = np.asarray(want).reshape(len(queries), k)
    assert got.shape == want.shape and got.dtype == np.int64
    got_d = np.linalg.norm(reference[got] - queries[:, None], axis=2)
    want_d = np.linalg.norm(reference[want] - queries[:, None], axis=2)
    np.testing.assert_allclose(got_d, want_d, rtol=0, atol=1e-12)
    assert (np.diff(got_d, axis=1) >= -1e-12).all()


def test_grid_finds_the_exact_nearest_on_a_surface():
    sphere = on_sphere(6000, 0)
    near = sphere[:2000] + 0.05 * np.random.default_rng(1).normal(size=(2000, 3))
    assert_same_neighbours(sphere, near, 8, area=4 * np.pi)
    assert_same_neighbours(sphere, near, 1, area=4 * np.pi)


def test_grid_widens_where_points_are_sparse_or_far():
    """A dense cluster beside a sparse sheet, queried from far outside: the first grid's
    cells are too small for most queries, which are asked again on wider grids."""
    rng = np.random.default_rng(2)
    sheet = rng.random((3000, 3)) * [1.0, 1.0, 0.0]
    cluster = rng.random((3000, 3)) * 1e-3 + [0.5, 0.5, 0.0]
    points = np.concatenate([sheet, cluster])
    far = rng.random((500, 3)) * [4.0, 4.0, 1.0] - [1.5, 1.5, 0.5]
    assert_same_neighbours(points, far, 12)
    assert_same_neighbours(points, cluster[:300], 16)


@pytest.mark.parametrize("count", [1, 3, 9])
def test_grid_with_fewer_points_than_asked(count):
    points = np.random.default_rng(count).random((count, 3))
    assert_same_neighbours(points, np.random.default_rng(9).random((40, 3)), 8)


def test_grid_on_a_flat_and_a_degenerate_set():
    flat = plane(1.0, 30).vertices  # no extent in one axis
    assert_same_neighbours(flat, flat[::7] + np.array([0.01, 0.0, 0.0]), 6, area=1.0)
    same = np.zeros((50, 3))  # every point at one place
    found = GRID.index(same).query(np.ones((4, 3)), 5)
    assert found.shape == (4, 5) and len(set(found.ravel())) == 5


def test_nearest_others_leave_each_point_out_even_among_duplicates():
    sphere = on_sphere(4000, 3)
    got = GRID.nearest_others(sphere, 8, 4 * np.pi)
    want = KdSearch().nearest_others(sphere, 8)
    assert (got == want).all()
    doubled = np.repeat(sphere[:500], 2, axis=0)  # each point twice: its twin is its nearest
    twins = GRID.nearest_others(doubled, 3)
    assert (twins != np.arange(1000)[:, None]).all()
    assert (twins[:, 0] == np.arange(1000) ^ 1).all()
    assert GRID.nearest_others(sphere[:1], 8).shape == (1, 0)


def distances(points, table):
    return np.linalg.norm(points[table] - points[:, None], axis=2)


@pytest.mark.parametrize("case", ["sphere", "cluster", "outliers", "flat"])
def test_the_cpu_grid_finds_each_points_exact_nearest_others(case):
    """The compiled CPU grid (used from 2,000 points) against the k-d tree: a surface, a
    dense cluster on a sparse sheet, points far from the rest (asked again over wider
    reaches, then by the tree), and a flat set."""
    rng = np.random.default_rng(7)
    points = {"sphere": lambda: on_sphere(30_000, 7),
              "cluster": lambda: np.concatenate([rng.random((8000, 3)) * [1.0, 1.0, 0.0],
                                                 rng.random((8000, 3)) * 1e-3 + [0.5, 0.5, 0.0]]),
              "outliers": lambda: np.concatenate([rng.random((6000, 3)) * [1.0, 1.0, 0.0],
                                                  [[60.0, 60.0, 0.0], [61.0, 60.0, 0.0], [-40.0, 2.0, 0.0]]]),
              "flat": lambda: plane(1.0, 80).vertices}[case]()
    got = grid_nearest_others(points, 8, 4 * np.pi if case == "sphere" else 1.0)
    want = KdSearch().nearest_others(points, 8)
    np.testing.assert_allclose(distances(points, got), distances(points, want), rtol=0, atol=1e-12)
    assert (got != np.arange(len(points))[:, None]).all()


def test_ties_go_to_the_lower_index_on_the_cpu_grid_and_the_torch_grid():
    """A square lattice, where every point has four neighbours at exactly one spacing: both
    grids list them by index, so the two devices' tables are the same."""
    lattice = np.stack(np.meshgrid(np.arange(60.0), np.arange(50.0), [0.0], indexing="ij"), -1).reshape(-1, 3)
    cpu = grid_nearest_others(lattice, 8, float(60 * 50))
    torch_grid = GRID.nearest_others(lattice, 8, float(60 * 50))
    assert (cpu == torch_grid).all()
    d = distances(lattice, cpu)
    tied = d[:, :-1] == d[:, 1:]
    assert tied.any() and (cpu[:, :-1][tied] < cpu[:, 1:][tied]).all()


def test_unique_edges_compiled_and_numpy_agree():
    rng = np.random.default_rng(5)
    first = np.repeat(np.arange(5000), 9)
    second = rng.integers(0, 5000, len(first))
    keys = np.unique(np.minimum(first, second) * 5000 + np.maximum(first, second))
    assert (unique_edges(first, second, 5000) == np.stack([keys // 5000, keys % 5000], 1)).all()


def test_unique_edges_on_the_device_match():
    rng = np.random.default_rng(4)
    first, second = rng.integers(0, 300, 5000), rng.integers(0, 300, 5000)
    assert (GRID.unique_edges(first, second, 300) == unique_edges(first, second, 300)).all()


@pytest.mark.slow
def test_a_scatter_through_the_grid_is_the_k_d_trees_and_repeatable():
    """Exact nearest neighbours give exactly the CPU path's points; the grid's answer does not
    depend on torch's threads; with a density map too."""
    ring = torus(sections=48, rings=24)
    params = ScatterParams(count=600, seed=5)
    cpu = scatter(ring, params)
    threads = torch.get_num_threads()
    try:
        runs = []
        for count in (1, 2):
            torch.set_num_threads(count)
            runs.append(scatter(ring, params, search=GRID))
    finally:
        torch.set_num_threads(threads)
    assert runs[0].stats["device"] == "cpu (torch)" and cpu.stats["device"] == "cpu"
    for run in runs:
        assert run.positions.tobytes() == cpu.positions.tobytes()
        assert run.edges is not None and cpu.edges is not None
        assert run.edges.tobytes() == cpu.edges.tobytes()
    ramp = np.tile(np.linspace(0.1, 1.0, 64, dtype=np.float32)[None, :, None], (32, 1, 1))
    density = DensityMap(Image(ramp, ["Y"], "float"))
    dense = scatter(ring, ScatterParams(count=400, seed=1), density, search=GRID)
    plain = scatter(ring, ScatterParams(count=400, seed=1), density)
    assert dense.positions.tobytes() == plain.positions.tobytes()
    online = ScatterParams(count=200, seed=2, method="online-ng")
    assert scatter(ring, online, search=GRID).positions.tobytes() == scatter(ring, online).positions.tobytes()


def test_auto_looks_for_a_gpu_only_for_large_jobs():
    """Below the threshold 'auto' does not import torch (seconds); a named GPU this machine
    lacks, or an unknown device, is refused with one sentence."""
    code = ("import sys; from openpipeline.engine.scatter.search import pick_search; "
            f"s = pick_search('auto', {AUTO_GPU_MIN_POINTS - 1}); print(s.device, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["cpu", "False"]
    assert isinstance(pick_search("cpu", 10**8), KdSearch)
    big = pick_search("auto", AUTO_GPU_MIN_POINTS)
    assert big.device == ("cuda" if torch.cuda.is_available() else big.device)
    for name in ("gpu", "CUDA", ""):
        with pytest.raises(EngineInputError, match="not known"):
            pick_search(name, 10)
        with pytest.raises(EngineInputError, match="not known"):
            ScatterParams(count=10, device=name).check()
    if not torch.cuda.is_available():
        with pytest.raises(EngineInputError, match="no CUDA GPU"):
            pick_search("cuda", 10)


def test_the_device_is_not_in_the_result_key(tmp_path):
    """A result computed on any device serves every device (as textures do)."""
    mesh = tmp_path / "ring.npz"
    from openpipeline.engine.scatter.job import save_mesh

    save_mesh(torus(sections=12, rings=6), mesh)
    keys = {ScatterJob(str(mesh), ScatterParams(count=50, device=d)).key() for d in ("auto", "cpu", "cuda")}
    assert len(keys) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_the_cli_refuses_a_gpu_it_does_not_have(tmp_path):
    mesh = tmp_path / "ring.npz"
    from openpipeline.engine.scatter.job import save_mesh

    save_mesh(torus(sections=12, rings=6), mesh)
    out = tmp_path / "points.npz"
    result = run_cli("scatter", str(mesh), str(out), "--count", "300", "--device", "cuda", "--quiet")
    assert result.returncode != 0 and not out.exists()
    assert "no CUDA GPU" in one_sentence(result.stderr)
    done = run_cli("scatter", str(mesh), str(out), "--count", "300", "--device", "cpu", "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["count"] == 300
