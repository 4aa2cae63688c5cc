"""Neural gas: batch (the default method) and online (a quick preview).

``batch-ng``
    Batch neural gas (Cottrell et al. 2006): every epoch, fresh surface samples
    are drawn and each prototype moves to the neighbourhood-weighted mean of
    the samples, the k-th nearest prototype of a sample weighted
    ``exp(-k / λ)``, λ annealed towards 0. The neighbourhood is truncated where
    its weight falls under 1e-3 and found with a k-d tree. As λ reaches 0 this
    is Lloyd's algorithm, which a sampled *polish* runs with over-relaxation
    (ω = 1.8, then 1) and Polyak averaging of the last iterates; this is done on
    the coarsest level only (at most 250 points on a closed mesh with an even
    density, 2,500 otherwise). Then exact Lloyd steps on restricted Voronoi
    cells (:func:`~.polish.restricted_lloyd`: compiled, no sampling noise, cut
    at borders, weighted by the density) finish it. Larger counts are solved
    coarse-to-fine: the solution for N/4 points is refined by adding the
    midpoints of its Delaunay edges (a hexagonal lattice refines to a hexagonal
    lattice of half the spacing) and, on an open mesh, its border cells' points
    moved onto the border (the half row a border misses), then a few exact steps
    settle each level.
``online-ng``
    Neural gas as published (Martinetz & Schulten 1991) on mini-batches, ε 0.5→0.005,
    λ 10→0.01 (truncated to the 16 nearest): a quick preview.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from openpipeline.engine.progress import Reporter
from openpipeline.engine.scatter.graph import hebbian_edges
from openpipeline.engine.scatter.mesh import FloatArray, IntArray, Samples, Surface
from openpipeline.engine.scatter.polish import centroid_step, nearest_others, restricted_lloyd, touching_edges
from openpipeline.engine.scatter.quality import hex_spacing


@dataclass(frozen=True)
class BatchSchedule:
    """How long each stage of batch neural gas runs (set by :class:`ScatterParams`).

    Attributes:
        samples_per_point, ng_epochs, lloyd_epochs: samples per point and epoch, and
            the epochs of annealed neural gas and of sampled Lloyd polish, on the
            coarsest level.
        fine_epochs, fine_samples_per_point: the sampled polish of each finer level.
        multigrid_base, detail_multigrid_base: levels are added (×4 points each) above
            this count, on a closed mesh with an even density and otherwise.
        polyak: the last iterates averaged in a sampled polish.
        exact_epochs, fine_exact_epochs: exact polish steps on the coarsest level and on
            each finer level of a closed mesh with an even density;
            detail_exact_epochs, detail_fine_exact_epochs: the same on an open mesh or
            with a density map (borders and densities settle more slowly); on an open
            mesh the first only where the coarsest level is refined (else ``exact_epochs``).
    """

    samples_per_point: int
    ng_epochs: int
    lloyd_epochs: int
    fine_epochs: int
    fine_samples_per_point: int
    multigrid_base: int
    detail_multigrid_base: int
    polyak: int
    exact_epochs: int
    fine_exact_epochs: int
    detail_exact_epochs: int
    detail_fine_exact_epochs: int


OVER_RELAXATION = 1.8  # ω of the over-relaxed Lloyd steps
EXACT_PLAIN_STEPS = 2  # the exact polish ends with this many plain (ω = 1) steps
BORDER_GAP = 0.3  # border points added closer than this many spacings to another are dropped
EXACT_NEIGHBOURS = 8  # the nearest points whose bisectors may bound a cell
EXACT_WORK_PER_POINT = 4  # an exact step costs about as much as this many samples per point


def coarse_to_fine_levels(count: int, base: int) -> list[int]:
    """The point counts solved in turn: each a quarter of the next, the first at most ``base``.

    >>> coarse_to_fine_levels(100_000, 16_000)
    [6250, 25000, 100000]
    >>> coarse_to_fine_levels(500, 16_000)
    [500]
    """
    levels = [count]
    while levels[-1] > base:
        levels.append(math.ceil(levels[-1] / 4))
    levels.reverse()
    return levels


def relaxation(epoch: int, epochs: int, plain: int) -> float:
    """ω of a Lloyd step: over-relaxed, except plain (1) for the last ``plain`` of ``epochs``."""
    return OVER_RELAXATION if epoch < epochs - plain else 1.0


@dataclass
class Cells:
    """Points after an exact polish: their Delaunay edges, the surface samples they were
    projected with, and which cells reach the mesh's border."""

    points: FloatArray
    edges: IntArray
    hints: Samples
    bordered: NDArray[np.bool_]


