"""Compiled kernels of the exact polish (numba): restricted Voronoi cells on a mesh.

Each point's cell is the part of the mesh nearer to it than to any of its nearest
neighbours, built face by face (:func:`restricted_cells`); its centroid is taken
exactly, with an even density or with one that varies log-linearly over the cell
(fitted to the density at the point and its neighbours).

Compiling: the functions are compiled on first use and cached on disk (numba's
``cache=True``: next to this file, or in the user's cache folder when this folder
is read-only, as in a studio install). When no cache folder can be written, they
are compiled in memory for each process instead (about 2 s) — never an error.
Each point is computed alone, in order, so the result is bit-identical whatever
the thread settings.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

def threads() -> int:
    """How many threads numba's parallel loops use (``NUMBA_NUM_THREADS``, else every core)."""
    return int(numba.get_num_threads())


def compiled(function: F) -> F:
    """``numba.njit`` with an on-disk cache, or without one where no cache folder can be written."""
    return _jit(function, parallel=False)


def parallel(function: F) -> F:
    """:func:`compiled`, with its ``numba.prange`` loops shared among numba's threads."""
    return _jit(function, parallel=True)


def _jit(function: F, parallel: bool) -> F:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaWarning)
            return cast(F, numba.njit(cache=True, nogil=True, parallel=parallel)(function))
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return cast(F, numba.njit(cache=False, nogil=True, parallel=parallel)(function))


@compiled
def _frame(nx: float, ny: float, nz: float) -> tuple[float, float, float, float, float, float]:
    """Two unit tangents (t1, t2) of a unit normal, (t1, t2, n) right-handed."""
    if abs(nx) < 0.9:
        rx, ry, rz = 1.0, 0.0, 0.0
    else:
        rx, ry, rz = 0.0, 1.0, 0.0
    ax = ny * rz - nz * ry
    ay = nz * rx - nx * rz
    az = nx * ry - ny * rx
    length = math.sqrt(ax * ax + ay * ay + az * az)
    if length == 0.0:
        return 1.0, 0.0, 0.0, 0.0, 1.0, 0.0
    ax, ay, az = ax / length, ay / length, az / length
    return ax, ay, az, ny * az - nz * ay, nz * ax - nx * az, nx * ay - ny * ax


@compiled
def _gradient(ox: Any, oy: Any, values: Any, k: int) -> tuple[float, float]:
    """The least-squares gradient of ``values`` (already relative to the centre) at offsets."""
    sxx = sxy = syy = hx = hy = 0.0
    for j in range(k):
        sxx += ox[j] * ox[j]
        sxy += ox[j] * oy[j]
        syy += oy[j] * oy[j]
        hx += ox[j] * values[j]
        hy += oy[j] * values[j]
    det = sxx * syy - sxy * sxy
    if det <= 1e-12 * (sxx + syy) ** 2:
        return 0.0, 0.0
    return (syy * hx - sxy * hy) / det, (sxx * hy - sxy * hx) / det


FACE_POLYGON_CAPACITY = 48  # vertices a clipped face may hold


@compiled
def _clip3(polygon: Any, count: int, plane: Any, tag: int, clipped: Any) -> int:
    """Clip the convex 3D polygon to n·x ≤ b; the result goes to ``clipped`` and its vertex
    count is returned.

    A polygon is (vertices (C, 3), labels (C,)): label i names the constraint of the
    edge from vertex i to vertex i + 1; the new edge on the plane gets ``tag``.
    """
    px, label = polygon
    qx, qlabel = clipped
    out = 0
    room = qx.shape[0] - 1  # a convex polygon gains one vertex at most; rounding could make more
    for i in range(count):
        if out >= room:
            break
        j = i + 1 if i + 1 < count else 0
        si = plane[0] * px[i, 0] + plane[1] * px[i, 1] + plane[2] * px[i, 2] - plane[3]
        sj = plane[0] * px[j, 0] + plane[1] * px[j, 1] + plane[2] * px[j, 2] - plane[3]
        if si <= 0.0:
            for c in range(3):
                qx[out, c] = px[i, c]
            qlabel[out] = label[i]
            out += 1
        if (si <= 0.0) != (sj <= 0.0):
            t = si / (si - sj)
            for c in range(3):
                qx[out, c] = px[i, c] + t * (px[j, c] - px[i, c])
            qlabel[out] = tag if si <= 0.0 else label[i]
            out += 1
    return out


