"""Triangle meshes for scattering: loading, checking, sampling, projecting.

A :class:`Mesh` is plain arrays (so Maya's ``MFnMesh`` data, a file read by
trimesh, or a test's numbers all fit). :class:`Surface` precomputes what the
samplers need: faces ordered along a Morton curve, so that *systematic*
sampling along that order spreads samples evenly at every scale, and a
low-discrepancy (R2) sequence inside each triangle.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from openpipeline.engine.errors import EngineInputError

if TYPE_CHECKING:
    from openpipeline.engine.scatter.search import Index, Search

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# The R2 sequence (Roberts 2018): the plastic number's powers; a 2D low-discrepancy lattice.
R2_A1 = 0.7548776662466927
R2_A2 = 0.5698402909980532

# The largest coordinate of a face must lie in this range: the closest-point arithmetic
# multiplies two squared lengths, so a length L gives L⁴, which float64 holds from about
# 1e-323 to 1e308 (both ends measured: 1e-80 and 1e76 scatter cleanly, 1e-82 and 1e77 not).
COORDINATE_RANGE = (1e-80, 1e76)
BORDER_EDGES_NEAR = 8  # border edges (by their midpoints) searched for a closest border point
PARALLEL_QUERIES = 50_000  # k-d tree queries of fewer points run on one thread
FACE_CENTRES_NEAR = 4  # a projection also tries the faces of this many nearest face centres
RESAMPLE_CANDIDATES = 2**18  # a density draw's candidates grow up to this many (about 40 MB)


@dataclass
class Mesh:
    """A triangle mesh as arrays.

    Attributes:
        vertices: (V, 3) positions.
        faces: (F, 3) vertex indices.
        corner_uvs: (F, 3, 2) UV of each face corner, or None (UV seams are fine).
        vertex_weights: (V,) optional per-vertex density weights.
    """

    vertices: FloatArray
    faces: IntArray
    corner_uvs: FloatArray | None = None
    vertex_weights: FloatArray | None = None
    name: str = "mesh"

    @property
    def has_uvs(self) -> bool:
        return self.corner_uvs is not None


def triangulate(counts: IntArray, indices: IntArray) -> IntArray:
    """Fan-triangulate polygons given as Maya gives them (counts per face, flat indices)."""
    counts = np.asarray(counts, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    if (counts < 3).any():
        raise EngineInputError("Every polygon needs at least 3 vertices.")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    tris_per = counts - 2
    poly = np.repeat(np.arange(len(counts)), tris_per)
    local = np.arange(tris_per.sum()) - np.repeat(np.cumsum(tris_per) - tris_per, tris_per)
    base = starts[poly]
    return np.stack([indices[base], indices[base + local + 1], indices[base + local + 2]], 1)


def load_mesh(path: str | Path) -> Mesh:
    """Read a mesh file (OBJ, PLY, STL, glTF, OFF... whatever trimesh reads, or a ``.npz``
    written by :func:`openpipeline.engine.scatter.job.save_mesh`).

    Cost: reading and parsing the file.
    """
    path = Path(path)
    if not path.is_file():
        raise EngineInputError(f"Mesh file '{path}' does not exist; check the path.")
    if path.suffix.lower() == ".npz":
        return _load_npz(path)
    import trimesh  # here, not at the top: it takes about 0.5 s to import

    if path.suffix.lower() == ".obj":
        _check_obj_indices(path)
    try:
        loaded = trimesh.load(str(path), force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise EngineInputError(f"Cannot read mesh '{path.name}' ({exc}).") from exc
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64)
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64)
    uvs = None
    visual = getattr(loaded, "visual", None)
    uv = getattr(visual, "uv", None)
    if uv is not None and len(uv) == len(vertices) and len(faces):
        uvs = np.asarray(uv, dtype=np.float64)[faces]
    return check_mesh(Mesh(vertices, faces, uvs, name=path.stem))


def _load_npz(path: Path) -> Mesh:
    """A mesh from a ``.npz`` of arrays (``vertices``, ``faces``, optional ``corner_uvs``,
    ``vertex_weights``, ``name``); nothing is unpickled."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise EngineInputError(f"Cannot read mesh '{path.name}' ({exc}); write it with save_mesh.") from exc
    if "vertices" not in arrays or "faces" not in arrays:
        raise EngineInputError(f"Mesh '{path.name}' has no 'vertices' and 'faces' arrays; "
                               "write it with save_mesh.")
    uvs = arrays.get("corner_uvs")
    weights = arrays.get("vertex_weights")
    return check_mesh(Mesh(
        np.asarray(arrays["vertices"], dtype=np.float64), np.asarray(arrays["faces"], dtype=np.int64),
        None if uvs is None else np.asarray(uvs, dtype=np.float64),
        None if weights is None else np.asarray(weights, dtype=np.float64),
        name=str(arrays["name"]) if "name" in arrays else path.stem,
    ))


