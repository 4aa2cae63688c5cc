"""What the opNeuralGasScatter node computes, as plain Python: mesh + settings -> ScatterJob -> points.

The mesh arrives as arrays (vertices, triangle faces, per-corner UVs). It is saved once
into the cache root's ``inputs/`` folder, named by its digest, and a ScatterJob runs on
that file, so the node, the CLI and a farm job reach the same key for the same mesh.

Deformation: the node is *bound* to one result. When only the vertex positions change
(same topology: vertex count and face indices; same UVs, settings and density map),
the bound points are moved onto the deformed surface with
:func:`~openpipeline.engine.scatter.job.rebind` from their face ids and barycentric
coordinates: no new scatter, no job. The binding is kept in the node's storable
``resultKey`` attribute (:meth:`Binding.stored`), so a reopened scene rebinds a deformed
pose to its original scatter instead of scattering the deformed mesh anew.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from openpipeline.dg.state import STATUSES, JobStarter, JobState, problem, start_background
from openpipeline.engine.cache import INPUTS, ResultCache
from openpipeline.engine.errors import EngineError, EngineInputError
from openpipeline.engine.scatter.distribute import METHODS, ScatterParams, ScatterResult
from openpipeline.engine.scatter.job import ScatterJob, load_result, mesh_digest, rebind, save_mesh
from openpipeline.engine.scatter.mesh import FloatArray, IntArray, Mesh, vertex_normals

INPUTS_FOLDER = INPUTS  # under the cache root: meshes saved by the nodes, one file per digest
METHOD_NAMES: tuple[str, ...] = tuple(METHODS)  # the method enum of the node, in this order for ever


def _digest(*parts: bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "little"))
        hasher.update(part)
    return hasher.hexdigest()


@dataclass(frozen=True, eq=False)
class ScatterInputs:
    """The node's inputs.

    Attributes:
        vertices: (V, 3) positions; an empty array leaves the node idle.
        faces: (F, 3) vertex indices (the mesh triangulated).
        corner_uvs: (F, 3, 2) UVs of each face corner, or None.
        count: points to place; used when ``spacing`` is 0.
        spacing: hexagonal spacing in scene units; 0 uses ``count``.
        density_path, density_channel: a density map over the UVs ("" for none).
        method: one of the engine's METHODS.
        result_key: the stored binding (the ``resultKey`` attribute), "" when none.
    """

    vertices: FloatArray
    faces: IntArray
    corner_uvs: FloatArray | None = None
    count: int = 1000
    spacing: float = 0.0
    density_path: str = ""
    density_channel: str = ""
    seed: int = 0
    method: str = "batch-ng"
    result_key: str = ""

    def params(self) -> ScatterParams:
        """The engine's parameters, checked (raises EngineInputError with one sentence)."""
        if self.spacing < 0:
            raise EngineInputError(f"Spacing must be 0 (use count) or a positive distance, "
                                   f"not {self.spacing}.")
        if self.spacing == 0 and self.count < 1:
            raise EngineInputError(f"Count must be at least 1 (or give a spacing), not {self.count}.")
        params = ScatterParams(count=None if self.spacing else self.count, spacing=self.spacing or None,
                               method=self.method, seed=self.seed)
        params.check()
        return params

    def mesh(self) -> Mesh:
        """The mesh as the engine takes it."""
        return Mesh(np.ascontiguousarray(self.vertices, np.float64).reshape(-1, 3),
                    np.ascontiguousarray(self.faces, np.int64).reshape(-1, 3),
                    None if self.corner_uvs is None
                    else np.ascontiguousarray(self.corner_uvs, np.float64).reshape(-1, 3, 2))

    def topology(self) -> str:
        """The digest of the vertex count and the face indices."""
        mesh = self.mesh()
        return _digest(str(len(mesh.vertices)).encode(), mesh.faces.tobytes())

    def setup(self) -> str:
        """What a bound result depends on besides the vertex positions: the topology (vertex
        count, faces), the UVs, the settings and the density map. Equal setups rebind.

        Cost: hashes the face and UV arrays.
        """
        settings = asdict(self.params())
        settings.update(density=self.density_path, channel=self.density_channel)
        uvs = self.corner_uvs
        uv_bytes = b"" if uvs is None else np.ascontiguousarray(uvs, np.float64).tobytes()
        return _digest(self.topology().encode(), uv_bytes, json.dumps(settings, sort_keys=True).encode())

    def job(self, mesh_file: Path) -> ScatterJob:
        """The job on the saved mesh file."""
        return ScatterJob(mesh=str(mesh_file), params=self.params(), density=self.density_path or None,
                          density_channel=self.density_channel or None)


