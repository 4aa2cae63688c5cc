"""Lloyd polish: moving each point to the centroid of its cell.

Two ways to find the centroids:

* :func:`centroid_step`, *sampled*: the mean of the surface samples a point is
  nearest to (with λ > 0, the neighbourhood-weighted mean of batch neural gas);
* :func:`restricted_lloyd`, *exact*: the centroid of the point's restricted Voronoi
  cell (the mesh clipped by the bisector planes of its nearest neighbours; no
  sampling noise), weighted by the density where there is one, cut at borders.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from openpipeline.engine.scatter.mesh import FloatArray, IntArray, Mesh, Samples
from openpipeline.engine.scatter.search import KdSearch, Search


def centroid_step(points: FloatArray, samples: FloatArray, lam: float, search: Search | None = None,
                  area: float | None = None) -> FloatArray:
    """One batch-NG step (a Lloyd step when ``lam`` is 0): neighbourhood-weighted sample
    means; a prototype with no samples keeps its place. ``search`` finds each sample's
    nearest prototypes (the k-d tree by default; ``area``: the surface's, for a grid);
    the sums are taken here, in an order that does not depend on it."""
    n = len(points)
    k = 1 if lam <= 0 else min(16, n, max(1, math.ceil(lam * math.log(1e3))))
    idx = (KdSearch() if search is None else search).index(points, area).query(samples, k)
    if lam <= 0:
        owner = idx[:, 0]
        total: FloatArray = np.bincount(owner, minlength=n).astype(np.float64)
        sums = np.stack([np.bincount(owner, samples[:, c], n) for c in range(3)], 1)
    else:
        w = np.exp(-np.arange(k) / lam)
        flat = idx.ravel()
        weights = np.tile(w, len(samples))
        total = np.bincount(flat, weights, n).astype(np.float64)
        sums = np.stack([np.bincount(flat, weights * np.repeat(samples[:, c], k), n)
                         for c in range(3)], 1)
    means = points.copy()
    filled = total > 0
    means[filled] = sums[filled] / total[filled, None]
    return np.asarray(means, dtype=np.float64)


def nearest_others(points: FloatArray, k: int, search: Search | None = None,
                   area: float | None = None) -> IntArray:
    """Each point's ``k`` nearest other points (N, k); ``k`` is cut to their number."""
    return (KdSearch() if search is None else search).nearest_others(points, k, area)


def touching_edges(touches: NDArray[np.bool_], neighbours: IntArray,
                   search: Search | None = None) -> IntArray:
    """The Delaunay edges: each point to the neighbours whose bisector bounds its cell."""
    n = len(neighbours)
    rows = np.broadcast_to(np.arange(n)[:, None], neighbours.shape)
    return (KdSearch() if search is None else search).unique_edges(rows[touches], neighbours[touches], n)


def restricted_lloyd(
    on_surface: Samples, normals: FloatArray, neighbours: IntArray, mesh: Mesh, adjacent: IntArray,
    log_density: FloatArray | None = None, omega: float = 1.0,
) -> tuple[Samples, NDArray[np.bool_], NDArray[np.bool_]]:
    """One Lloyd step with the exact centroids of the restricted Voronoi cells of points on
    the mesh (compiled; :mod:`.kernels`).

    Args:
        on_surface: the points, on the surface, with the faces they lie on.
        normals: (N, 3) unit normals at the points (to fit the density's gradient).
        neighbours: (N, k) each point's nearest other points.
        mesh, adjacent: the mesh and its :func:`~.mesh.face_adjacency`.
        log_density: (N,) log density at the points (density maps); the centroid is then
            weighted by a density log-linear over the cell.
        omega: the points move ω times the way to their centroids (over-relaxation).

    Returns:
        The moved points, on the surface; (N, k) True where a neighbour's bisector
        bounds the cell (the Delaunay neighbours); (N,) True where the cell reaches
        the mesh's border.

    Cost: about k · (faces a cell touches) small clips per point, compiled (≈ 10 µs).
    """
    from openpipeline.engine.scatter import kernels  # here: importing numba takes 0.2 s

    n = len(on_surface.positions)
    logs = np.zeros(0) if log_density is None else np.ascontiguousarray(log_density, dtype=np.float64)
    moved = np.empty((n, 3))
    moved_faces = np.empty(n, np.int64)
    moved_bary = np.empty((n, 3))
    touches = np.zeros(neighbours.shape, np.bool_)
    bordered = np.zeros(n, np.bool_)
    mesh_arrays = (np.ascontiguousarray(mesh.vertices, dtype=np.float64),
                   np.ascontiguousarray(mesh.faces, dtype=np.int64), adjacent)
    start = (np.ascontiguousarray(on_surface.face_ids, dtype=np.int64),
             np.ascontiguousarray(on_surface.barycentrics, dtype=np.float64))
    kernels.restricted_cells(np.ascontiguousarray(on_surface.positions, dtype=np.float64),
                             np.ascontiguousarray(normals, dtype=np.float64), start,
                             np.ascontiguousarray(neighbours, dtype=np.int64), mesh_arrays, logs,
                             (float(omega), max(1, min(kernels.threads(), n))),
                             (moved, moved_faces, moved_bary, touches, bordered))
    return Samples(moved, moved_faces, moved_bary), touches, bordered
