"""The scatter benchmark's own parts: its third mesh, its density measure, its profile, its run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from openpipeline.engine.scatter import Mesh, ScatterParams, scatter
from openpipeline.engine.scatter.mesh import check_mesh, is_closed
from openpipeline.engine.scatter.primitives import torus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import scatter_bench
import scatter_measures


def test_the_terrain_is_open_manifold_and_the_same_every_time():
    """The third mesh has a boundary, passes the mesh checks, has UVs and cliffs, and repeats."""
    ground = scatter_measures.terrain(64)
    check_mesh(ground)
    assert not is_closed(ground) and ground.corner_uvs is not None
    assert np.array_equal(ground.vertices, scatter_measures.terrain(64).vertices)
    normals = np.cross(*(ground.vertices[ground.faces[:, i]] - ground.vertices[ground.faces[:, 0]]
                         for i in (1, 2)))
    upright = np.abs(normals[:, 1]) / np.linalg.norm(normals, axis=1)
    assert (upright < 0.3).any()  # cliff faces steeper than about 73°


def power_sample(ring: Mesh, density: scatter_bench.DensityMap, count: int, power: float) -> np.ndarray:
    """Independent points with density ∝ map^power (rejection sampling)."""
    rng = np.random.default_rng(5)
    positions, faces, bary = scatter_measures.quality.uniform_samples(ring, 20 * count, 9)
    assert ring.corner_uvs is not None
    p = density.lookup(np.einsum("nk,nkc->nc", bary, ring.corner_uvs[faces])) ** power
    keep = rng.random(len(p)) * p.max() < p
    assert keep.sum() >= count
    return positions[keep][:count]


@pytest.mark.parametrize("power", [1.0, 0.5])
def test_the_kernel_density_measure_reads_the_slope_a_sample_has(power):
    """3,000 independent points ∝ map^power on the torus read slope ≈ power."""
    ring, density = torus(), scatter_bench.ten_to_one_map()
    fit = scatter_measures.kernel_density_fit(ring, density, power_sample(ring, density, 3000, power))
    assert fit["slope"] == pytest.approx(power, abs=0.06)


def test_the_profile_names_our_stages_and_their_shares():
    """A small scatter's stages are functions of the scatter engine, largest first, summing to ≤ 1.

    Warmed up first, as the bench does: a first call imports the compiled kernels inside the
    profiled run, and an import's time is counted both under the importer and the module."""
    scatter(torus(), ScatterParams(count=300))
    seconds, stages = scatter_measures.profile_stages(lambda: scatter(torus(), ScatterParams(count=300)))
    shares = [share for _, share in stages]
    assert seconds > 0 and len(stages) == 5 and shares == sorted(shares, reverse=True)
    assert 0 < sum(shares) <= 1.0 + 1e-9
    assert all("." in name for name, _ in stages)


@pytest.mark.slow
def test_a_small_bench_run_writes_its_tables_json_and_met_lines(tmp_path, capsys):
    """The bench end to end, small: every table, the met lines, the markdown and the JSON."""
    markdown, figures = tmp_path / "results.md", tmp_path / "results.json"
    # geogram (point-cloud-utils, the bench extra) is not installed by `make test`: ours alone
    scatter_bench.main(["--counts", "300", "--meshes", "terrain", "--samples", "20000", "--threads", "all",
                        "--skip-baselines",
                        "--repeats", "2", "--markdown", str(markdown), "--json", str(figures)])
    text = markdown.read_text(encoding="utf-8")
    assert text == capsys.readouterr().out
    for expected in ("| terrain | 300 | batch-ng (ours) | 300 |", "| yes |", "reference: exact density",
                     "- time ≤ geogram's", "- density slope"):
        assert expected in text
    rows = json.loads(figures.read_text())
    assert {row["method"] for row in rows} >= {"batch-ng (ours)", "batch-ng density"}
    ours = next(row for row in rows if row["method"] == "batch-ng (ours)")
    assert ours["stages"].count("%") == 5 and ours["repeatable"] is True
