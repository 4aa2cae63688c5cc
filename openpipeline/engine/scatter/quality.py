"""How even a point distribution is: the figures of the scatter benchmark.

* **NQE**, normalised quantisation error: (N / area) · mean squared distance
  from uniform surface samples to the nearest point, divided by the hexagonal
  lattice's 0.16037 (so 1.0 is the optimum; uniform random points score about 1.98).
* **Nearest-neighbour distances** relative to the hexagonal spacing
  √(2A / (√3 N)): the minimum shows clumps, the mean overall evenness.
* **Coverage**: the largest distance from any surface sample to its nearest
  point, relative to the hexagonal covering radius spacing/√3 (holes show here).
* **Weighted NQE**: the same for points that follow a density map, against the
  optimum for that map (:func:`weighted_nqe`).
* **Density slope**: slope and correlation of log local point density against
  log target density (1 and 1 when the points follow the map exactly).

The samples here are plain random (not the scatter's own sampler), so the
measure is independent of the method it judges.
"""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
from scipy.spatial import cKDTree

from openpipeline.engine.scatter.mesh import FloatArray, IntArray, Mesh, WeightFunction, face_areas

HEX_NQE = 5 / (18 * math.sqrt(3))


class Evenness(TypedDict):
    """The figures of :func:`evenness` (see the module's description)."""

    nqe: float
    min_nn: float
    mean_nn: float
    coverage: float


class DensityFit(TypedDict):
    """The figures of :func:`density_fit`."""

    slope: float
    correlation: float


def uniform_samples(mesh: Mesh, count: int, seed: int) -> tuple[FloatArray, IntArray, FloatArray]:
    """Plain random area-uniform samples: positions, face ids, barycentrics."""
    rng = np.random.default_rng(seed)
    areas = face_areas(mesh.vertices, mesh.faces)
    cumulative = np.cumsum(areas)
    faces = np.minimum(np.searchsorted(cumulative, rng.random(count) * cumulative[-1]), len(areas) - 1)
    r1 = np.sqrt(rng.random(count))
    r2 = rng.random(count)
    bary = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], 1)
    tri = mesh.vertices[mesh.faces[faces]]
    return np.einsum("nk,nkc->nc", bary, tri), faces, bary


def hex_spacing(area: float, count: int) -> float:
    """The spacing of ``count`` points on a hexagonal lattice covering ``area``."""
    return math.sqrt(2 * area / (math.sqrt(3) * count))


def evenness(mesh: Mesh, points: FloatArray, samples: int = 1_000_000, seed: int = 12345) -> Evenness:
    """How evenly ``points`` cover ``mesh``: NQE, nearest-neighbour spacing and coverage.

    ``samples`` plain random surface samples (from ``seed``) measure the
    quantisation error and the coverage.

    Cost: one k-d tree query per sample (about 1 s per million samples).
    """
    area = float(face_areas(mesh.vertices, mesh.faces).sum())
    n = len(points)
    tree = cKDTree(points)
    probe, _, _ = uniform_samples(mesh, samples, seed)
    dist, _ = tree.query(probe, workers=-1)
    spacing = hex_spacing(area, n)
    nn, _ = tree.query(points, k=2, workers=-1)
    nearest = nn[:, 1]
    return {
        "nqe": float(n / area * np.mean(dist**2) / HEX_NQE),
        "min_nn": float(nearest.min() / spacing),
        "mean_nn": float(nearest.mean() / spacing),
        "coverage": float(dist.max() / (spacing / math.sqrt(3))),
    }


def weighted_nqe(mesh: Mesh, points: FloatArray, target: WeightFunction, samples: int = 1_000_000,
                 seed: int = 12345) -> float:
    """The NQE of points meant to follow a density map: 1.0 when they are an optimal
    quantiser for it.

    ``target`` gives the wanted point density p (at faces and barycentrics, in any unit).
    A quantiser of N points follows p when it minimises the error weighted by ρ = p²
    (on a surface, points settle at density ∝ ρ^½), and the least such error is
    ``HEX_NQE · (∫ρ^½)² / N`` (Gersho); this returns the points' error over that.
    With an even target it is :func:`evenness`'s NQE.

    Cost: as :func:`evenness`, plus one density lookup per sample.
    """
    probe, faces, bary = uniform_samples(mesh, samples, seed)
    area = float(face_areas(mesh.vertices, mesh.faces).sum())
    density = np.clip(target(faces, bary), 0.0, None)
    dist, _ = cKDTree(points).query(probe, workers=-1)
    rho = density**2
    error = area * float(np.mean(rho * dist**2))
    optimum = HEX_NQE * (area * float(np.mean(density))) ** 2 / len(points)
    return error / optimum


def density_fit(points: FloatArray, target: FloatArray, k: int = 12) -> DensityFit:
    """Slope and correlation of log local density (k-NN) against log target density."""
    radius, _ = cKDTree(points).query(points, k=k + 1, workers=-1)
    local = k / (math.pi * radius[:, -1] ** 2)
    x = np.log(target)
    y = np.log(local)
    slope, _ = np.polyfit(x, y, 1)
    return {"slope": float(slope), "correlation": float(np.corrcoef(x, y)[0, 1])}


def summary(mesh: Mesh, points: FloatArray, samples: int = 200_000) -> Evenness:
    """A quick :func:`evenness` estimate for a CLI summary (fewer samples than the benchmark)."""
    return evenness(mesh, points, samples=samples)