@compiled
def _inside(px: Any, count: int, plane: Any) -> bool:
    """True when every vertex of the polygon px[:count] satisfies n·x ≤ b."""
    for v in range(count):
        if plane[0] * px[v, 0] + plane[1] * px[v, 1] + plane[2] * px[v, 2] > plane[3]:
            return False
    return True


@compiled
def _clip_face(corners: Any, planes: Any, polygon: Any, clipped: Any) -> int:
    """The face (3, 3) clipped by every plane (rows n, b) into ``polygon``; its vertex count.

    Face edges are labelled -3, -2, -1 (from corner e to e + 1), planes by their row.
    """
    px, label = polygon
    qx, qlabel = clipped
    for c in range(3):
        for d in range(3):
            px[c, d] = corners[c, d]
        label[c] = c - 3
    count = 3
    for j in range(planes.shape[0]):
        if _inside(px, count, planes[j]):
            continue
        if count + 2 >= FACE_POLYGON_CAPACITY:
            break
        count = _clip3(polygon, count, planes[j], j, clipped)
        for v in range(count):  # copied back: swapping the buffers slows numba down 2×
            for d in range(3):
                px[v, d] = qx[v, d]
            label[v] = qlabel[v]
        if count == 0:
            break
    return count


@compiled
def _accumulate(px: Any, count: int, centre: Any, g: Any, sums: Any) -> None:
    """Add a planar polygon's mass and first moment under the density exp(g·(x - centre)),
    taken linear over each fan triangle, to ``sums`` (mass, mx, my, mz); g = 0: even."""
    even = g[0] == 0.0 and g[1] == 0.0 and g[2] == 0.0
    r0 = 1.0 if even else _relative_density(px, 0, centre, g)
    r1 = 1.0 if even else _relative_density(px, 1, centre, g)
    for i in range(1, count - 1):
        r2 = 1.0 if even else _relative_density(px, i + 1, centre, g)
        ux, uy, uz = px[i, 0] - px[0, 0], px[i, 1] - px[0, 1], px[i, 2] - px[0, 2]
        vx, vy, vz = px[i + 1, 0] - px[0, 0], px[i + 1, 1] - px[0, 1], px[i + 1, 2] - px[0, 2]
        cx, cy, cz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        area = 0.5 * math.sqrt(cx * cx + cy * cy + cz * cz)
        total = r0 + r1 + r2
        sums[0] += area * total / 3.0
        for c in range(3):
            sums[1 + c] += area / 12.0 * ((total + r0) * px[0, c] + (total + r1) * px[i, c]
                                          + (total + r2) * px[i + 1, c])
        r1 = r2


@compiled
def _relative_density(px: Any, v: int, centre: Any, g: Any) -> float:
    """exp(g · (vertex v - centre)): the density at a vertex relative to the cell's point."""
    return math.exp(g[0] * (px[v, 0] - centre[0]) + g[1] * (px[v, 1] - centre[1])
                    + g[2] * (px[v, 2] - centre[2]))


@compiled
def _density_gradient(points: Any, normals: Any, neighbours: Any, log_density: Any, i: int,
                      g: Any) -> None:
    """The tangent gradient of the log density at point i, fitted to its neighbours (into g)."""
    k = neighbours.shape[1]
    ox, oy, values = np.empty(k), np.empty(k), np.empty(k)
    t1x, t1y, t1z, t2x, t2y, t2z = _frame(normals[i, 0], normals[i, 1], normals[i, 2])
    for j in range(k):
        other = neighbours[i, j]
        dx = points[other, 0] - points[i, 0]
        dy = points[other, 1] - points[i, 1]
        dz = points[other, 2] - points[i, 2]
        ox[j] = dx * t1x + dy * t1y + dz * t1z
        oy[j] = dx * t2x + dy * t2y + dz * t2z
        values[j] = log_density[other] - log_density[i]
    gx, gy = _gradient(ox, oy, values, k)
    g[0] = gx * t1x + gy * t2x
    g[1] = gx * t1y + gy * t2y
    g[2] = gx * t1z + gy * t2z


