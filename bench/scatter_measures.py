"""The scatter benchmark's parts: a third mesh, a density estimator, a profile of the stages.

* :func:`terrain`: an OPEN terrain patch with cliffs (a boundary and sharp creases),
  deterministic, built from :func:`~openpipeline.engine.scatter.primitives.plane`.
* :func:`kernel_density_fit`: the density slope measured so that a sample with exactly
  the map's density reads 1 at any count (the k-NN measure of
  :func:`~openpipeline.engine.scatter.quality.density_fit` reads low at 1,000 points,
  see :func:`reference_sample`).
* :func:`profile_stages`: where our scatter spends its time, per function of
  ``openpipeline.engine.scatter`` (its own time plus the library calls it makes).
* :func:`off_surface`: how far points lie from the mesh (geogram's CVT returns cell
  centroids, which leave a curved surface).
"""

from __future__ import annotations

import cProfile
import math
import pstats
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from openpipeline.engine.scatter import DensityMap, Mesh, quality
from openpipeline.engine.scatter.mesh import FloatArray, face_areas
from openpipeline.engine.scatter.primitives import plane

OUR_CODE = "openpipeline/engine/scatter/"


def terrain(divisions: int = 192) -> Mesh:
    """An open 2 × 2 terrain patch (Y up, UVs) with rolling hills, a 0.35-high cliff along a
    curve and a 0.15-high ledge across it: a boundary, steep faces and sharp creases.

    The cliff rises over 0.04 units (a slope of about 9:1, 84°), the ledge over 0.03;
    their tops and feet are creases one grid cell wide. No randomness, no data files.
    """
    base = plane(2.0, divisions)
    x, z = base.vertices[:, 0], base.vertices[:, 2]
    hills = 0.08 * (np.sin(3 * x + 1) * np.cos(2.5 * z) + 0.5 * np.sin(7 * x - 4 * z))
    cliff = 0.35 * np.clip((z - 0.3 * np.sin(2 * x) + 0.02) / 0.04, 0, 1)
    ledge = 0.15 * np.clip((x - 0.45 + 0.25 * z + 0.015) / 0.03, 0, 1)
    vertices = np.stack([x, hills + cliff + ledge, z], 1)
    return Mesh(vertices, base.faces, base.corner_uvs, name="terrain")


def off_surface(mesh: Mesh, points: FloatArray) -> tuple[float, FloatArray] | None:
    """The largest distance from ``points`` to the mesh relative to the hexagonal spacing, and
    the points moved onto the mesh (their closest points); None without point-cloud-utils."""
    try:
        import point_cloud_utils as pcu
    except ImportError:
        return None
    faces = mesh.faces.astype(np.int32)
    dist, face_ids, bary = pcu.closest_points_on_mesh(np.ascontiguousarray(points, np.float64),
                                                      mesh.vertices, faces)
    snapped = np.asarray(pcu.interpolate_barycentric_coords(faces, face_ids, bary, mesh.vertices), np.float64)
    area = float(face_areas(mesh.vertices, mesh.faces).sum())
    return float(np.abs(dist).max() / quality.hex_spacing(area, len(points))), snapped


def _map_at(mesh: Mesh, density: DensityMap, faces: Any, bary: FloatArray) -> FloatArray:
    """The map's value at surface samples (through the mesh's UVs)."""
    assert mesh.corner_uvs is not None
    return density.lookup(np.einsum("nk,nkc->nc", bary, mesh.corner_uvs[faces]))


def reference_sample(mesh: Mesh, density: DensityMap, count: int, seed: int) -> tuple[FloatArray, FloatArray]:
    """``count`` independent points with exactly the map's density (rejection sampling), and
    the map's value at each: what a density measure must read slope 1 on.

    Cost: a few uniform samples a point.
    """
    rng = np.random.default_rng(seed)
    peak = float(density.values.max())
    kept: list[FloatArray] = []
    values: list[FloatArray] = []
    total = 0
    while total < count:
        positions, faces, bary = quality.uniform_samples(mesh, 4 * count, int(rng.integers(2**31)))
        p = _map_at(mesh, density, faces, bary)
        keep = rng.random(len(p)) * peak < p
        kept.append(positions[keep])
        values.append(p[keep])
        total += int(keep.sum())
    return np.concatenate(kept)[:count], np.concatenate(values)[:count]