class WorkMeter:
    """Progress as the share of the planned work done, counted in samples.

    Fractions stop at 0.98: the rest is the caller's (projection, writing).
    """

    def __init__(self, report: Reporter, total: float = 0.0) -> None:
        self.report = report
        self.total = total
        self.done = 0.0

    def advance(self, amount: int, stage: str, message: str) -> None:
        """Count ``amount`` more work done and report it."""
        self.done += amount
        self.report(stage, min(0.98, 0.98 * self.done / max(self.total, 1.0)), message)


class BatchNeuralGas:
    """Batch neural gas, coarse-to-fine, with a sampled or an exact Lloyd polish."""

    def __init__(self, surface: Surface, schedule: BatchSchedule, rng: np.random.Generator,
                 report: Reporter, power: float) -> None:
        self.surface = surface
        self.schedule = schedule
        self.rng = rng
        self.power = power
        self.meter = WorkMeter(report)
        # a closed mesh with an even density converges fastest: fewer levels and steps
        self.even_closed = surface.closed and power == 1.0
        self.base = schedule.multigrid_base if self.even_closed else schedule.detail_multigrid_base
        self.coarse_steps = schedule.exact_epochs if self.even_closed else schedule.detail_exact_epochs
        self.fine_steps = (schedule.fine_exact_epochs if self.even_closed
                           else schedule.detail_fine_exact_epochs)

    def solve(self, count: int) -> tuple[FloatArray, IntArray, Samples]:
        """Exactly ``count`` points (not yet on the surface), their edges, and samples near them."""
        p = self.schedule
        levels = coarse_to_fine_levels(count, self.base)
        self.meter.total = self.planned_work(levels)
        points = self.surface.sample(self.rng, levels[0], power=1.0, distinct=True).positions
        points = self._anneal(points)
        if p.lloyd_epochs > 0:
            points, _ = self._polish(points, p.lloyd_epochs, p.samples_per_point)
        cells = self._polish_exact(points, self._coarse_steps(levels))
        for n in levels[1:]:
            points = self._refine(cells, n)
            cells = self._polish_exact(points, self.fine_steps)
        return cells.points, cells.edges, cells.hints

    def planned_work(self, levels: list[int]) -> int:
        """The samples (or their equivalent) all levels will take, for progress."""
        p = self.schedule
        base = ((p.ng_epochs + p.lloyd_epochs) * p.samples_per_point
                + EXACT_WORK_PER_POINT * self._coarse_steps(levels))
        fine = EXACT_WORK_PER_POINT * self.fine_steps
        return sum(n * (base if i == 0 else fine) for i, n in enumerate(levels))

    def _coarse_steps(self, levels: list[int]) -> int:
        """Exact steps on the coarsest level: more on an open mesh whose coarsest level is
        refined (it passes its flaws on) and with a density map (it settles slowly)."""
        refined_or_dense = len(levels) > 1 or self.power != 1.0
        return self.coarse_steps if refined_or_dense else self.schedule.exact_epochs

    def _hints(self, count: int) -> Samples:
        """Surface samples to project ``count`` points with (twice as many)."""
        return self.surface.sample(self.rng, 2 * count)

    def _polish_exact(self, points: FloatArray, epochs: int) -> Cells:
        """Lloyd steps with the exact centroids of the restricted Voronoi cells (weighted
        by the density, where there is one)."""
        hints = self._hints(len(points))
        on_surface = self.surface.project(points, hints, k=4)
        table = np.zeros((len(points), 0), np.int64)
        touches = np.zeros((len(points), 0), np.bool_)
        bordered = np.zeros(len(points), np.bool_)
        weights = self.surface.weight_at(on_surface)
        if weights is not None and (weights <= 0).any():
            weights = self._into_density(on_surface, weights)
        search = self.surface.search
        for epoch in range(max(epochs, 1)):
            table = nearest_others(on_surface.positions, EXACT_NEIGHBOURS, search, self.surface.area)
            logs = self.surface.log_density(on_surface, self.power, weights)
            normals = self.surface.mesh_face_normals[on_surface.face_ids]
            omega = relaxation(epoch, epochs, EXACT_PLAIN_STEPS)
            moved, touches, bordered = restricted_lloyd(
                on_surface, normals, table, self.surface.mesh, self.surface.adjacency(), logs, omega)
            on_surface, weights = self._within_density(on_surface, weights, moved)
            self.meter.advance(EXACT_WORK_PER_POINT * len(points), "exact polish",
                               f"{len(points)} points, step {epoch + 1}/{epochs}")
        # the points themselves, with their faces, are the best hints to put them on the surface
        return Cells(on_surface.positions, touching_edges(touches, table, search), on_surface, bordered)

    def _into_density(self, on_surface: Samples, weights: FloatArray) -> FloatArray:
        """Put the points where the density is 0 (an over-relaxed sampled step or an edge's
        midpoint can take a point off a map's lit part) at new samples drawn by the density
        (in place); returns the weights at the points."""
        stray = np.flatnonzero(weights <= 0)
        # as many samples as points (a draw of a few could miss a small lit part), some kept
        drawn = self.surface.sample(self.rng, len(weights), power=1.0, distinct=True)
        keep = np.sort(self.rng.choice(len(weights), size=len(stray), replace=False))
        fresh = Samples(drawn.positions[keep], drawn.face_ids[keep], drawn.barycentrics[keep])
        for name in ("positions", "face_ids", "barycentrics"):
            getattr(on_surface, name)[stray] = getattr(fresh, name)
        at_fresh = self.surface.weight_at(fresh)
        assert at_fresh is not None
        weights = weights.copy()
        weights[stray] = at_fresh
        return weights

    def _within_density(self, before: Samples, weights: FloatArray | None,
                        moved: Samples) -> tuple[Samples, FloatArray | None]:
        """The moved points and the weight at them, except that a point does not step from
        where the density is above 0 to where it is 0: it keeps its place (the cell's density
        is modelled log-linear, which knows no edge, so points would leak off a map's lit
        part; a step inside the density, or out of its zero, is taken as it is)."""
        if weights is None:
            return moved, None
        after = self.surface.weight_at(moved)
        assert after is not None
        stay = (after <= 0) & (weights > 0)
        if not stay.any():
            return moved, after
        for name in ("positions", "face_ids", "barycentrics"):
            getattr(moved, name)[stay] = getattr(before, name)[stay]
        after[stay] = weights[stay]
        return moved, after

    def _anneal(self, points: FloatArray) -> FloatArray:
        """Batch neural gas with λ annealed from 2 to 0.2 (truncated neighbourhood)."""
        epochs = self.schedule.ng_epochs
        m = self.schedule.samples_per_point
        for epoch in range(epochs):
            lam = 2.0 * (0.1 ** (epoch / max(epochs - 1, 1)))
            samples = self.surface.sample(self.rng, m * len(points), self.power).positions
            points = centroid_step(points, samples, lam, self.surface.search, self.surface.area)
            self.meter.advance(len(samples), "neural gas", f"epoch {epoch + 1}/{epochs} λ={lam:.2f}")
        return points

    def _polish(self, points: FloatArray, epochs: int, m: int) -> tuple[FloatArray, Samples]:
        """Lloyd steps: over-relaxed first, then plain, with the plain iterates averaged (Polyak)."""
        polyak = min(self.schedule.polyak, max(epochs - 1, 1))
        average = np.zeros_like(points)
        averaged = 0
        samples: Samples | None = None
        for epoch in range(epochs):
            samples = self.surface.sample(self.rng, m * len(points), self.power)
            means = centroid_step(points, samples.positions, 0.0, self.surface.search, self.surface.area)
            omega = relaxation(epoch, epochs, polyak)
            points = points + omega * (means - points)
            if epoch >= epochs - polyak:
                average += points
                averaged += 1
            self.meter.advance(len(samples.positions), "polish",
                               f"{len(points)} points, epoch {epoch + 1}/{epochs}")
        assert samples is not None
        if averaged:
            points = average / averaged
        return points, samples

    def _refine(self, cells: Cells, count: int) -> FloatArray:
        """Add edge midpoints (about 3 per point) and, on an open mesh, the points of the
        cells on the border moved onto it (the half row a border misses); then fix the
        total to exactly ``count``."""
        points, edges = cells.points, cells.edges
        mids = 0.5 * (points[edges[:, 0]] + points[edges[:, 1]])
        if cells.bordered.any():
            border = self.surface.nearest_on_border(points[cells.bordered])
            # two cells at a corner may give one border point: keep one of each close pair
            close = cKDTree(border).query_pairs(BORDER_GAP * hex_spacing(self.surface.area, len(points)),
                                                output_type="ndarray")
            border = np.delete(border, np.unique(close[:, 1]), axis=0)
            mids = np.concatenate([border, mids])
        room = count - len(points)
        if len(mids) > room:
            keep = np.sort(self.rng.choice(len(mids), size=room, replace=False))
            mids = mids[keep]
        refined = np.concatenate([points, mids])
        if len(refined) < count:
            extra = self.surface.sample(self.rng, count - len(refined), power=1.0, distinct=True).positions
            refined = np.concatenate([refined, extra])
        return refined