def _check_obj_indices(path: Path) -> None:
    """Refuse an OBJ face that uses index 0 (OBJ counts from 1; readers take 0 as the last).

    Cost: one pass over the file's lines.
    """
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            words = line.split()
            if not words or words[0] != "f":
                continue
            if any(part == "0" for word in words[1:] for part in word.split("/")):
                raise EngineInputError(
                    f"Mesh '{path.name}' has a face with index 0 on line {number}; OBJ indices "
                    "start at 1, so fix the file's exporter."
                )


def check_mesh(mesh: Mesh) -> Mesh:
    """Refuse meshes that cannot be scattered on, with one clear sentence.

    Refused: what :func:`check_arrays` refuses, and non-manifold edges (an edge shared by
    more than two faces).
    """
    check_arrays(mesh)
    # Non-manifold edges: merge coincident vertices first (UV seams split vertices).
    _, counts = _welded_edges(mesh)
    if (counts > 2).any():
        raise EngineInputError(
            f"Mesh '{mesh.name}' is non-manifold ({int((counts > 2).sum())} edges shared by more "
            "than two faces); clean it up (Maya: Mesh > Cleanup, non-manifold geometry) first."
        )
    return mesh


def check_arrays(mesh: Mesh, area: bool = True) -> Mesh:
    """Refuse mesh arrays the engine cannot index or measure, with one clear sentence (what
    :func:`~.distribute.scatter` checks itself, whoever made the mesh).

    Refused: arrays that are not triangles of numbers, no faces, indices out of range,
    non-finite positions, coordinates outside :data:`COORDINATE_RANGE` (squared areas and
    distances would overflow or underflow), zero area, UVs or vertex weights that do not
    match. ``area`` False: the caller checks the area itself.

    Cost: a few passes over the arrays (vectorised).
    """
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    _check_indices(mesh.name, v, f)
    used = np.zeros(len(v), np.bool_)
    used[f.ravel()] = True
    reach = float(np.abs(v[used]).max())
    if reach > 0 and not COORDINATE_RANGE[0] <= reach <= COORDINATE_RANGE[1]:
        low, high = COORDINATE_RANGE
        raise EngineInputError(
            f"Mesh '{mesh.name}' reaches {reach:.3g} units from the origin; scatter takes meshes "
            f"within {low:.0e} to {high:.0e} units, so scale it first."
        )
    if area and face_areas(v, f).sum() <= 0:
        raise EngineInputError(f"Mesh '{mesh.name}' has zero surface area; give a mesh with a surface.")
    _check_attributes(mesh, len(v), len(f))
    return mesh


def _check_indices(name: str, v: NDArray[np.generic], f: NDArray[np.generic]) -> None:
    """Refuse arrays that are not triangles, no faces, indices out of range, non-finite positions."""
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3 or v.dtype.kind not in "fiu" \
            or (f.dtype.kind not in "iu" and len(f)):
        raise EngineInputError(f"Mesh '{name}' must be triangles: vertices (V, 3) numbers, "
                               "faces (F, 3) whole numbers.")
    if len(f) == 0 or len(v) == 0:
        raise EngineInputError(f"Mesh '{name}' is empty (no faces); give a mesh with a surface.")
    if f.min() < 0 or f.max() >= len(v):
        raise EngineInputError(f"Mesh '{name}' has face indices outside its vertex list; fix or "
                               "re-export it.")
    if not np.isfinite(v).all():
        raise EngineInputError(f"Mesh '{name}' has non-finite vertex positions (NaN or infinity); "
                               "fix or re-export it.")


