"""A scatter as a cacheable job: its key, its run, delivering and following its result.

The key covers :data:`RESULT_VERSION`, the parameters that change the points (not the
memory or point limits, which only refuse a job), the mesh (a file's bytes; for a
``.npz`` written by :func:`save_mesh`, its arrays, so the same Maya mesh gives the same
key on every machine) and the density map's bytes and channel. The result is stored as
``points.npz``; :func:`deliver` writes it in the user's format and :func:`rebind` puts
its points on a deformed mesh of the same topology.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from openpipeline.atomic import publish
from openpipeline.engine.cache import Entry, canonical_key, file_digest
from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.images import read_image
from openpipeline.engine.progress import ProgressCallback
from openpipeline.engine.scatter.density import DensityMap, require_uvs
from openpipeline.engine.scatter.distribute import ScatterParams, ScatterResult, scatter
from openpipeline.engine.scatter.mesh import FloatArray, IntArray, Mesh, load_mesh, mesh_area
from openpipeline.engine.scatter.writers import check_output, output_format
from openpipeline.engine.scatter.writers import write as write_points

__all__ = ["RESULT_VERSION", "ScatterJob", "deliver", "load_result", "mesh_digest", "rebind", "save_mesh"]

RESULT_VERSION = "scatter-3"  # bump whenever the engine's output for the same inputs changes
# the limits refuse a job and never change its points; the device may change the last bits
# (a tie between neighbours), and a result from any device is kept for all, as textures do
NOT_IN_KEY = ("max_memory", "max_points", "device")
POINTS = "points.npz"
MESH_ARRAYS = ("vertices", "faces", "corner_uvs", "vertex_weights")


def save_mesh(mesh: Mesh, path: Path) -> Path:
    """Write ``mesh`` as a ``.npz`` (vertices, faces, corner UVs and vertex weights when
    present), atomically; :func:`~openpipeline.engine.scatter.mesh.load_mesh` reads it back.

    Cost: one file write of the arrays.
    """
    path = Path(path)
    arrays: dict[str, Any] = {"vertices": np.ascontiguousarray(mesh.vertices, dtype=np.float64),
                              "faces": np.ascontiguousarray(mesh.faces, dtype=np.int64),
                              "name": np.array(mesh.name)}
    if mesh.corner_uvs is not None:
        arrays["corner_uvs"] = np.ascontiguousarray(mesh.corner_uvs, dtype=np.float64)
    if mesh.vertex_weights is not None:
        arrays["vertex_weights"] = np.ascontiguousarray(mesh.vertex_weights, dtype=np.float64)
    with publish(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def mesh_digest(mesh: Mesh) -> str:
    """The sha256 hex of the mesh's arrays (vertices, faces, UVs, weights; not its name),
    as float64/int64 in C order: the same geometry gives the same digest anywhere."""
    digest = hashlib.sha256()
    for name in MESH_ARRAYS:
        value = getattr(mesh, name)
        if value is None:
            digest.update(f"{name}:none;".encode())
            continue
        array = np.ascontiguousarray(value, dtype=np.int64 if name == "faces" else np.float64)
        digest.update(f"{name}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ScatterJob:
    """One scatter as a value.

    Attributes:
        mesh: the mesh file (OBJ, PLY... or a ``.npz`` written by :func:`save_mesh`).
        params: the scatter's parameters.
        density: the density map image, or None for an even scatter.
        density_channel: the density map's channel name or index (None: R or RGB's mean).
    """

    mesh: str
    params: ScatterParams
    density: str | None = None
    density_channel: str | None = None
    kind: ClassVar[str] = "scatter"

    def _mesh_digest(self) -> str:
        path = Path(self.mesh)
        if path.suffix.lower() == ".npz":
            return mesh_digest(load_mesh(path))
        return file_digest(path)

    def key(self) -> str:
        """The sha256 hex of the version, the point-changing parameters, the mesh and the
        density map. Cost: reads the mesh (and density map) file whole."""
        params = {k: v for k, v in dataclasses.asdict(self.params).items() if k not in NOT_IN_KEY}
        density = None if self.density is None else file_digest(Path(self.density))
        parts = {"kind": self.kind, "version": RESULT_VERSION, "params": params,
                 "mesh": self._mesh_digest(), "density": density, "channel": self.density_channel}
        return canonical_key(parts)

    def load(self) -> tuple[Mesh, DensityMap | None]:
        """The mesh and density map, checked (a job too big for this machine is refused)."""
        from openpipeline.engine.scatter.mesh import is_closed

        self.params.check()
        mesh = load_mesh(self.mesh)
        self.params.check_cost(self.params.resolve_count(mesh_area(mesh)), len(mesh.faces),
                               self.density is not None, is_closed(mesh))
        density = None
        if self.density is not None:
            require_uvs(mesh)
            density = DensityMap(read_image(self.density), self.density_channel)
        return mesh, density

    def run(self, folder: Path, progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Scatter into ``folder/points.npz``; returns the counts and the engine's stats."""
        mesh, density = self.load()
        result = scatter(mesh, self.params, density, progress)
        write_points(result, folder / POINTS)
        return {"files": [POINTS], "count": result.count, "stats": result.stats,
                "edges": 0 if result.edges is None else len(result.edges)}

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON-able data (see :meth:`from_dict`)."""
        return {"kind": self.kind, "mesh": self.mesh, "params": dataclasses.asdict(self.params),
                "density": self.density, "density_channel": self.density_channel}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScatterJob:
        """The job :meth:`to_dict` described.

        Raises:
            EngineInputError: the data is not a scatter job.
        """
        try:
            return cls(mesh=str(data["mesh"]), params=ScatterParams(**data["params"]),
                       density=data.get("density"), density_channel=data.get("density_channel"))
        except (KeyError, TypeError) as exc:
            raise EngineInputError(f"The scatter job's data is incomplete or wrong ({exc}); "
                                   "send what ScatterJob.to_dict() returns.") from exc


def _points_file(entry: Entry) -> Path:
    """The entry's ``points.npz``, only as the entry names it (never a file it does not list).

    Raises:
        EngineInputError: the entry does not list a points file.
    """
    for path in entry.files():
        if path.name == POINTS:
            return path
    raise EngineInputError(f"The cached scatter result {entry.key[:12]} holds no {POINTS}; "
                           "clear it with 'openpipeline cache prune' and scatter again.")


def load_result(entry: Entry) -> ScatterResult:
    """The scatter result an entry holds (its stats from the entry's meta)."""
    with np.load(_points_file(entry), allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    return ScatterResult(
        positions=arrays["positions"], normals=arrays["normals"], face_ids=arrays["face_ids"],
        barycentrics=arrays["barycentrics"], uvs=arrays.get("uvs"), ids=arrays["ids"],
        edges=arrays.get("edges"), stats=dict(entry.meta.get("stats", {})),
    )


def deliver(entry: Entry, output: str) -> Path:
    """Write the entry's points to ``output`` in the format its extension names, atomically.

    A ``.npz`` output is a byte copy of the cached file, so every delivery of one entry
    gives the same bits. Cost: one copy, or one read and one write.
    """
    path = Path(output)
    if output_format(path) == "npz":
        check_output(path)
        with publish(path) as tmp:
            shutil.copyfile(_points_file(entry), tmp)
        return path
    return write_points(load_result(entry), path)


def rebind(vertices: FloatArray, faces: IntArray, face_ids: IntArray, barycentrics: FloatArray
           ) -> tuple[FloatArray, FloatArray]:
    """The points' positions and normals on a deformed mesh of the same topology.

    Positions are the barycentric-weighted vertices of each point's triangle; normals are
    the unit face normals of the deformed triangles (zero for a collapsed triangle).

    >>> v = np.array([[0., 0, 0], [2, 0, 0], [0, 2, 0]]); f = np.array([[0, 1, 2]])
    >>> p, n = rebind(v, f, np.array([0]), np.array([[0.5, 0.5, 0.0]]))
    >>> p.tolist(), n.tolist()
    ([[1.0, 0.0, 0.0]], [[0.0, 0.0, 1.0]])
    """
    corners = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)[np.asarray(face_ids)]]
    bary = np.asarray(barycentrics, dtype=np.float64)
    if corners.shape[0] != bary.shape[0] or bary.ndim != 2 or bary.shape[1] != 3:
        raise EngineInputError("Each point needs one face id and three barycentric weights.")
    positions = np.einsum("nk,nkc->nc", bary, corners)
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = normals / np.where(length > 0, length, 1.0)
    return np.asarray(positions), np.asarray(normals)