@dataclass(frozen=True)
class Binding:
    """Which result a node is bound to: its cache key, the setup it was scattered for, and
    the digest of the mesh (pose) it was scattered on."""

    key: str
    setup: str
    mesh: str

    def stored(self) -> str:
        """The ``resultKey`` attribute's value."""
        return f"{self.key}:{self.setup}:{self.mesh}"

    @classmethod
    def parse(cls, text: str) -> Binding | None:
        """A stored binding; None for "" or anything else that is not one."""
        parts = text.strip().split(":")
        ok = len(parts) == 3 and all(len(p) == 64 and set(p) <= set("0123456789abcdef") for p in parts)
        return cls(*parts) if ok else None


@dataclass(frozen=True, eq=False)
class ScatterOutputs:
    """The node's outputs: (N, 3) positions, normals, barycentrics; (N,) ids and face ids."""

    positions: FloatArray
    normals: FloatArray
    ids: IntArray
    face_ids: IntArray
    barycentrics: FloatArray
    status: str
    progress: float = 0.0
    message: str = ""
    result_key: str = ""

    @property
    def status_index(self) -> int:
        """The status as the enum attribute stores it."""
        return STATUSES.index(self.status)

    @classmethod
    def empty(cls, status: str, message: str = "", progress: float = 0.0) -> ScatterOutputs:
        """No points (idle, failed, or running with nothing to show yet)."""
        none = np.zeros((0, 3))
        return cls(none, none, np.zeros(0, np.int64), np.zeros(0, np.int64), none, status, progress, message)


@dataclass(frozen=True, eq=False)
class _Bound:
    binding: Binding
    result: ScatterResult
    topology: str


def mesh_file(cache_root: Path, mesh: Mesh) -> tuple[Path, str]:
    """Save ``mesh`` into ``<cache_root>/inputs/<digest>.npz`` unless already there, else mark
    it used (the cache prunes these files least recently used first); (path, digest).

    Cost: hashes the arrays; writes them the first time only.
    """
    digest = mesh_digest(mesh)
    path = cache_root / INPUTS_FOLDER / f"{digest}.npz"
    if path.is_symlink() or not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_mesh(mesh, path)  # replaces a link by one rename, never writes through it
    else:
        try:
            os.utime(path)
        except OSError:  # read-only or just pruned: the job saves it again if needed
            pass
    return path, digest