def kernel_density_fit(mesh: Mesh, density: DensityMap, points: FloatArray, *, expected: int = 20,
                       sites: int = 4000, seed: int = 7) -> quality.DensityFit:
    """Slope and correlation of log measured against log target density, kernel-matched.

    At ``sites`` random surface places, a ball whose radius holds ``expected`` points
    where the map is followed exactly (so it adapts to the local spacing) counts the
    points; the same ball, restricted to the surface, is measured by uniform probes (its
    area) and by probes drawn ∝ the map (the points it should hold). Measured and target
    density are both averages over the same piece of surface, so smoothing, curvature and
    a ball reaching across the torus's tube cancel: a sample with exactly the map's
    density reads slope 1 (:func:`reference_sample`), whatever the count.

    100 probes a point (50,000 to 4,000,000) keep the measure's own noise (2,000 probes a
    ball, 800 at 100,000 points) under 1 % of the slope. The balls overlap, so at 1,000 points they hold about
    N / ``expected`` = 50 independent counts: a Poisson sample's slope then scatters by
    about ±0.03 from seed to seed (an even scatter's counts vary far less). The slope is
    fitted to sums over 12 quantiles of the target (the log of one small count is biased
    low); the correlation is that of the single balls.

    Cost: three k-d trees and ball counts (about 3 s at 100,000 points).
    """
    n = len(points)
    budget = min(max(50_000, 100 * n), 4_000_000)
    probes, faces, bary = quality.uniform_samples(mesh, budget, seed)
    p = _map_at(mesh, density, faces, bary)
    area = float(face_areas(mesh.vertices, mesh.faces).sum())
    rng = np.random.default_rng(seed + 1)
    cumulative = np.cumsum(p)
    drawn = np.searchsorted(cumulative, (np.arange(budget) + rng.random()) * (cumulative[-1] / budget))
    weighted = probes[np.minimum(drawn, budget - 1)]
    site = probes[:sites]
    rho = n * p[:sites] / (float(p.mean()) * area)  # points per unit area where the map is followed
    radius = np.sqrt(expected / (math.pi * rho))
    surface = cKDTree(probes).query_ball_point(site, radius, return_length=True)
    target = cKDTree(weighted).query_ball_point(site, radius, return_length=True)
    found = cKDTree(points).query_ball_point(site, radius, return_length=True)
    ball_area = area * surface / budget
    expected_count = n * target / budget
    x = np.log(expected_count / ball_area)
    use = found > 0
    y = np.log(found[use] / ball_area[use])
    return {"slope": _binned_slope(x, found, expected_count, ball_area),
            "correlation": float(np.corrcoef(x[use], y)[0, 1])}


def _binned_slope(x: FloatArray, found: Any, expected_count: FloatArray, ball_area: FloatArray,
                  bins: int = 12) -> float:
    """The slope of log measured against log target density over ``bins`` quantiles of the
    target, each from sums of counts and areas (the log of one small count is biased low by
    about 1 / (2 count), which would tilt the slope where counts are noisy)."""
    edges = np.quantile(x, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    sums = [np.bincount(which, values, bins) for values in (found, expected_count, ball_area)]
    slope, _ = np.polyfit(np.log(sums[1] / sums[2]), np.log(sums[0] / sums[2]), 1)
    return float(slope)


def _label(func: tuple[str, int, str]) -> str:
    """``module.function`` of a profiler entry of ours."""
    filename, _, name = func
    module = filename.rsplit("/", 1)[-1].removesuffix(".py")
    return f"{module}.{name}"


def stage_times(stats: pstats.Stats) -> dict[str, float]:
    """Seconds per function of ours: its own time plus the calls it makes into other code
    (NumPy, SciPy, compiled kernels), so the stages add up to the whole run."""
    stages: dict[str, float] = {}
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for func, (_, _, own, _, callers) in table.items():
        mine = OUR_CODE in func[0]
        if mine:
            stages[_label(func)] = stages.get(_label(func), 0.0) + own
        for caller, edge in callers.items():
            if not mine and OUR_CODE in caller[0]:
                stages[_label(caller)] = stages.get(_label(caller), 0.0) + edge[3]
    return stages


def profile_stages(call: Callable[[], object], top: int = 5) -> tuple[float, list[tuple[str, float]]]:
    """Run ``call`` once under cProfile: its seconds (profiled, so slower than a timed run)
    and its ``top`` stages with their share of that time, largest first."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(call)
    seconds = time.perf_counter() - start
    stages = stage_times(pstats.Stats(profiler))
    ranked = sorted(stages.items(), key=lambda item: -item[1])[:top]
    return seconds, [(name, spent / seconds) for name, spent in ranked]