ONLINE_STEP = (0.5, 0.005)  # ε, from the first step to the last (Martinetz & Schulten)
ONLINE_RANGE = (10.0, 0.01)  # λ, the neighbourhood range, likewise
ONLINE_NEAREST = 16  # the neighbourhood is truncated to this many nearest prototypes


def online_neural_gas(
    surface: Surface, count: int, rng: np.random.Generator,
    report: Reporter, power: float,
) -> tuple[FloatArray, IntArray, Samples]:
    """Mini-batch online neural gas with Martinetz & Schulten's schedules."""
    points = surface.sample(rng, count, power=1.0).positions
    batch = max(64, count // 8)
    steps = max(40, 8 * count * 4 // batch // 4)
    for step in range(steps):
        frac = step / max(steps - 1, 1)
        eps, lam, k = online_rates(frac)
        samples = surface.sample(rng, batch, power)
        _online_step(points, samples.positions, (eps, lam, k), surface)
        if step % 4 == 0:
            report("online ng", 0.95 * frac, f"step {step + 1}/{steps}")
    hints = surface.sample(rng, 8 * count, power)
    if count < 2:  # one point has no neighbour to join
        return points, np.zeros((0, 2), np.int64), hints
    last = surface.search.index(points, surface.area).query(hints.positions, 2)
    return points, hebbian_edges(last), hints


def online_rates(frac: float) -> tuple[float, float, int]:
    """ε, λ and the neighbours k to update, a fraction ``frac`` of the way through training.

    ε and λ fall geometrically; k covers the neighbours of weight ``exp(-k / λ)`` over 1e-3.

    >>> online_rates(0.0)
    (0.5, 10.0, 16)
    >>> online_rates(1.0)[2]
    2
    """
    eps_i, eps_f = ONLINE_STEP
    lam_i, lam_f = ONLINE_RANGE
    eps = eps_i * (eps_f / eps_i) ** frac
    lam = lam_i * (lam_f / lam_i) ** frac
    k = int(min(ONLINE_NEAREST, max(2, math.ceil(lam * math.log(1e3)))))
    return eps, lam, k


def _online_step(points: FloatArray, x: FloatArray, rates: tuple[float, float, int],
                 surface: Surface) -> None:
    """Pull each prototype towards a batch of samples ``x`` (in place), the k-th nearest
    prototype of a sample by ``eps · exp(-k / λ)``; a prototype's pulls are averaged.
    ``rates`` is (ε, λ, k); ``k`` is cut to the number of prototypes. The surface's search
    finds the nearest."""
    eps, lam, k = rates
    k = min(k, len(points))
    idx = surface.search.index(points, surface.area).query(x, k)
    h = eps * np.exp(-np.arange(k) / lam)
    delta = h[None, :, None] * (x[:, None, :] - points[idx])
    # average the pulls of one batch per prototype (order-independent, deterministic)
    flat = idx.ravel()
    total = np.bincount(flat, np.tile(h, len(x)), len(points))
    pull = np.stack([np.bincount(flat, delta[..., c].ravel(), len(points)) for c in range(3)], 1)
    moved = total > 0
    points[moved] += pull[moved] / np.maximum(total[moved, None] / eps, 1.0)