class ScatterNode:
    """The state of one opNeuralGasScatter node: its job (see :class:`~openpipeline.dg.state.JobState`)
    and the result it is bound to."""

    def __init__(self, on_change: Callable[[], None] | None = None,
                 start: JobStarter = start_background) -> None:
        self.state = JobState(on_change, start)
        self._bound: _Bound | None = None

    @property
    def binding(self) -> Binding | None:
        """The result this node is bound to, if any."""
        return None if self._bound is None else self._bound.binding

    def evaluate(self, inputs: ScatterInputs, cache: ResultCache, batch: bool) -> ScatterOutputs:
        """The points for ``inputs`` now: rebound without a job when only the pose changed,
        from the cache, or from a job (background; synchronous when ``batch``)."""
        if len(inputs.vertices) == 0 or len(inputs.faces) == 0:
            self.state.reset()
            return ScatterOutputs.empty("idle")
        try:
            setup = inputs.setup()
        except EngineError as exc:
            self.state.reset()
            return ScatterOutputs.empty("failed", str(exc))
        if self._bound is not None and self._bound.binding.setup == setup:
            self.state.reset()
            return self._follow(inputs)
        stored = Binding.parse(inputs.result_key)
        if stored is not None and stored.setup == setup and self._bind_stored(stored, cache, inputs):
            return self._follow(inputs)
        return self._scatter(inputs, setup, cache, batch)

    def dispose(self) -> None:
        """The node is being deleted: cancel its job."""
        self.state.dispose()

    def _bind_stored(self, stored: Binding, cache: ResultCache, inputs: ScatterInputs) -> bool:
        """Bind to the result a reopened scene names, if the cache still holds it."""
        entry = cache.get("scatter", stored.key)
        if entry is None:
            return False
        self._bound = _Bound(stored, load_result(entry), inputs.topology())
        return True

    def _scatter(self, inputs: ScatterInputs, setup: str, cache: ResultCache, batch: bool) -> ScatterOutputs:
        stored = Binding.parse(inputs.result_key)
        mesh = inputs.mesh()
        try:
            if stored is not None and stored.setup == setup and self._saved(cache, stored.mesh).is_file():
                # A reopened scene whose result left the cache: scatter its original pose again.
                path, digest = self._saved(cache, stored.mesh), stored.mesh
            else:
                path, digest = mesh_file(cache.root, mesh)
            job = inputs.job(path)
            stamp = (str(path), _file_stamp(inputs.density_path))  # the mesh file is named by its digest
        except (EngineError, OSError) as exc:
            self.state.reset()
            return ScatterOutputs.empty("failed", problem(exc))
        answer = self.state.evaluate(job, cache, batch, stamp)
        if answer.status == "cached" and answer.entry is not None:
            self._bound = _Bound(Binding(answer.entry.key, setup, digest), load_result(answer.entry),
                                 inputs.topology())
            return self._follow(inputs)
        return self._meanwhile(inputs, answer.status, answer.fraction, answer.message)

    @staticmethod
    def _saved(cache: ResultCache, digest: str) -> Path:
        return cache.root / INPUTS_FOLDER / f"{digest}.npz"

    def _meanwhile(self, inputs: ScatterInputs, status: str, fraction: float, message: str) -> ScatterOutputs:
        """While a job runs (or after it failed): the old points if they still fit the mesh's
        topology, else none."""
        bound = self._bound
        if bound is None or bound.topology != inputs.topology():
            return ScatterOutputs.empty(status, message, fraction)
        followed = self._follow(inputs)
        return ScatterOutputs(followed.positions, followed.normals, followed.ids, followed.face_ids,
                              followed.barycentrics, status, fraction, message, followed.result_key)

    def _follow(self, inputs: ScatterInputs) -> ScatterOutputs:
        """The bound points on the current pose: the result itself on the pose it was
        scattered on, rebound onto any other."""
        assert self._bound is not None
        result, binding = self._bound.result, self._bound.binding
        mesh = inputs.mesh()
        if mesh_digest(mesh) == binding.mesh:
            positions, normals = result.positions, result.normals
        else:
            positions, _face_normals = rebind(mesh.vertices, mesh.faces, result.face_ids, result.barycentrics)
            normals = smooth_normals(mesh, result.face_ids, result.barycentrics)
        return ScatterOutputs(positions, normals, result.ids, result.face_ids, result.barycentrics,
                              "cached", 1.0, "", binding.stored())


def _file_stamp(path: str) -> tuple[int, int] | None:
    """Size and modification time of a file ("": None)."""
    if not path:
        return None
    stat = Path(path).stat()
    return stat.st_size, stat.st_mtime_ns


def smooth_normals(mesh: Mesh, face_ids: IntArray, barycentrics: FloatArray) -> FloatArray:
    """Unit normals at the points, interpolated from the mesh's vertex normals as the engine
    computes a result's normals, so the normals do not jump when the mesh starts to deform
    (:func:`rebind` gives flat face normals)."""
    corners = vertex_normals(mesh)[mesh.faces[face_ids]]
    normals = np.einsum("nk,nkc->nc", barycentrics, corners)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    unit: FloatArray = normals / np.where(length > 0, length, 1.0)
    return unit


def corner_uvs(triangle_counts: list[int], triangle_offsets: list[int], uv_counts: list[int],
               uv_ids: list[int], us: list[float], vs: list[float]) -> FloatArray | None:
    """Per-triangle-corner UVs from what Maya's ``MFnMesh`` gives: ``getTriangleOffsets()``
    (triangles per polygon, their corners as face-relative vertex offsets),
    ``getAssignedUVs()`` (UVs per polygon, one UV id per face-vertex) and ``getUVs()``.

    Returns:
        (T, 3, 2) UVs, or None when a polygon has no UVs (the mesh is then used without UVs).

    Example:
        >>> corner_uvs([2], [0, 1, 2, 0, 2, 3], [4], [0, 1, 2, 3], [0, 1, 1, 0], [0, 0, 1, 1]).tolist()
        [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]
    """
    counts = np.asarray(uv_counts, np.int64)
    if len(counts) == 0 or (counts == 0).any():
        return None
    polygon = np.repeat(np.arange(len(triangle_counts)), np.asarray(triangle_counts, np.int64))
    offsets = np.asarray(triangle_offsets, np.int64).reshape(-1, 3)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ids = np.asarray(uv_ids, np.int64)[start[polygon][:, None] + offsets]
    table = np.stack([np.asarray(us, np.float64), np.asarray(vs, np.float64)], axis=-1)
    uvs: FloatArray = table[ids]
    return uvs