@compiled
def _dot_from(corners: Any, a: int, b: int, p: Any, c: int) -> float:
    """(corner b - corner a) · (p - corner c)."""
    total = 0.0
    for d in range(3):
        total += (corners[b, d] - corners[a, d]) * (p[d] - corners[c, d])
    return total


@compiled
def _closest_on_triangle(p: Any, corners: Any, out: Any, bary: Any) -> float:
    """The closest point to p on the triangle ``corners`` (3, 3) into ``out`` and its
    barycentrics into ``bary``; returns its squared distance (Ericson, *Real-Time
    Collision Detection*, 5.1.5)."""
    d1, d2 = _dot_from(corners, 0, 1, p, 0), _dot_from(corners, 0, 2, p, 0)
    d3, d4 = _dot_from(corners, 0, 1, p, 1), _dot_from(corners, 0, 2, p, 1)
    d5, d6 = _dot_from(corners, 0, 1, p, 2), _dot_from(corners, 0, 2, p, 2)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    v, w = 0.0, 0.0  # region of corner a
    if d1 <= 0.0 and d2 <= 0.0:
        pass
    elif d3 >= 0.0 and d4 <= d3:
        v = 1.0
    elif d6 >= 0.0 and d5 <= d6:
        w = 1.0
    elif vc <= 0.0 and d1 >= 0.0 and d3 <= 0.0 and d1 - d3 > 0.0:  # (an edge of no length: on)
        v = d1 / (d1 - d3)
    elif vb <= 0.0 and d2 >= 0.0 and d6 <= 0.0 and d2 - d6 > 0.0:
        w = d2 / (d2 - d6)
    elif va <= 0.0 and d4 - d3 >= 0.0 and d5 - d6 >= 0.0 and (d4 - d3) + (d5 - d6) > 0.0:
        w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        v = 1.0 - w
    elif va + vb + vc > 0.0:  # else a flat face: its corner a
        v, w = vb / (va + vb + vc), vc / (va + vb + vc)
    bary[0], bary[1], bary[2] = 1.0 - v - w, v, w
    gap = 0.0
    for c in range(3):
        out[c] = corners[0, c] + v * (corners[1, c] - corners[0, c]) + w * (corners[2, c] - corners[0, c])
        gap += (out[c] - p[c]) ** 2
    return gap


@compiled
def _bisector_planes(points: Any, neighbours: Any, i: int, planes: Any) -> None:
    """The bisector planes n·x ≤ b of point i and each neighbour, as rows (n, b) of ``planes``."""
    for j in range(neighbours.shape[1]):
        other = neighbours[i, j]
        b = 0.0
        for c in range(3):
            planes[j, c] = points[other, c] - points[i, c]
            b += planes[j, c] * (points[other, c] + points[i, c])
        planes[j, 3] = 0.5 * b


@compiled
def _corners(mesh: Any, f: int, corners: Any) -> Any:
    """The three corners of face f of ``mesh`` (vertices, faces, adjacent) into (3, 3)."""
    vertices, faces, _ = mesh
    for c in range(3):
        for d in range(3):
            corners[c, d] = vertices[faces[f, c], d]
    return corners


@compiled
def _walk_cell(i: int, start: int, centre: Any, mesh: Any, planes: Any, g: Any, scratch: Any,
               state: Any) -> int:
    """Build point i's cell face by face from face ``start``, adding its mass and first
    moment into ``scratch``'s sums; returns how many faces it visited.

    ``state`` is (stamp, queue, touches, bordered): the faces visited are queue[:count];
    the neighbours whose bisectors bound the cell and whether it reaches a border are
    marked in touches[i] and bordered[i].
    """
    adjacent = mesh[2]
    polygon, clipped, corners, sums = scratch[0], scratch[1], scratch[2], scratch[3]
    stamp, queue, touches, bordered = state
    queue[0] = start
    stamp[start] = i
    head, tail = 0, 1
    while head < tail:
        f = queue[head]
        head += 1
        count = _clip_face(_corners(mesh, f, corners), planes, polygon, clipped)
        if count < 3:
            continue
        _accumulate(polygon[0], count, centre, g, sums)
        for v in range(count):
            edge = polygon[1][v]
            if edge >= 0:
                touches[i, edge] = True
                continue
            across = adjacent[f, edge + 3]
            if across < 0:
                bordered[i] = True
            elif stamp[across] != i:
                stamp[across] = i
                queue[tail] = across
                tail += 1
    return tail