def _check_attributes(mesh: Mesh, vertices: int, faces: int) -> None:
    """Refuse UVs and vertex weights that do not match the mesh or are not finite."""
    if mesh.corner_uvs is not None and (np.shape(mesh.corner_uvs) != (faces, 3, 2)
                                        or not np.isfinite(mesh.corner_uvs).all()):
        raise EngineInputError(f"Mesh '{mesh.name}' has UVs that do not match its faces or are "
                               "not finite; fix its UV layout.")
    if mesh.vertex_weights is not None and (np.shape(mesh.vertex_weights) != (vertices,)
                                            or not np.isfinite(mesh.vertex_weights).all()):
        raise EngineInputError(f"Mesh '{mesh.name}' has vertex weights that do not match its vertices "
                               "or are not finite; fix its weights.")


_WELDED: dict[str, IntArray] = {}  # the last welding, by the digest of its vertices


def _weld(vertices: FloatArray) -> IntArray:
    """Each vertex's index among the distinct positions (vertices split at UV seams merge),
    numbered in lexicographic order of the positions.

    The last result is kept (by a digest of the vertices' bytes): a scatter welds the same
    mesh for its closedness, its face adjacency and its normals.
    """
    digest = hashlib.blake2b(np.ascontiguousarray(vertices).tobytes(), digest_size=16).hexdigest()
    digest += str(vertices.shape)
    if digest in _WELDED:
        return _WELDED[digest]
    scale = float(np.abs(vertices).max()) or 1.0
    keys = np.round(vertices / (scale * 1e-9)).astype(np.int64)
    order = np.lexsort((keys[:, 2], keys[:, 1], keys[:, 0]))
    ordered = keys[order]
    new = np.ones(len(keys), np.bool_)
    new[1:] = (ordered[1:] != ordered[:-1]).any(1)
    welded = np.empty(len(keys), np.int64)
    welded[order] = np.cumsum(new) - 1
    welded.setflags(write=False)
    _WELDED.clear()
    _WELDED[digest] = welded
    return welded


def _edge_keys(low: IntArray, high: IntArray, count: int) -> IntArray:
    """One integer per undirected edge between vertex ids below ``count``."""
    return np.minimum(low, high) * count + np.maximum(low, high)


