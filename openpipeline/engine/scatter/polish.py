"""Lloyd polish: moving each point to the centroid of its cell.

Two ways to find the centroids:

* :func:`centroid_step`, *sampled*: the mean of the surface samples a point is
  nearest to (with λ > 0, the neighbourhood-weighted mean of batch neural gas);
* :func:`tangent_voronoi`, *exact*: the centroid of the point's Voronoi cell among
  its nearest neighbours, laid out in its tangent plane (no sampling noise; meant
  for closed meshes with an even density).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from openpipeline.engine.scatter.graph import unique_edges
from openpipeline.engine.scatter.mesh import FloatArray, IntArray

OFFSET_LIMIT = 1e6  # tangent offsets, in nearest-neighbour distances, are clipped to this


def centroid_step(points: FloatArray, samples: FloatArray, lam: float) -> FloatArray:
    """One batch-NG step (a Lloyd step when ``lam`` is 0): neighbourhood-weighted sample
    means; a prototype with no samples keeps its place."""
    n = len(points)
    k = 1 if lam <= 0 else min(16, n, max(1, math.ceil(lam * math.log(1e3))))
    _, idx = cKDTree(points).query(samples, k=k, workers=-1)
    idx = idx.reshape(len(samples), k)
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


def tangent_voronoi(
    points: FloatArray, normals: FloatArray, k: int = 8, want_edges: bool = True,
    neighbours: IntArray | None = None,
) -> tuple[FloatArray, IntArray | None, IntArray]:
    """Exact Voronoi cells of each point among its ``k`` nearest, in its tangent plane.

    Neighbour offsets are laid into the tangent plane keeping their 3D length
    (a first-order exponential map). A cell vertex is an intersection of two
    bisectors that satisfies every other bisector; sorted by angle, the vertices
    give the cell's area and centroid exactly (no sampling noise), and the
    bisectors that carry a vertex are the point's Delaunay neighbours.

    Args:
        neighbours: the (N, k) nearest-neighbour table of an earlier call, to reuse
            while points only settle (saves the k-d tree query).

    Returns:
        Centroids (3D, in the tangent planes; a point whose cell was not found keeps
        its place), Delaunay edges (E, 2) when asked for, and the neighbour table.

    With ``k`` or fewer other points, ``k`` is cut to their number (a single point keeps
    its place and has no edges).

    Cost: about k³ / 2 small float32 operations per point (≈ 3 µs for k = 8).
    """
    k = min(k, len(points) - 1)
    if k < 1:
        return points.copy(), np.zeros((0, 2), np.int64), np.zeros((len(points), 0), np.int64)
    if neighbours is None:
        _, found = cKDTree(points).query(points, k=k + 1, workers=-1)
        neighbours = found[:, 1:]
    t1, t2 = _tangent_frames(normals)
    offsets, unit = _tangent_offsets(points, neighbours, t1, t2)
    vx, vy, valid = _cell_vertices(offsets, k)
    cx, cy = _polygon_centroids(vx, vy, valid)
    cx = cx * unit[:, 0]
    cy = cy * unit[:, 0]
    centroids = points + cx[:, None] * t1 + cy[:, None] * t2
    edges = _delaunay_edges(valid, neighbours, k) if want_edges else None
    return centroids, edges, neighbours


def _tangent_frames(normals: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Two unit tangents (t1, t2) per unit normal, with (t1, t2, normal) right-handed."""
    ref = np.where(np.abs(normals[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    t1 = np.cross(normals, ref)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(normals, t1)
    return t1, t2


def _tangent_offsets(
    points: FloatArray, neighbours: IntArray, t1: FloatArray, t2: FloatArray,
) -> tuple[NDArray[np.float32], FloatArray]:
    """Each neighbour's offset laid into the tangent plane at its 3D length (N, k, 2).

    The offsets are in units of the nearest neighbour's distance (returned, (N, 1)),
    so float32 is then plenty.
    """
    d = points[neighbours] - points[:, None, :]
    q = np.stack([np.einsum("nkc,nc->nk", d, t1), np.einsum("nkc,nc->nk", d, t2)], -1)
    full = np.linalg.norm(d, axis=2)
    flat = np.linalg.norm(q, axis=2)
    unit = full[:, :1]
    # A neighbour straight along the normal (flat 0) or on top of the point (unit 0)
    # has no tangent offset; it stays at 0 instead of dividing by zero.
    stretch = np.divide(full, flat, out=np.zeros_like(full), where=flat > 0)
    q *= (stretch / np.where(unit > 0, unit, 1.0))[..., None]
    # Offsets are clipped where float32 would overflow (a neighbour a million
    # nearest-neighbour distances away bounds no cell).
    np.clip(q, -OFFSET_LIMIT, OFFSET_LIMIT, out=q)
    return q.astype(np.float32), unit


def _bisector_pairs(k: int) -> tuple[IntArray, IntArray]:
    """Every pair (a < b) of ``k`` neighbours: the bisectors that may meet at a cell vertex."""
    first, second = np.triu_indices(k, 1)
    return first.astype(np.int64), second.astype(np.int64)


def _cell_vertices(
    q: NDArray[np.float32], k: int,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.bool_]]:
    """Intersections (x, y) of each pair of bisectors, and which of them are cell vertices.

    Args:
        q: (N, k, 2) neighbour offsets in the tangent plane.

    Returns:
        x and y (N, pairs), and (N, pairs) True where the intersection satisfies every
        bisector (a vertex of the point's cell); pairs are those of :func:`_bisector_pairs`.
    """
    b = 0.5 * np.einsum("nkc,nkc->nk", q, q)
    ia, ib = _bisector_pairs(k)
    qa, qb = q[:, ia], q[:, ib]
    det = qa[..., 0] * qb[..., 1] - qa[..., 1] * qb[..., 0]
    ok = np.abs(det) > 1e-6
    det = np.where(ok, det, np.float32(1.0))
    vx = (b[:, ia] * qb[..., 1] - b[:, ib] * qa[..., 1]) / det
    vy = (qa[..., 0] * b[:, ib] - qb[..., 0] * b[:, ia]) / det
    valid = ok.copy()
    for other in range(k):  # one bisector at a time keeps the temporaries small
        valid &= (vx * q[:, None, other, 0] + vy * q[:, None, other, 1]
                  <= b[:, None, other] + np.float32(1e-5))
    return vx, vy, valid


def pseudo_angle(x: NDArray[np.float32], y: NDArray[np.float32]) -> NDArray[np.float32]:
    """A stand-in for the angle of (x, y) in [0, 4): monotone in the true angle, no trigonometry.

    >>> pseudo_angle(np.array([1, 0, -1, 0], np.float32), np.array([0, 1, 0, -1], np.float32)).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    ax, ay = np.abs(x), np.abs(y)
    ratio = ay / np.maximum(ax + ay, np.float32(1e-30))
    angle = np.where(x >= 0, np.where(y >= 0, ratio, 4 - ratio), np.where(y >= 0, 2 - ratio, 2 + ratio))
    return np.asarray(angle, dtype=np.float32)


def _polygon_centroids(
    vx: NDArray[np.float32], vy: NDArray[np.float32], valid: NDArray[np.bool_],
) -> tuple[FloatArray, FloatArray]:
    """Centroid of each convex polygon given by its ``valid`` vertices in any order.

    The vertices are sorted by angle, then the shoelace formula gives area and
    centroid; a polygon of under 3 vertices or no area gives (0, 0).
    """
    count = valid.sum(1)
    pseudo = np.where(valid, pseudo_angle(vx, vy), np.float32(np.inf))
    order = np.argsort(pseudo, axis=1)
    sx = np.take_along_axis(vx, order, 1).astype(np.float64)
    sy = np.take_along_axis(vy, order, 1).astype(np.float64)
    j = np.arange(sx.shape[1])[None, :]
    following = np.where(j + 1 < count[:, None], j + 1, 0)
    nx = np.take_along_axis(sx, following, 1)
    ny = np.take_along_axis(sy, following, 1)
    use = j < count[:, None]
    cross = np.where(use, sx * ny - nx * sy, 0.0)
    area = 0.5 * cross.sum(1)
    cx = np.where(use, (sx + nx) * cross, 0.0).sum(1)
    cy = np.where(use, (sy + ny) * cross, 0.0).sum(1)
    good = (count >= 3) & (area > 0)
    safe = np.where(good, 6 * area, 1.0)
    return np.where(good, cx / safe, 0.0), np.where(good, cy / safe, 0.0)


def _delaunay_edges(valid: NDArray[np.bool_], neighbours: IntArray, k: int) -> IntArray:
    """The edges from each point to the neighbours whose bisector carries a vertex of its cell."""
    n = len(neighbours)
    ia, ib = _bisector_pairs(k)
    incidence = np.zeros((len(ia), k), np.int32)
    incidence[np.arange(len(ia)), ia] = 1
    incidence[np.arange(len(ia)), ib] = 1
    touches = (valid.astype(np.int32) @ incidence) > 0
    rows = np.broadcast_to(np.arange(n)[:, None], (n, k))
    return unique_edges(rows[touches], neighbours[touches], n)
