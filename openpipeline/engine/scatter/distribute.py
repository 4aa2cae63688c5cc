"""Neural-gas point distribution on meshes.

Three methods, one entry point (:func:`scatter`):

``batch-ng`` (default)
    Batch neural gas (Cottrell et al. 2006): every epoch, fresh surface samples
    are drawn and each prototype moves to the neighbourhood-weighted mean of
    the samples, the k-th nearest prototype of a sample weighted
    ``exp(-k / λ)``, λ annealed towards 0. The neighbourhood is truncated where
    its weight falls under 1e-3 and found with a k-d tree. As λ reaches 0 this
    is Lloyd's algorithm, which the final *polish* runs with over-relaxation
    (ω = 1.8, then 1) and Polyak averaging of the last iterates. Large counts
    are solved coarse-to-fine: the solution for N/4 points is refined by adding
    the midpoints of its neighbour-graph edges (a hexagonal lattice refines to a
    hexagonal lattice of half the spacing), so the fine level starts almost
    converged.
``online-ng``
    Neural gas as published (Martinetz & Schulten 1991) on mini-batches, ε 0.5→0.005,
    λ 10→0.01 (truncated to the 16 nearest): a quick preview.
``gng``
    Growing neural gas (Fritzke 1995) with its published parameters (ε_b 0.2,
    ε_n 0.006, age_max 50, λ 100, α 0.5, d 0.995): grows node by node until the
    count (or the spacing) is reached, and learns a neighbour graph by competitive
    Hebbian learning. Sequential, so meant for up to a few thousand points.

Samples are drawn *systematically* along a Morton curve of the faces with an R2
sequence inside each face, which spreads them evenly at every scale and cuts
the noise of the sampled centroids. To follow a density map the prototypes are
initialised from samples ∝ p and trained on samples ∝ p²: on a surface a
quantiser places points at density ∝ (sample density)^½.

Every result is deterministic for a given seed on a given machine.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.progress import ProgressCallback, Reporter
from openpipeline.engine.scatter.density import DensityMap, density_weight
from openpipeline.engine.scatter.mesh import FloatArray, IntArray, Mesh, Samples, Surface, vertex_normals

METHODS = ("batch-ng", "online-ng", "gng")
GNG_MAX_COUNT = 20_000


@dataclass(frozen=True)
class ScatterParams:
    """What to scatter. Give ``count`` or ``spacing`` (hexagonal spacing, scene units)."""

    count: int | None = None
    spacing: float | None = None
    method: str = "batch-ng"
    seed: int = 0
    samples_per_point: int = 12
    ng_epochs: int = 4
    lloyd_epochs: int = 18
    fine_epochs: int = 6
    fine_samples_per_point: int = 10
    multigrid_base: int = 16_000
    polyak: int = 8
    exact_epochs: int = 8
    fine_exact_epochs: int = 4

    def resolve_count(self, area: float) -> int:
        """The number of points asked for, directly or through the spacing."""
        if self.count is not None and self.spacing is not None:
            raise EngineInputError("Give either a count or a spacing, not both.")
        if self.spacing is not None:
            if not math.isfinite(self.spacing) or self.spacing <= 0:
                raise EngineInputError(f"Spacing must be a positive distance, not {self.spacing}.")
            count = round(area / (math.sqrt(3) / 2 * self.spacing**2))
            if count < 1:
                raise EngineInputError(
                    f"Spacing {self.spacing} is larger than the mesh (area {area:.4g}); use a smaller one."
                )
            return int(count)
        if self.count is None:
            raise EngineInputError("Give the number of points (count) or a spacing.")
        if isinstance(self.count, bool) or int(self.count) != self.count or self.count < 1:
            raise EngineInputError(f"Count must be a whole number of at least 1, not {self.count}.")
        return int(self.count)

    def check(self) -> None:
        if self.method not in METHODS:
            raise EngineInputError(
                f"Method '{self.method}' is not known; use one of {', '.join(METHODS)}."
            )
        if self.samples_per_point < 1 or self.fine_samples_per_point < 1:
            raise EngineInputError("Samples per point must be at least 1.")


@dataclass
class ScatterResult:
    """Exactly ``count`` points on the surface, with everything needed to follow it."""

    positions: FloatArray
    normals: FloatArray
    face_ids: IntArray
    barycentrics: FloatArray
    uvs: FloatArray | None
    ids: IntArray
    edges: IntArray | None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.positions)


def scatter(
    mesh: Mesh,
    params: ScatterParams,
    density: DensityMap | None = None,
    progress: ProgressCallback | None = None,
) -> ScatterResult:
    """Distribute exactly N points over ``mesh`` (evenly, or following ``density``).

    Cost: batch-ng about 1 s for 10,000 points and about a minute for 1,000,000 on
    two CPU cores (bench/scatter_bench.py).
    """
    params.check()
    weight = density_weight(mesh, density)
    surface = Surface(mesh, weight)
    count = params.resolve_count(surface.area)
    if params.method == "gng" and count > GNG_MAX_COUNT:
        raise EngineInputError(
            f"Growing neural gas adds one node at a time; use at most {GNG_MAX_COUNT} points with "
            "it, or the batch-ng method."
        )
    report = Reporter(progress)
    rng = np.random.default_rng(params.seed)
    start = time.perf_counter()
    train_power = 2.0 if weight is not None else 1.0
    if params.method == "batch-ng":
        solver = _BatchNeuralGas(surface, params, rng, report, train_power)
        points, edges, hints = solver.solve(count)
    elif params.method == "online-ng":
        points, edges, hints = _online_neural_gas(surface, count, params, rng, report, train_power)
    else:
        points, edges, hints = _growing_neural_gas(surface, count, params, rng, report, train_power)
    report("projecting", 0.99, "snapping to the surface")
    projected = surface.project(points, hints)
    result = _finish(mesh, projected, edges)
    result.stats.update(method=params.method, count=count, seed=params.seed,
                        seconds=time.perf_counter() - start, area=surface.area,
                        density=weight is not None)
    report("done", 1.0, f"{count} points")
    return result


def _finish(mesh: Mesh, on_surface: Samples, edges: IntArray | None) -> ScatterResult:
    faces = mesh.faces[on_surface.face_ids]
    bary = on_surface.barycentrics
    normals = np.einsum("nk,nkc->nc", bary, vertex_normals(mesh)[faces])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = normals / np.where(length > 0, length, 1.0)
    uvs = None
    if mesh.corner_uvs is not None:
        uvs = np.einsum("nk,nkc->nc", bary, mesh.corner_uvs[on_surface.face_ids])
    return ScatterResult(
        positions=on_surface.positions,
        normals=normals,
        face_ids=on_surface.face_ids.astype(np.int64),
        barycentrics=bary,
        uvs=uvs,
        ids=np.arange(len(on_surface.positions), dtype=np.int64),
        edges=edges,
    )


def _centroid_step(points: FloatArray, samples: FloatArray, lam: float) -> FloatArray:
    """One batch-NG step (a Lloyd step when ``lam`` is 0): neighbourhood-weighted sample
    means; a prototype with no samples keeps its place."""
    n = len(points)
    k = 1 if lam <= 0 else min(16, max(1, math.ceil(lam * math.log(1e3))))
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


def _graph(idx: IntArray) -> IntArray:
    """Competitive Hebbian learning: connect each sample's two nearest prototypes."""
    low = np.minimum(idx[:, 0], idx[:, 1]).astype(np.int64)
    high = np.maximum(idx[:, 0], idx[:, 1]).astype(np.int64)
    keep = low != high
    n = int(idx.max()) + 1
    keys = np.unique(low[keep] * n + high[keep])
    return np.stack([keys // n, keys % n], 1)



def _pair_tables(k: int) -> tuple[IntArray, IntArray, np.ndarray]:
    ia, ib = np.triu_indices(k, 1)
    incidence = np.zeros((len(ia), k), np.int32)
    incidence[np.arange(len(ia)), ia] = 1
    incidence[np.arange(len(ia)), ib] = 1
    return ia.astype(np.int64), ib.astype(np.int64), incidence


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

    Cost: about k³ / 2 small float32 operations per point (≈ 3 µs for k = 8).
    """
    n = len(points)
    if neighbours is None:
        _, found = cKDTree(points).query(points, k=k + 1, workers=-1)
        neighbours = found[:, 1:]
    nbr = neighbours
    d = points[nbr] - points[:, None, :]
    ref = np.where(np.abs(normals[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    t1 = np.cross(normals, ref)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(normals, t1)
    # Local coordinates in units of the nearest-neighbour distance (float32 is then plenty).
    q = np.stack([np.einsum("nkc,nc->nk", d, t1), np.einsum("nkc,nc->nk", d, t2)], -1)
    full = np.linalg.norm(d, axis=2)
    flat = np.linalg.norm(q, axis=2)
    unit = full[:, :1]
    q *= (full / np.maximum(flat, 1e-300) / unit)[..., None]
    q32 = q.astype(np.float32)
    b = 0.5 * np.einsum("nkc,nkc->nk", q32, q32)
    ia, ib, incidence = _pair_tables(k)
    qa, qb = q32[:, ia], q32[:, ib]
    det = qa[..., 0] * qb[..., 1] - qa[..., 1] * qb[..., 0]
    ok = np.abs(det) > 1e-6
    det = np.where(ok, det, np.float32(1.0))
    vx = (b[:, ia] * qb[..., 1] - b[:, ib] * qa[..., 1]) / det
    vy = (qa[..., 0] * b[:, ib] - qb[..., 0] * b[:, ia]) / det
    valid = ok.copy()
    for other in range(k):  # one bisector at a time keeps the temporaries small
        valid &= (vx * q32[:, None, other, 0] + vy * q32[:, None, other, 1]
                  <= b[:, None, other] + np.float32(1e-5))
    count = valid.sum(1)
    # pseudo-angle: monotone in the true angle, no trigonometry
    ax, ay = np.abs(vx), np.abs(vy)
    ratio = ay / np.maximum(ax + ay, np.float32(1e-30))
    pseudo = np.where(vx >= 0, np.where(vy >= 0, ratio, 4 - ratio), np.where(vy >= 0, 2 - ratio, 2 + ratio))
    pseudo = np.where(valid, pseudo, np.float32(np.inf))
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
    cx = np.where(good, cx / safe, 0.0) * unit[:, 0]
    cy = np.where(good, cy / safe, 0.0) * unit[:, 0]
    centroids = points + cx[:, None] * t1 + cy[:, None] * t2
    edges = None
    if want_edges:
        touches = (valid.astype(np.int32) @ incidence) > 0
        rows = np.broadcast_to(np.arange(n)[:, None], (n, k))
        low = np.minimum(rows[touches], nbr[touches]).astype(np.int64)
        high = np.maximum(rows[touches], nbr[touches]).astype(np.int64)
        keys = np.unique(low * n + high)
        edges = np.stack([keys // n, keys % n], 1)
    return centroids, edges, nbr


class _BatchNeuralGas:
    def __init__(self, surface: Surface, params: ScatterParams, rng: np.random.Generator,
                 report: Reporter, power: float) -> None:
        self.surface = surface
        self.params = params
        self.rng = rng
        self.report = report
        self.power = power
        self.total_work = 0.0
        self.done_work = 0.0
        # Exact centroids need a closed surface (cells of border points would leak
        # past the border) and an even density (the centroid is unweighted).
        self.exact = surface.closed and power == 1.0

    def solve(self, count: int) -> tuple[FloatArray, IntArray, Samples]:
        levels = [count]
        while levels[-1] > self.params.multigrid_base:
            levels.append(math.ceil(levels[-1] / 4))
        levels.reverse()
        p = self.params
        base = (p.ng_epochs + p.lloyd_epochs) * p.samples_per_point
        base += 4 * p.exact_epochs if self.exact else 0
        fine = 4 * p.fine_exact_epochs if self.exact else p.fine_epochs * p.fine_samples_per_point
        self.total_work = sum(n * (base if i == 0 else fine) for i, n in enumerate(levels))
        points = self.surface.sample(self.rng, levels[0], power=1.0).positions
        points = self._anneal(points)
        points, edges, hints = self._polish(points, p.lloyd_epochs, p.samples_per_point)
        if self.exact:
            points, edges = self._polish_exact(points, hints, p.exact_epochs)
        for n in levels[1:]:
            points = self._refine(points, edges, hints, n)
            if self.exact:
                hints = self.surface.sample(self.rng, 2 * n)
                points, edges = self._polish_exact(points, hints, p.fine_exact_epochs)
            else:
                points, edges, hints = self._polish(points, p.fine_epochs, p.fine_samples_per_point)
        return points, edges, hints

    def _polish_exact(self, points: FloatArray, hints: Samples, epochs: int
                      ) -> tuple[FloatArray, IntArray]:
        """Lloyd steps with exact tangent-plane Voronoi centroids (closed, even meshes)."""
        edges = np.zeros((0, 2), np.int64)
        table: IntArray | None = None
        for epoch in range(epochs):
            on_surface = self.surface.project(points, hints, k=4)
            normals = self.surface.mesh_face_normals[on_surface.face_ids]
            last = epoch == epochs - 1
            # neighbours are found afresh on the first and the last step, reused between
            reuse = None if (epoch == 0 or last) else table
            centroids, found, table = tangent_voronoi(on_surface.positions, normals, want_edges=last,
                                                      neighbours=reuse)
            if found is not None:
                edges = found
            omega = 1.8 if epoch < epochs - 2 else 1.0
            points = on_surface.positions + omega * (centroids - on_surface.positions)
            self._advance(4 * len(points), "exact polish",
                          f"{len(points)} points, step {epoch + 1}/{epochs}")
        return points, edges

    def _advance(self, n_samples: int, stage: str, message: str) -> None:
        self.done_work += n_samples
        self.report(stage, min(0.98, 0.98 * self.done_work / max(self.total_work, 1.0)), message)

    def _anneal(self, points: FloatArray) -> FloatArray:
        """Batch neural gas with λ annealed from 2 to 0.2 (truncated neighbourhood)."""
        epochs = self.params.ng_epochs
        m = self.params.samples_per_point
        for epoch in range(epochs):
            lam = 2.0 * (0.1 ** (epoch / max(epochs - 1, 1)))
            samples = self.surface.sample(self.rng, m * len(points), self.power).positions
            points = _centroid_step(points, samples, lam)
            self._advance(len(samples), "neural gas", f"epoch {epoch + 1}/{epochs} λ={lam:.2f}")
        return points

    def _polish(self, points: FloatArray, epochs: int, m: int
                ) -> tuple[FloatArray, IntArray, Samples]:
        """Lloyd steps: over-relaxed first, then plain, with the last iterates averaged."""
        polyak = min(self.params.polyak, max(epochs - 1, 1))
        average = np.zeros_like(points)
        averaged = 0
        samples: Samples | None = None
        for epoch in range(epochs):
            samples = self.surface.sample(self.rng, m * len(points), self.power)
            means = _centroid_step(points, samples.positions, 0.0)
            omega = 1.8 if epoch < (epochs - polyak) else 1.0
            points = points + omega * (means - points)
            if epoch >= epochs - polyak:
                average += points
                averaged += 1
            self._advance(len(samples.positions), "polish",
                          f"{len(points)} points, epoch {epoch + 1}/{epochs}")
        assert samples is not None
        if averaged:
            points = average / averaged
        return points, self._delaunay(points, samples), samples

    def _delaunay(self, points: FloatArray, hints: Samples) -> IntArray:
        """Delaunay edges from exact tangent-plane cells (competitive Hebbian learning
        from samples misses edges where the density is low)."""
        on_surface = self.surface.project(points, hints, k=4)
        normals = self.surface.mesh_face_normals[on_surface.face_ids]
        _, edges, _ = tangent_voronoi(on_surface.positions, normals)
        assert edges is not None
        return edges

    def _refine(self, points: FloatArray, edges: IntArray, hints: Samples, count: int) -> FloatArray:
        """Add edge midpoints (about 3 per point) and fix the total to exactly ``count``."""
        mids = 0.5 * (points[edges[:, 0]] + points[edges[:, 1]])
        room = count - len(points)
        if len(mids) > room:
            keep = np.sort(self.rng.choice(len(mids), size=room, replace=False))
            mids = mids[keep]
        mids = self.surface.project(mids, hints).positions
        refined = np.concatenate([points, mids])
        if len(refined) < count:
            extra = self.surface.sample(self.rng, count - len(refined), power=1.0).positions
            refined = np.concatenate([refined, extra])
        return refined


def _online_neural_gas(
    surface: Surface, count: int, params: ScatterParams, rng: np.random.Generator,
    report: Reporter, power: float,
) -> tuple[FloatArray, IntArray, Samples]:
    """Mini-batch online neural gas with Martinetz & Schulten's schedules."""
    points = surface.sample(rng, count, power=1.0).positions
    eps_i, eps_f, lam_i, lam_f = 0.5, 0.005, 10.0, 0.01
    batch = max(64, count // 8)
    steps = max(40, 8 * count * 4 // batch // 4)
    k_max = 16
    for step in range(steps):
        frac = step / max(steps - 1, 1)
        eps = eps_i * (eps_f / eps_i) ** frac
        lam = lam_i * (lam_f / lam_i) ** frac
        k = int(min(k_max, max(2, math.ceil(lam * math.log(1e3)))))
        samples = surface.sample(rng, batch, power)
        x = samples.positions
        _, idx = cKDTree(points).query(x, k=k, workers=-1)
        idx = idx.reshape(len(x), k)
        h = eps * np.exp(-np.arange(k) / lam)
        delta = h[None, :, None] * (x[:, None, :] - points[idx])
        # average the pulls of one batch per prototype (order-independent, deterministic)
        flat = idx.ravel()
        total = np.bincount(flat, np.tile(h, len(x)), len(points))
        pull = np.stack([np.bincount(flat, delta[..., c].ravel(), len(points)) for c in range(3)], 1)
        moved = total > 0
        points[moved] += pull[moved] / np.maximum(total[moved, None] / eps, 1.0)
        if step % 4 == 0:
            report("online ng", 0.95 * frac, f"step {step + 1}/{steps}")
    hints = surface.sample(rng, 8 * count, power)
    _, last = cKDTree(points).query(hints.positions, k=2, workers=-1)
    return points, _graph(last), hints


def _growing_neural_gas(
    surface: Surface, count: int, params: ScatterParams, rng: np.random.Generator,
    report: Reporter, power: float,
) -> tuple[FloatArray, IntArray, Samples]:
    """Fritzke's growing neural gas until ``count`` nodes, then a settling phase."""
    eps_b, eps_n, age_max, lam, alpha, decay = 0.2, 0.006, 50, 100, 0.5, 0.995
    capacity = max(count, 2)
    nodes = np.zeros((capacity, 3))
    error = np.zeros(capacity)
    first = surface.sample(rng, 2, power).positions
    nodes[:2] = first
    size = 2
    age: dict[tuple[int, int], int] = {(0, 1): 0}
    neighbours: dict[int, set[int]] = {0: {1}, 1: {0}}
    settle = 20 * lam
    total_steps = lam * max(count - 2, 0) + settle
    chunk = 4096

    def fresh() -> FloatArray:
        # systematic samples run along a space-filling curve: shuffle them for online use
        return surface.sample(rng, chunk, power).positions[rng.permutation(chunk)]

    buffer = fresh()
    used = 0
    step = 0
    while True:
        if used == chunk:
            buffer = fresh()
            used = 0
        x = buffer[used]
        used += 1
        step += 1
        d = np.einsum("nc,nc->n", nodes[:size] - x, nodes[:size] - x)
        s1, s2 = (int(i) for i in np.argpartition(d, 1)[:2]) if size > 2 else (0, 1)
        if d[s2] < d[s1]:
            s1, s2 = s2, s1
        error[s1] += d[s1]
        nodes[s1] += eps_b * (x - nodes[s1])
        for n in neighbours[s1]:
            nodes[n] += eps_n * (x - nodes[n])
            key = (min(s1, n), max(s1, n))
            age[key] += 1
        key = (min(s1, s2), max(s1, s2))
        age[key] = 0
        neighbours[s1].add(s2)
        neighbours[s2].add(s1)
        for old in [(min(s1, n), max(s1, n)) for n in neighbours[s1]
                    if age[(min(s1, n), max(s1, n))] > age_max]:
            a, b = old
            del age[old]
            neighbours[a].discard(b)
            neighbours[b].discard(a)
        if step % lam == 0 and size < count:
            q = int(np.argmax(error[:size]))
            if neighbours[q]:
                f = max(neighbours[q], key=lambda n: error[n])
                r = size
                size += 1
                nodes[r] = 0.5 * (nodes[q] + nodes[f])
                for a, b in ((q, f),):
                    del age[(min(a, b), max(a, b))]
                    neighbours[a].discard(b)
                    neighbours[b].discard(a)
                neighbours[r] = {q, f}
                neighbours[q].add(r)
                neighbours[f].add(r)
                age[(min(q, r), max(q, r))] = 0
                age[(min(f, r), max(f, r))] = 0
                error[q] *= alpha
                error[f] *= alpha
                error[r] = error[q]
            else:  # an isolated node: put the new one at a fresh sample
                r = size
                size += 1
                nodes[r] = surface.sample(rng, 1, power).positions[0]
                neighbours[r] = set()
        error[:size] *= decay
        if step % 2000 == 0:
            report("growing gas", 0.95 * min(step / total_steps, 1.0), f"{size}/{count} nodes")
        if size >= count and step >= total_steps:
            break
    points = nodes[:count]
    edges = np.array(sorted(age), dtype=np.int64).reshape(-1, 2)
    edges = edges[(edges < count).all(axis=1)]
    hints = surface.sample(rng, 8 * count, power)
    return points, edges, hints