@compiled
def _settle(target: Any, visited: Any, mesh: Any, scratch: Any, out: Any, i: int) -> None:
    """Put point i at the closest point to ``target`` on the faces its cell visited (into
    ``out``: positions, faces, barycentrics)."""
    positions, face_ids, barycentrics = out[0], out[1], out[2]
    corners, spot, weights = scratch[2], scratch[4], scratch[5]
    best = np.inf
    for f in visited:
        gap = _closest_on_triangle(target, _corners(mesh, f, corners), spot, weights)
        if gap < best:
            best = gap
            face_ids[i] = f
            positions[i, :] = spot
            barycentrics[i, :] = weights


@compiled
def _over_relax(point: Any, normal: Any, sums: Any, omega: float, target: Any) -> None:
    """The cell's centroid, moved on by ω - 1 times the step along the surface (into
    ``target``): over-relaxing the step off the surface (towards a bend) would overshoot."""
    along = 0.0
    for c in range(3):
        target[c] = sums[1 + c] / sums[0]
        along += (target[c] - point[c]) * normal[c]
    for c in range(3):
        step = target[c] - point[c] - along * normal[c]
        target[c] += (omega - 1.0) * step


@compiled
def _cells_range(first: int, stop: int, inputs: Any, mesh: Any, omega: float, out: Any) -> None:
    """:func:`restricted_cells` for points first to stop - 1, with their own scratch arrays."""
    points, normals, start, neighbours, log_density = inputs
    n, k = neighbours.shape
    faces = mesh[1]
    touches, bordered = out[3], out[4]
    state = (np.full(faces.shape[0], -1, np.int64), np.empty(faces.shape[0], np.int64), touches, bordered)
    scratch = ((np.empty((FACE_POLYGON_CAPACITY, 3)), np.empty(FACE_POLYGON_CAPACITY, np.int64)),
               (np.empty((FACE_POLYGON_CAPACITY, 3)), np.empty(FACE_POLYGON_CAPACITY, np.int64)),
               np.empty((3, 3)), np.zeros(4), np.empty(3), np.empty(3))
    planes = np.empty((k, 4))
    g = np.zeros(3)
    target = np.empty(3)
    for i in range(first, stop):
        if log_density.shape[0] == n:
            _density_gradient(points, normals, neighbours, log_density, i, g)
        _bisector_planes(points, neighbours, i, planes)
        touches[i, :] = False
        bordered[i] = False
        sums = scratch[3]
        sums[:] = 0.0
        visited = _walk_cell(i, start[0][i], points[i], mesh, planes, g, scratch, state)
        out[0][i, :] = points[i, :]
        out[1][i] = start[0][i]
        out[2][i, :] = start[1][i, :]
        if sums[0] > 0.0:
            _over_relax(points[i], normals[i], sums, omega, target)
            _settle(target, state[1][:visited], mesh, scratch, out, i)