def _welded_edges(mesh: Mesh) -> tuple[IntArray, IntArray]:
    """Edges between welded (coincident-merged) vertices, and how many faces share each."""
    wf = _weld(mesh.vertices)[mesh.faces]
    good = (wf[:, 0] != wf[:, 1]) & (wf[:, 1] != wf[:, 2]) & (wf[:, 0] != wf[:, 2])
    wf = wf[good]
    count = int(wf.max()) + 1 if len(wf) else 1
    keys = _edge_keys(np.concatenate([wf[:, 0], wf[:, 1], wf[:, 2]]),
                      np.concatenate([wf[:, 1], wf[:, 2], wf[:, 0]]), count)
    unique, counts = np.unique(keys, return_counts=True)
    return np.stack([unique // count, unique % count], 1), counts


def border_edges(mesh: Mesh) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The mesh's border: edges used by one face only (after welding UV seams).

    Returns:
        Each border edge's two end points (B, 3) each, and its unit inward direction
        (B, 3): in its face's plane, square to the edge, towards the face.
    """
    welded = _weld(mesh.vertices)
    wf = welded[mesh.faces]
    corners = np.concatenate([wf[:, [0, 1, 2]], wf[:, [1, 2, 0]], wf[:, [2, 0, 1]]])
    faces = np.concatenate([mesh.faces[:, [0, 1, 2]], mesh.faces[:, [1, 2, 0]], mesh.faces[:, [2, 0, 1]]])
    keys = _edge_keys(corners[:, 0], corners[:, 1], int(welded.max()) + 1)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    alone = (counts[inverse.reshape(-1)] == 1) & (corners[:, 0] != corners[:, 1])
    v = mesh.vertices
    a, b, c = v[faces[alone, 0]], v[faces[alone, 1]], v[faces[alone, 2]]
    along = b - a
    along = along / np.maximum(np.linalg.norm(along, axis=1, keepdims=True), 1e-300)
    inward = (c - a) - np.einsum("nc,nc->n", c - a, along)[:, None] * along
    length = np.linalg.norm(inward, axis=1, keepdims=True)
    keep = length[:, 0] > 0
    return a[keep], b[keep], inward[keep] / length[keep]


def face_adjacency(mesh: Mesh) -> IntArray:
    """(F, 3): the face across each face's edge from corner e to corner e + 1, -1 on a border
    (vertices split at UV seams are welded first, so seams join faces)."""
    wf = _weld(mesh.vertices)[mesh.faces]
    first_corner = wf.ravel()
    second_corner = wf[:, [1, 2, 0]].ravel()
    keys = _edge_keys(first_corner, second_corner, int(wf.max()) + 1)
    degenerate = first_corner == second_corner
    keys[degenerate] = -1 - np.arange(int(degenerate.sum()))  # joined to nothing
    order = np.argsort(keys, kind="stable")
    same = keys[order[1:]] == keys[order[:-1]]
    first, second = order[:-1][same], order[1:][same]
    adjacent = np.full(len(keys), -1, np.int64)
    adjacent[first] = second // 3
    adjacent[second] = first // 3
    return adjacent.reshape(-1, 3)


def is_closed(mesh: Mesh) -> bool:
    """True when every edge is shared by exactly two faces (no border); a mesh whose faces
    all weld to points (no edge at all) is not closed."""
    _, counts = _welded_edges(mesh)
    return bool(len(counts) and (counts == 2).all())


def mesh_area(mesh: Mesh) -> float:
    """The surface area of ``mesh`` (what a spacing's point count is worked out from)."""
    return float(face_areas(mesh.vertices, mesh.faces).sum())


def face_areas(vertices: FloatArray, faces: IntArray) -> FloatArray:
    tri = vertices[faces]
    return np.asarray(0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1))


def workers(queries: int) -> int:
    """Threads for a k-d tree query of ``queries`` points: one for small queries (starting
    threads costs more than they save); for large ones ``NUMBA_NUM_THREADS`` where it is set
    (one setting for the compiled kernels and the queries), else all cores. The results
    are the same either way."""
    if queries < PARALLEL_QUERIES:
        return 1
    setting = os.environ.get("NUMBA_NUM_THREADS", "")
    return int(setting) if setting.isdigit() and int(setting) > 0 else -1


def _morton_order(points: FloatArray, bits: int = 10) -> IntArray:
    lo = points.min(0)
    span = float((points.max(0) - lo).max()) or 1.0
    q = ((points - lo) / span * (2**bits - 1)).astype(np.uint64)
    code = np.zeros(len(points), np.uint64)
    for b in range(bits):
        for d in range(3):
            code |= ((q[:, d] >> np.uint64(b)) & np.uint64(1)) << np.uint64(3 * b + d)
    return np.argsort(code, kind="stable")


@dataclass
class Samples:
    """Points on the surface with the face and barycentric coordinates they lie at."""

    positions: FloatArray
    face_ids: IntArray
    barycentrics: FloatArray

    def index(self, search: Search, area: float | None = None) -> Index:
        """An index of the positions for ``search`` (on a surface of ``area``), built once."""
        cached = self.__dict__.get("_index")
        if cached is None or cached[0] is not search:
            cached = self.__dict__["_index"] = (search, search.index(self.positions, area))
        return cached[1]


WeightFunction = Callable[[IntArray, FloatArray], FloatArray]


class Surface:
    """A mesh prepared for fast, even sampling and for projecting points onto it."""

    def __init__(self, mesh: Mesh, weight: WeightFunction | None = None) -> None:
        from openpipeline.engine.scatter.search import KdSearch

        self.mesh = mesh
        # the neighbour search of every stage: the CPU's until scatter() picks the job's device
        self.search: Search = KdSearch()
        centroids = mesh.vertices[mesh.faces].mean(1)
        self.order = _morton_order(centroids)
        tri = mesh.vertices[mesh.faces[self.order]]
        self.origin = tri[:, 0]
        self.edge1 = tri[:, 1] - tri[:, 0]
        self.edge2 = tri[:, 2] - tri[:, 0]
        cross = np.cross(self.edge1, self.edge2)
        self.areas = 0.5 * np.linalg.norm(cross, axis=1)
        self.area = float(self.areas.sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            self.normals = np.nan_to_num(cross / (2 * self.areas[:, None]))
        # unit normals indexed by the mesh's own face ids
        self.mesh_face_normals = np.empty_like(self.normals)
        self.mesh_face_normals[self.order] = self.normals
        self.cumulative = np.concatenate([[0.0], np.cumsum(self.areas)])
        self.weight = weight
        self.closed = is_closed(mesh)
        self._border: tuple[FloatArray, FloatArray, FloatArray] | None = None
        self._centres: Samples | None = None
        self._adjacent: IntArray | None = None
        self._border_tree: cKDTree | None = None

    def adjacency(self) -> IntArray:
        """:func:`face_adjacency` of the mesh (built once)."""
        if self._adjacent is None:
            self._adjacent = face_adjacency(self.mesh)
        return self._adjacent

    def face_centres(self) -> Samples:
        """One sample at the centre of each face (built once)."""
        if self._centres is None:
            count = len(self.mesh.faces)
            self._centres = Samples(self.mesh.vertices[self.mesh.faces].mean(1), np.arange(count),
                                    np.full((count, 3), 1 / 3))
        return self._centres

    def nearest_on_border(self, points: FloatArray) -> FloatArray:
        """The closest point on the mesh's border to each point (the points themselves on a
        closed mesh)."""
        if self._border is None:
            self._border = border_edges(self.mesh)
        start, end, _ = self._border
        if not len(start):
            return np.array(points, dtype=np.float64)
        if self._border_tree is None:
            self._border_tree = cKDTree(0.5 * (start + end))
        near = min(BORDER_EDGES_NEAR, len(start))
        _, ids = self._border_tree.query(points, k=near, workers=workers(len(points)))
        ids = ids.reshape(len(points), near)
        a, b = start[ids], end[ids]
        along = b - a
        t = np.einsum("nkc,nkc->nk", points[:, None, :] - a, along) / np.maximum(
            np.einsum("nkc,nkc->nk", along, along), 1e-300)
        closest = a + np.clip(t, 0.0, 1.0)[..., None] * along
        gap = np.einsum("nkc,nkc->nk", closest - points[:, None, :], closest - points[:, None, :])
        return np.asarray(closest[np.arange(len(points)), np.argmin(gap, 1)], dtype=np.float64)

    def weight_at(self, at: Samples) -> FloatArray | None:
        """The weight (≥ 0) at points on the surface; None without a weight."""
        if self.weight is None:
            return None
        return np.asarray(np.clip(self.weight(at.face_ids, at.barycentrics), 0.0, None), dtype=np.float64)

    def log_density(self, at: Samples, power: float, w: FloatArray | None = None) -> FloatArray | None:
        """log(weight^power) at points on the surface (None without a weight); a zero
        weight counts as 1e-12 of the largest. ``w``: the :meth:`weight_at` these points."""
        if self.weight is None or power == 0:
            return None
        if w is None:
            w = np.clip(self.weight(at.face_ids, at.barycentrics), 0.0, None)
        floor = max(float(w.max()), 1e-300) * 1e-12
        return np.asarray(power * np.log(np.maximum(w, floor)), dtype=np.float64)

    def face_ids(self, local: IntArray) -> IntArray:
        """Original mesh face ids of faces in this surface's (Morton) order."""
        return self.order[local]

    def _uniform(self, rng: np.random.Generator, count: int) -> tuple[IntArray, FloatArray]:
        """Systematic, area-proportional samples: (local face index, (u, v))."""
        t = (np.arange(count) + rng.random()) * (self.area / count)
        local = np.clip(np.searchsorted(self.cumulative, t, side="right") - 1, 0, len(self.areas) - 1)
        # local is sorted: runs of samples on one face, each run with its own random shift
        first = np.ones(count, np.bool_)
        first[1:] = local[1:] != local[:-1]
        run = np.cumsum(first) - 1
        j = np.arange(count) - np.flatnonzero(first)[run]
        shift = rng.random((int(run[-1]) + 1 if count else 0, 2))
        u = (shift[run, 0] + j * R2_A1) % 1.0
        v = (shift[run, 1] + j * R2_A2) % 1.0
        flip = u + v > 1.0
        u[flip] = 1.0 - u[flip]
        v[flip] = 1.0 - v[flip]
        return local, np.stack([u, v], 1)

    def sample(
        self, rng: np.random.Generator, count: int, power: float = 1.0, oversample: int = 4,
        distinct: bool = False,
    ) -> Samples:
        """``count`` points spread evenly at every scale, with density ∝ weight^power.

        Without a weight the samples are area-uniform. With one, ``oversample``
        times as many uniform candidates are drawn and ``count`` of them kept by
        systematic resampling in proportion to weight^power (this keeps the
        even spread along the Morton curve).

        A draw that finds no weight (a few samples on a map lit in a small part), or with
        ``distinct`` keeps a candidate twice (points to be placed, not samples to train on),
        is drawn again with 4 times the candidates, up to :data:`RESAMPLE_CANDIDATES` (or
        ``oversample`` times ``count``, if more).

        Cost: about 0.2 µs per uniform sample, plus weight lookups.
        """
        if self.weight is None or power == 0:
            local, uv = self._uniform(rng, count)
        else:
            limit = max(count * oversample, RESAMPLE_CANDIDATES)
            while True:
                candidates = count * oversample
                picked = self._resample(rng, (count, power), candidates, distinct, candidates * 4 > limit)
                if picked is not None:
                    local, uv = picked
                    break
                oversample *= 4
        positions = self.origin[local] + uv[:, :1] * self.edge1[local] + uv[:, 1:] * self.edge2[local]
        bary = np.stack([1 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], 1)
        return Samples(positions, self.face_ids(local), bary)

    def _resample(self, rng: np.random.Generator, wanted: tuple[int, float], candidates: int,
                  distinct: bool, last: bool) -> tuple[IntArray, FloatArray] | None:
        """``count`` of ``candidates`` uniform samples kept in proportion to weight^power
        (systematic resampling; ``wanted`` is (count, power)); None when no candidate has
        weight or (``distinct``) one is kept twice, unless this is the ``last`` draw (then no
        weight is an error, and repeats are kept)."""
        count, power = wanted
        local, uv = self._uniform(rng, candidates)
        bary = np.stack([1 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], 1)
        w = np.clip(self.weight(self.face_ids(local), bary), 0.0, None) ** power  # type: ignore[misc]
        total = float(w.sum())
        if total <= 0:
            if last:
                raise EngineInputError("The density is zero everywhere on the mesh; nothing to scatter on.")
            return None
        cw = np.cumsum(w)
        t = (np.arange(count) + rng.random()) * (total / count)
        pick = np.clip(np.searchsorted(cw, t, side="right"), 0, len(w) - 1)
        if distinct and not last and (pick[1:] == pick[:-1]).any():  # pick is sorted: repeats are neighbours
            return None
        return local[pick], uv[pick]

    def project(self, points: FloatArray, hints: Samples, k: int = 8) -> Samples:
        """Closest points on the mesh, searching the faces of the ``k`` nearest hint samples.

        Cost: two k-nearest queries and 2k exact point-triangle distances per point (compiled).
        """
        k = min(k, len(hints.positions))
        nearest = hints.index(self.search, self.area).query(points, k)
        candidates = hints.face_ids[nearest]  # (N, k) mesh face ids
        # and the faces of the nearest face centres: a point whose face no hint lies on
        # would otherwise snap to the edge of a neighbouring face
        centres = self.face_centres()
        near = min(FACE_CENTRES_NEAR, len(centres.positions))
        nearest = centres.index(self.search, self.area).query(points, near)
        candidates = np.concatenate([candidates, centres.face_ids[nearest]], 1)
        from openpipeline.engine.scatter import kernels  # here: importing numba takes 0.2 s

        out = Samples(np.empty((len(points), 3)), np.empty(len(points), np.int64), np.empty((len(points), 3)))
        kernels.closest_on_faces(np.ascontiguousarray(points, dtype=np.float64),
                                 np.ascontiguousarray(candidates, dtype=np.int64),
                                 (np.ascontiguousarray(self.mesh.vertices, dtype=np.float64),
                                  np.ascontiguousarray(self.mesh.faces, dtype=np.int64)),
                                 (out.positions, out.face_ids, out.barycentrics))
        return out


def closest_on_triangles(
    p: FloatArray, a: FloatArray, b: FloatArray, c: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Closest point to ``p`` on triangles (a, b, c), with its barycentrics (vectorised).

    After Ericson, *Real-Time Collision Detection*, 5.1.5; arrays broadcast.
    """
    ab, ac, ap = b - a, c - a, p - a
    d1 = np.einsum("...c,...c->...", ab, ap)
    d2 = np.einsum("...c,...c->...", ac, ap)
    bp = p - b
    d3 = np.einsum("...c,...c->...", ab, bp)
    d4 = np.einsum("...c,...c->...", ac, bp)
    cp = p - c
    d5 = np.einsum("...c,...c->...", ab, cp)
    d6 = np.einsum("...c,...c->...", ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    shape = np.broadcast(d1, va).shape
    v = np.zeros(shape)
    w = np.zeros(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        inside_v = vb / denom
        inside_w = vc / denom
        edge_ab = d1 / (d1 - d3)
        edge_ac = d2 / (d2 - d6)
        edge_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6))
    region_a = (d1 <= 0) & (d2 <= 0)
    region_b = (d3 >= 0) & (d4 <= d3)
    region_c = (d6 >= 0) & (d5 <= d6)
    region_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    region_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    region_bc = (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0)
    inside = ~(region_a | region_b | region_c | region_ab | region_ac | region_bc)
    v = np.where(inside, inside_v, v)
    w = np.where(inside, inside_w, w)
    v = np.where(region_bc, 1 - edge_bc, v)
    w = np.where(region_bc, edge_bc, w)
    v = np.where(region_ac, 0, v)
    w = np.where(region_ac, edge_ac, w)
    v = np.where(region_ab, edge_ab, v)
    w = np.where(region_ab, 0, w)
    v = np.where(region_c, 0, v)
    w = np.where(region_c, 1, w)
    v = np.where(region_b, 1, v)
    w = np.where(region_b, 0, w)
    v = np.where(region_a, 0, v)
    w = np.where(region_a, 0, w)
    v = np.nan_to_num(v)
    w = np.nan_to_num(w)
    u = 1 - v - w
    point = a * u[..., None] + b * v[..., None] + c * w[..., None]
    return point, np.stack([u, v, w], -1)


def vertex_normals(mesh: Mesh) -> FloatArray:
    """Area-weighted vertex normals (vertices split at UV seams share their position's normal)."""
    v, f = mesh.vertices, mesh.faces
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    welded = _weld(v)
    corners = welded[f].ravel()
    count = int(welded.max()) + 1
    acc = np.stack([np.bincount(corners, np.repeat(cross[:, c], 3), count) for c in range(3)], 1)
    normals = acc[welded]
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(length > 0, normals / np.where(length > 0, length, 1), 0.0)
