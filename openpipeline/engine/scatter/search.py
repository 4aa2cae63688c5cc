"""Nearest-neighbour search for the scatter engine, on the CPU or on a GPU.

Every stage of the engine asks the same questions: the k nearest points of a
reference set to each query (samples to prototypes, points to surface samples,
points to each other) and the unique pairs of a neighbour table. At a million
points those questions are most of the time of a run on the CPU (a new k-d tree
every exact step). Two answers, one interface:

:class:`KdSearch` (``cpu``)
    scipy's k-d tree, with the engine's thread rule (:func:`~.mesh.workers`).
:class:`TorchSearch` (``cuda``, ``mps``)
    a uniform grid in torch: the reference points sorted by grid cell, each query
    gathering the points of the 27 cells around it and keeping the k nearest
    (a ragged sort, no atomics). A query whose k-th neighbour is farther than a
    cell, or that found fewer than k, is asked again on a grid of twice the cell
    size, so the answer is the exact k nearest, like the k-d tree's. Small
    questions (under :data:`GPU_MIN_WORK` distance tests) go to the k-d tree:
    a GPU only pays on large ones.

Both are deterministic: the same inputs give the same bits on the same device.
The exact restricted-Voronoi polish itself stays compiled for the CPU
(:mod:`.kernels`, numba, all cores); the sampled centroids' sums are taken on
the CPU (``bincount``, order-independent) from the nearest-prototype indices.

:func:`pick_search` chooses: ``auto`` takes a GPU (CUDA, then Apple MPS) only for
jobs of at least :data:`AUTO_GPU_MIN_POINTS` points, where a GPU pays for
importing torch and starting its device (seconds); below that, and on a machine
without a GPU, the k-d tree. A named device must exist.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from scipy.spatial import cKDTree

from openpipeline.engine.scatter.graph import unique_edges
from openpipeline.engine.scatter.mesh import FloatArray, IntArray, workers

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
AUTO_GPU_MIN_POINTS = 200_000  # 'auto' looks for a GPU only for jobs of this many points or more
GPU_MIN_WORK = 1_000_000  # queries × neighbours under which a GPU search hands over to the k-d tree
CELL_SCALE = 1.25  # the first grid's cell, in radii holding k + 1 points at the mean density
CANDIDATE_BUDGET = 1 << 24  # query–candidate pairs sorted at once (a chunk of queries)
QUERY_BLOCK = 1 << 20  # queries whose 27 cells are looked up at once
MAX_CELLS = 1 << 60  # grid cells addressable by one int64 key
GRID_MAX_REACH = 4  # cells each way the CPU grid searches before the k-d tree takes over
GRID_FROM = 2_000  # points from which the CPU finds each point's nearest others on a compiled grid


class Index(Protocol):
    """The k nearest reference points to queries."""

    def query(self, queries: FloatArray, k: int) -> IntArray:
        """(M, k) indices of each query's ``k`` nearest reference points, nearest first
        (``k`` cut to the reference's size)."""
        ...


class Search(Protocol):
    """A neighbour search on one device (:class:`KdSearch` or :class:`TorchSearch`)."""

    device: str

    def index(self, reference: FloatArray, area: float | None = None) -> Index:
        """An index of ``reference`` (points on a surface of ``area``, when known)."""
        ...

    def nearest_others(self, points: FloatArray, k: int, area: float | None = None) -> IntArray:
        """(N, k) each point's ``k`` nearest other points, nearest first."""
        ...

    def unique_edges(self, first: IntArray, second: IntArray, count: int) -> IntArray:
        """:func:`~.graph.unique_edges`, on this device."""
        ...


class _KdIndex:
    """scipy's k-d tree of the reference points."""

    def __init__(self, reference: FloatArray) -> None:
        self.size = len(reference)
        self.tree = cKDTree(reference)

    def query(self, queries: FloatArray, k: int) -> IntArray:
        k = min(k, self.size)
        if k < 1 or not len(queries):
            return np.zeros((len(queries), max(k, 0)), np.int64)
        _, found = self.tree.query(queries, k=k, workers=workers(len(queries)))
        return np.asarray(found, dtype=np.int64).reshape(len(queries), k)


class KdSearch:
    """The CPU search: scipy's k-d trees, and a compiled grid for each point's nearest others
    (from :data:`GRID_FROM` points, on a surface of known area: a new table every exact step)."""

    device = "cpu"

    def index(self, reference: FloatArray, area: float | None = None) -> Index:
        return _KdIndex(reference)

    def nearest_others(self, points: FloatArray, k: int, area: float | None = None) -> IntArray:
        k = min(k, len(points) - 1)
        if k < 1:
            return np.zeros((len(points), 0), np.int64)
        if len(points) >= GRID_FROM and area is not None and area > 0:
            return grid_nearest_others(points, k, area)
        return _KdIndex(points).query(points, k + 1)[:, 1:]

    def unique_edges(self, first: IntArray, second: IntArray, count: int) -> IntArray:
        return unique_edges(first, second, count)


def grid_nearest_others(points: FloatArray, k: int, area: float) -> IntArray:
    """Each point's ``k`` nearest other points (``k`` < the number of points), nearest first
    (a tie to the lower index), by a uniform grid and a compiled scan of the 27 cells around
    each point; points whose k-th is beyond a cell are asked again over twice as many cells
    each way (up to :data:`GRID_MAX_REACH`, then by a k-d tree), so the answer is exact.

    Cost: about a third of a k-d tree's build and query, one thread (compiled)."""
    from openpipeline.engine.scatter import kernels  # here: importing numba takes 0.2 s

    points = np.ascontiguousarray(points, dtype=np.float64)
    n = len(points)
    found = np.empty((n, k), np.int64)
    low = points.min(0)
    span = np.ptp(points, axis=0)
    h = max(cell_size(n, k, area), float(span.max()) / (MAX_CELLS ** (1 / 3) - 3), 1e-300)
    cells = np.floor((points - low) / h).astype(np.int64)
    shape = cells.max(0) + 1
    keys = (cells[:, 0] * shape[1] + cells[:, 1]) * shape[2] + cells[:, 2]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    first = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
    stop = np.append(first[1:], n)
    grid = (cells, shape, sorted_keys[first], first, stop, order, points[order], points)
    queries, reach = order, 1
    while len(queries):
        if reach > GRID_MAX_REACH:  # a few points far from the rest: the k-d tree answers them
            found[queries] = _others_by_tree(points, queries, k)
            break
        whole = reach * h >= float(span.max())
        out = np.empty((len(queries), k), np.int64)
        exact = np.empty(len(queries), np.bool_)
        chunks = max(1, min(len(queries), 64 * kernels.threads()))
        limits = np.array([math.inf if whole else (reach * h) ** 2, chunks, reach])
        kernels.grid_nearest_others(queries, grid, k, limits, out, exact)
        found[queries[exact]] = out[exact]
        queries = queries[~exact]  # still sorted by cell
        reach *= 2
    return found


def _others_by_tree(points: FloatArray, queries: IntArray, k: int) -> IntArray:
    """The ``k`` nearest other points of some of the points, by a k-d tree of all of them
    (each point's own entry left out, even where a twin shares its place)."""
    near = _KdIndex(points).query(points[queries], k + 1)
    own = near == queries[:, None]
    drop = np.where(own.any(1), own.argmax(1), k)  # itself, else the farthest
    keep = np.ones_like(near, dtype=np.bool_)
    keep[np.arange(len(queries)), drop] = False
    return near[keep].reshape(len(queries), k)


def cell_size(count: int, k: int, area: float) -> float:
    """The first grid's cell: :data:`CELL_SCALE` times the radius of a disc that holds
    ``k + 1`` of ``count`` points spread over ``area``.

    >>> round(cell_size(1000, 8, 1.0), 4)
    0.0669
    """
    return CELL_SCALE * math.sqrt((k + 1) * area / (math.pi * max(count, 1)))


def bounding_area(points: FloatArray) -> float:
    """A surface area for points whose surface is not known: half the area of their
    bounding box's faces (a plane's bounding box counts it twice), at least the square of
    a thousandth of the box's diagonal."""
    if not len(points):
        return 1.0
    size = np.ptp(points, axis=0)
    faces = float(size[0] * size[1] + size[1] * size[2] + size[2] * size[0])
    return max(faces, (1e-3 * float(np.linalg.norm(size))) ** 2, 1e-300)


class TorchSearch:
    """A uniform-grid search in torch on ``device`` (a GPU; the CPU for tests).

    Args:
        device: the torch device.
        min_work: queries × neighbours under which the k-d tree answers instead
            (:data:`GPU_MIN_WORK`; 0 sends everything to ``device``).
    """

    def __init__(self, device: torch.device, min_work: int = GPU_MIN_WORK) -> None:
        import torch

        self.torch = torch
        self.where = device
        self.device = device.type if device.type != "cpu" else "cpu (torch)"
        self.min_work = min_work
        # Apple MPS has no float64; distances in float32 only pick between near ties
        self.dtype = torch.float32 if device.type == "mps" else torch.float64

    def index(self, reference: FloatArray, area: float | None = None) -> Index:
        return _GridIndex(self, reference, area)

    def nearest_others(self, points: FloatArray, k: int, area: float | None = None) -> IntArray:
        k = min(k, len(points) - 1)
        if k < 1:
            return np.zeros((len(points), 0), np.int64)
        if len(points) * k < self.min_work:
            return KdSearch().nearest_others(points, k)
        return _GridIndex(self, points, area).query(points, k, exclude_self=True)

    def unique_edges(self, first: IntArray, second: IntArray, count: int) -> IntArray:
        if len(first) < self.min_work:
            return unique_edges(first, second, count)
        torch = self.torch
        a = torch.from_numpy(np.ascontiguousarray(first, dtype=np.int64)).to(self.where)
        b = torch.from_numpy(np.ascontiguousarray(second, dtype=np.int64)).to(self.where)
        keys = torch.sort(torch.minimum(a, b) * count + torch.maximum(a, b)).values
        # the distinct keys, by a mask rather than torch.unique (which not every backend has)
        new = torch.ones(len(keys), dtype=torch.bool, device=keys.device)
        new[1:] = keys[1:] != keys[:-1]
        keys_np = keys[new].cpu().numpy()
        return np.stack([keys_np // count, keys_np % count], 1)


class _GridIndex:
    """Reference points on a torch device, searched on uniform grids (built per cell size)."""

    def __init__(self, search: TorchSearch, reference: FloatArray, area: float | None) -> None:
        self.search = search
        self.points = np.ascontiguousarray(reference, dtype=np.float64)
        self.area = bounding_area(self.points) if area is None or area <= 0 else float(area)
        self.origin = self.points.min(0) if len(self.points) else np.zeros(3)
        self.ref = search.torch.from_numpy(self.points - self.origin).to(search.where, search.dtype)
        self.kd: _KdIndex | None = None

    def query(self, queries: FloatArray, k: int, exclude_self: bool = False) -> IntArray:
        """See :meth:`Index.query`; ``exclude_self``: the queries are the reference points,
        each not its own neighbour."""
        n = len(self.points)
        k = min(k, n - 1 if exclude_self else n)
        m = len(queries)
        if k < 1 or not m:
            return np.zeros((m, max(k, 0)), np.int64)
        if m * k < self.search.min_work and not exclude_self:
            if self.kd is None:
                self.kd = _KdIndex(self.points)
            return self.kd.query(queries, k)
        torch = self.search.torch
        q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float64) - self.origin)
        q = q.to(self.search.where, self.search.dtype)
        found = torch.full((m, k), -1, dtype=torch.int64, device=self.search.where)
        todo = torch.arange(m, device=self.search.where)
        h = cell_size(n, k, self.area)
        while len(todo):
            grid = _Grid(self.search, self.ref, h, q[todo])
            done = grid.nearest(q[todo], todo if exclude_self else None, k, found, todo)
            todo = todo[~done]
            h *= 2.0
        return np.asarray(found.cpu().numpy(), dtype=np.int64)


class _Grid:
    """The reference points sorted by the cell of a grid of cell size ``h``."""

    def __init__(self, search: TorchSearch, ref: Any, h: float, queries: Any) -> None:
        torch = search.torch
        self.torch = torch
        # the grid covers the references and these queries, with one empty cell around
        top = torch.maximum(ref.max(0).values, queries.max(0).values) if len(queries) else ref.max(0).values
        low = torch.minimum(ref.min(0).values, queries.min(0).values) if len(queries) else ref.min(0).values
        span = (top - low).double().cpu().numpy()
        # a cell too small for an int64 key over this box is grown (the search stays exact)
        h = max(h, float(np.max(span)) / (MAX_CELLS ** (1 / 3) - 3), 1e-300)
        self.h = h
        self.low = low
        self.spans_all = bool(np.all(span <= h))
        dims = np.floor(span / h).astype(np.int64) + 3
        self.dims = (int(dims[1]) * int(dims[2]), int(dims[2]))
        keys = self.keys(self.cells(ref))
        self.order = torch.argsort(keys, stable=True)
        ordered = keys[self.order]
        # each occupied cell's first position and count (a mask, not unique_consecutive, which
        # not every backend has)
        new = torch.ones(len(ordered), dtype=torch.bool, device=ordered.device)
        new[1:] = ordered[1:] != ordered[:-1]
        self.starts = torch.nonzero(new).reshape(-1)
        self.cell_keys = ordered[self.starts]
        ends = torch.cat([self.starts[1:], torch.tensor([len(ordered)], device=ordered.device)])
        self.counts = ends - self.starts
        self.ref = ref
        self.offsets = torch.tensor([[x, y, z] for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1)],
                                    dtype=torch.int64, device=ref.device)

    def cells(self, points: Any) -> Any:
        """The (N, 3) cell of each point, shifted by one (so a neighbour cell is never negative)."""
        return self.torch.floor((points - self.low) / self.h).to(self.torch.int64) + 1

    def keys(self, cells: Any) -> Any:
        """One int64 key per cell."""
        return cells[..., 0] * self.dims[0] + cells[..., 1] * self.dims[1] + cells[..., 2]

    def nearest(self, queries: Any, selves: Any, k: int, found: Any, rows: Any) -> Any:
        """Write the k nearest reference points of the ``queries`` into ``found[rows]`` where
        the answer is exact (the k-th within a cell, or the cell spans everything); returns
        which rows were answered. ``selves``: each query's own reference index, left out."""
        torch = self.torch
        done = torch.zeros(len(queries), dtype=torch.bool, device=queries.device)
        spans = self._chunks(queries)
        for start, stop in spans:
            part = slice(start, stop)
            own = None if selves is None else selves[part]
            ids, exact = self._nearest_chunk(queries[part], own, k)
            found[rows[part][exact]] = ids[exact]
            done[part] = exact
        return done

    def _around(self, queries: Any) -> tuple[Any, Any]:
        """(M, 27) first sorted position and count of the reference points in each of the 27
        cells around each query (count 0 for an empty cell)."""
        torch = self.torch
        keys = self.keys(self.cells(queries)[:, None, :] + self.offsets[None, :, :])
        pos = torch.searchsorted(self.cell_keys, keys).clamp(max=len(self.cell_keys) - 1)
        hit = self.cell_keys[pos] == keys
        zero = torch.zeros((), dtype=torch.int64, device=queries.device)
        return torch.where(hit, self.starts[pos], zero), torch.where(hit, self.counts[pos], zero)

    def _chunks(self, queries: Any) -> list[tuple[int, int]]:
        """Runs of queries with about :data:`CANDIDATE_BUDGET` candidates each (at least one query)."""
        if not len(queries):
            return []
        counts = [self._around(queries[s:s + QUERY_BLOCK])[1].sum(1)
                  for s in range(0, len(queries), QUERY_BLOCK)]
        per_query = self.torch.cat(counts).cpu().numpy()
        before = np.cumsum(per_query) - per_query
        chunk = before // CANDIDATE_BUDGET
        bounds = [0, *(np.flatnonzero(np.diff(chunk)) + 1).tolist(), len(per_query)]
        return list(itertools.pairwise(bounds))

    def _nearest_chunk(self, queries: Any, selves: Any, k: int) -> tuple[Any, Any]:
        """(M, k) nearest reference indices of a chunk of queries, and (M,) which are exact."""
        torch = self.torch
        device = queries.device
        m = len(queries)
        starts, counts = self._around(queries)
        flat_counts = counts.reshape(-1)
        pair = torch.repeat_interleave(torch.arange(m * 27, device=device), flat_counts)
        first = torch.cumsum(flat_counts, 0) - flat_counts
        within = torch.arange(len(pair), device=device) - first[pair]
        cand = self.order[starts.reshape(-1)[pair] + within]
        qid = pair // 27
        d = ((self.ref[cand] - queries[qid]) ** 2).sum(1)
        if selves is not None:
            keep = cand != selves[qid]
            cand, qid, d = cand[keep], qid[keep], d[keep]
        # nearest first within each query, a tie to the lower index (as the CPU grid does):
        # stable sorts by index, then distance, then query
        by_index = torch.argsort(cand, stable=True)
        by_distance = by_index[torch.argsort(d[by_index], stable=True)]
        by_query = by_distance[torch.argsort(qid[by_distance], stable=True)]
        cand, qid, d = cand[by_query], qid[by_query], d[by_query]
        # each query's run in the sorted pairs (searchsorted, not bincount: no atomics on a GPU)
        first_of = torch.searchsorted(qid, torch.arange(m, device=device))
        per_query = torch.searchsorted(qid, torch.arange(m, device=device), right=True) - first_of
        rank = torch.arange(len(qid), device=device) - first_of[qid]
        take = rank < k
        ids = torch.full((m, k), -1, dtype=torch.int64, device=device)
        dist = torch.full((m, k), math.inf, dtype=d.dtype, device=device)
        ids[qid[take], rank[take]] = cand[take]
        dist[qid[take], rank[take]] = d[take]
        # exact when k were found and the k-th is within a cell (every nearer point is then
        # in the 27 cells around), or when a cell spans every point and query
        exact = per_query >= k
        if not self.spans_all:
            exact &= dist[:, k - 1] <= self.h * self.h
        return ids, exact


def pick_search(name: str, count: int) -> Search:
    """The search for a job of ``count`` points on device ``name`` (:data:`DEVICES`).

    ``auto`` imports torch (seconds) only for a job of at least :data:`AUTO_GPU_MIN_POINTS`
    points, and takes its GPU if it has one; otherwise the k-d tree.

    Raises:
        EngineInputError: ``name`` is not known, or names a device this machine lacks.
    """
    if name == "cpu" or (name == "auto" and count < AUTO_GPU_MIN_POINTS):
        return KdSearch()
    from openpipeline.engine.devices import pick_device

    device = pick_device(name)
    if device.type == "cpu":
        return KdSearch()
    return TorchSearch(device)