@parallel
def restricted_cells(points: Any, normals: Any, start: Any, neighbours: Any, mesh: Any, log_density: Any,
                     step: Any, out: Any) -> None:
    """One Lloyd step with the centroids of the restricted Voronoi cells of points on a mesh.

    Each cell is built face by face: from the face a point lies on, each face is clipped
    by the bisector planes of the point's nearest neighbours, and the faces across the
    face edges that survive are visited next (as in Yan, Lévy et al. 2009). A mesh
    border ends the walk, so cells stop at borders; sharp edges are followed exactly.
    Each point then moves ω times the way to its cell's centroid and is put back on the
    closest of the faces its cell covers (a point without a cell stays). The points are
    shared among numba's threads; each is computed alone, so the bytes do not depend on
    how many there are.

    Args:
        points, normals: (N, 3) points on the surface and the unit normals there.
        start: (faces (N,), barycentrics (N, 3)) where the points lie.
        neighbours: (N, k) nearest other points.
        mesh: (vertices (V, 3), faces (F, 3), adjacent (F, 3)): the face across each face's
            edge from corner e to e + 1, -1 on a border.
        log_density: (N,) log density at the points (empty: even density).
        step: (ω, chunks): the over-relaxation, and how many parts the points are cut into
            for the threads (any number gives the same bytes).
        out: (positions (N, 3), faces (N,), barycentrics (N, 3), touches (N, k), bordered
            (N,)): the moved points, the neighbours whose bisectors bound each cell, and
            the cells that reach a border.
    """
    n = neighbours.shape[0]
    omega, chunks = step
    for chunk in numba.prange(chunks):
        _cells_range(chunk * n // chunks, (chunk + 1) * n // chunks,
                     (points, normals, start, neighbours, log_density), mesh, omega, out)


@parallel
def closest_on_faces(points: Any, candidates: Any, mesh: Any, out: Any) -> None:
    """The closest point to each point on its candidate faces.

    Args:
        points: (N, 3).
        candidates: (N, c) mesh face ids to search (the first closest wins a tie).
        mesh: (vertices (V, 3), faces (F, 3)).
        out: (positions (N, 3), faces (N,), barycentrics (N, 3)).
    """
    positions, face_ids, barycentrics = out
    for i in numba.prange(points.shape[0]):
        corners = np.empty((3, 3))
        spot, weights = np.empty(3), np.empty(3)
        best = np.inf
        face_ids[i] = candidates[i, 0]  # where every distance is NaN: a face, never garbage
        positions[i, :] = mesh[0][mesh[1][candidates[i, 0], 0]]
        barycentrics[i, 0], barycentrics[i, 1], barycentrics[i, 2] = 1.0, 0.0, 0.0
        for j in range(candidates.shape[1]):
            f = candidates[i, j]
            for c in range(3):
                for d in range(3):
                    corners[c, d] = mesh[0][mesh[1][f, c], d]
            gap = _closest_on_triangle(points[i], corners, spot, weights)
            if gap < best:
                best = gap
                face_ids[i] = f
                positions[i, :] = spot
                barycentrics[i, :] = weights


@compiled
def unique_pairs(low: Any, high: Any, count: int) -> Any:
    """The distinct (low, high) pairs, sorted by low then high, as an (E, 2) array: the same
    as ``np.unique(low * count + high)`` split back, in linear time (a counting sort by
    ``low``, then each point's few partners sorted and deduplicated in place).

    ``low`` and ``high`` hold indices below ``count``.
    """
    n = low.shape[0]
    starts = np.zeros(count + 1, np.int64)
    for e in range(n):
        starts[low[e] + 1] += 1
    for v in range(count):
        starts[v + 1] += starts[v]
    filled = starts[:-1].copy()
    partners = np.empty(n, np.int64)
    for e in range(n):
        partners[filled[low[e]]] = high[e]
        filled[low[e]] += 1
    out = np.empty((n, 2), np.int64)
    kept = 0
    for v in range(count):
        first = starts[v]
        stop = starts[v + 1]
        for a in range(first + 1, stop):  # insertion sort: a point has a handful of partners
            value = partners[a]
            b = a - 1
            while b >= first and partners[b] > value:
                partners[b + 1] = partners[b]
                b -= 1
            partners[b + 1] = value
        for a in range(first, stop):
            if a == first or partners[a] != partners[a - 1]:
                out[kept, 0] = v
                out[kept, 1] = partners[a]
                kept += 1
    return out[:kept].copy()


@compiled
def _lower_bound(keys: Any, key: int) -> int:
    """The first position in the sorted ``keys`` whose key is at least ``key``."""
    low, high = 0, keys.shape[0]
    while low < high:
        mid = (low + high) // 2
        if keys[mid] < key:
            low = mid + 1
        else:
            high = mid
    return low


@compiled
def _insert(best_d: Any, best_i: Any, k: int, d: float, j: int) -> None:
    """Put neighbour ``j`` at squared distance ``d`` into the k best, sorted by distance and
    then index (it is known to come before the k-th)."""
    b = k - 1
    while b > 0 and (best_d[b - 1] > d or (best_d[b - 1] == d and best_i[b - 1] > j)):
        best_d[b] = best_d[b - 1]
        best_i[b] = best_i[b - 1]
        b -= 1
    best_d[b] = d
    best_i[b] = j


@compiled
def _block(cell: Any, reach: int, grid: Any, spans: Any) -> int:
    """The runs in ``order`` of the points in the cells within ``reach`` cells of ``cell``
    (cut to the grid; each column of cells along z is one run of keys, found by one binary
    search); returns how many runs were written to ``spans``."""
    shape, keys, first, stop = grid[1], grid[2], grid[3], grid[4]
    runs = 0
    z0 = max(cell[2] - reach, 0)
    z1 = min(cell[2] + reach, shape[2] - 1)
    for x in range(max(cell[0] - reach, 0), min(cell[0] + reach, shape[0] - 1) + 1):
        for y in range(max(cell[1] - reach, 0), min(cell[1] + reach, shape[1] - 1) + 1):
            base = (x * shape[1] + y) * shape[2]
            at = _lower_bound(keys, base + z0)
            end = at
            while end < keys.shape[0] and keys[end] <= base + z1:
                end += 1
            if end > at:
                spans[runs, 0] = first[at]
                spans[runs, 1] = stop[end - 1]
                runs += 1
    return runs


@compiled
def _nearest_range(lo: int, hi: int, queries: Any, grid: Any, k: int, limits: Any, out: Any,
                   exact: Any) -> None:
    """:func:`grid_nearest_others` for queries ``lo`` to ``hi``."""
    cells, shape, order, ordered = grid[0], grid[1], grid[5], grid[6]
    radius2, reach = limits[0], int(limits[2])
    spans = np.empty(((2 * reach + 1) ** 2, 2), np.int64)
    best_d = np.empty(k)
    best_i = np.empty(k, np.int64)
    last = -1
    runs = 0
    for q in range(lo, hi):
        i = queries[q]
        key = (cells[i, 0] * shape[1] + cells[i, 1]) * shape[2] + cells[i, 2]
        if key != last or q == lo:  # the queries are sorted by cell: look up once per cell
            last = key
            runs = _block(cells[i], reach, grid, spans)
        best_d[:] = np.inf
        best_i[:] = -1
        px, py, pz = grid[7][i, 0], grid[7][i, 1], grid[7][i, 2]
        for r in range(runs):
            for s in range(spans[r, 0], spans[r, 1]):
                ex = ordered[s, 0] - px
                ey = ordered[s, 1] - py
                ez = ordered[s, 2] - pz
                d = ex * ex + ey * ey + ez * ez
                j = order[s]
                if (d < best_d[k - 1] or (d == best_d[k - 1] and j < best_i[k - 1])) and j != i:
                    _insert(best_d, best_i, k, d, j)
        out[q, :] = best_i
        exact[q] = best_i[k - 1] >= 0 and best_d[k - 1] <= radius2


@parallel
def grid_nearest_others(queries: Any, grid: Any, k: int, limits: Any, out: Any, exact: Any) -> None:
    """Each query point's ``k`` nearest other points among the grid cells within a reach.

    Args:
        queries: indices of the points asked about, sorted by cell.
        grid: (cells (N, 3) of every point; the grid's shape (3,); the sorted keys of the
            occupied cells; each such cell's first and stop position in ``order``;
            ``order``, the points sorted by cell; ``ordered``, their positions in that
            order; the points themselves, in their own order).
        limits: (radius², chunks, reach): an answer whose k-th is within the radius is
            certain (every nearer point lies in the cells searched); how many parts the
            queries are cut into for the threads (any number gives the same bytes); the
            cells searched, ``reach`` cells each way.
        out, exact: (M, k) the nearest, nearest first; (M,) True where certain (k found,
            the k-th within the radius).
    """
    m = queries.shape[0]
    chunks = int(limits[1])
    for chunk in numba.prange(chunks):
        _nearest_range(chunk * m // chunks, (chunk + 1) * m // chunks, queries, grid, k, limits, out, exact)
