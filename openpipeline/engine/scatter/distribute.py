"""Neural-gas point distribution on meshes: the job and its driver.

Three methods, one entry point (:func:`scatter`):

``batch-ng`` (default)
    Batch neural gas, annealed into a Lloyd polish, solved coarse-to-fine and
    finished with exact Lloyd steps on restricted Voronoi cells (:mod:`.neural_gas`,
    :mod:`.polish`, :mod:`.kernels`).
``online-ng``
    Neural gas as published (Martinetz & Schulten 1991) on mini-batches: a quick
    preview (:mod:`.neural_gas`).
``gng``
    Growing neural gas (Fritzke 1995): grows node by node until the count (or the
    spacing) is reached, and learns a neighbour graph. Sequential, so meant for up
    to a few thousand points (:mod:`.growing_gas`).

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
from dataclasses import dataclass, field, fields
from numbers import Integral, Real
from typing import Any

import numpy as np

from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.progress import ProgressCallback, Reporter
from openpipeline.engine.scatter.budget import Cost, check_cost, estimate
from openpipeline.engine.scatter.density import DensityMap, density_weight
from openpipeline.engine.scatter.growing_gas import growing_neural_gas
from openpipeline.engine.scatter.mesh import (
    FloatArray,
    IntArray,
    Mesh,
    Samples,
    Surface,
    check_arrays,
    vertex_normals,
)
from openpipeline.engine.scatter.neural_gas import BatchNeuralGas, BatchSchedule, online_neural_gas
from openpipeline.engine.scatter.search import DEVICES, Search, pick_search

METHODS = ("batch-ng", "online-ng", "gng")
FLAT_FACE = 1e-12  # a face whose height is under this share of its longest edge is left out
GNG_MAX_COUNT = 20_000


# the smallest value of each whole-number parameter checked by ScatterParams.check (the
# multigrid bases: 0 would add levels forever; the limits may also be None)
STAGE_MINIMUMS = {"ng_epochs": 0, "lloyd_epochs": 0, "fine_epochs": 0, "multigrid_base": 1,
                  "detail_multigrid_base": 1, "polyak": 0, "exact_epochs": 0, "fine_exact_epochs": 0,
                  "detail_exact_epochs": 0, "detail_fine_exact_epochs": 0, "max_memory": 1,
                  "max_points": 1}


def _is_real(value: object) -> bool:
    """A number (not a bool, a string or None)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_whole(value: object, low: int) -> bool:
    """A whole number (an integer type, not a bool) of at least ``low``."""
    return isinstance(value, Integral) and not isinstance(value, bool) and int(value) >= low


@dataclass(frozen=True)
class ScatterParams:
    """What to scatter. Give ``count`` or ``spacing`` (hexagonal spacing, scene units).

    Attributes:
        method: one of :data:`METHODS`.
        seed: the same seed gives the same bits on the same machine.
        samples_per_point ... fine_exact_epochs: the stage lengths of ``batch-ng``
            (see :class:`~openpipeline.engine.scatter.neural_gas.BatchSchedule`;
            :meth:`coarsest` for the two multigrid bases).
        max_memory, max_points: a job whose estimated peak memory (bytes) or point count
            is over these is refused before it starts; None: the memory available now,
            and :data:`~openpipeline.engine.scatter.budget.DEFAULT_MAX_POINTS`.
        device: where the neighbour searches run (:data:`~.search.DEVICES`; ``auto``: a
            GPU for large jobs where there is one, see :func:`~.search.pick_search`). The
            same seed gives the same bits on the same device; devices may differ in the
            last bits (a tie between two neighbours at the same distance).
    """

    count: int | None = None
    spacing: float | None = None
    method: str = "batch-ng"
    seed: int = 0
    samples_per_point: int = 12
    ng_epochs: int = 4
    lloyd_epochs: int = 18
    fine_epochs: int = 6
    fine_samples_per_point: int = 10
    multigrid_base: int = 250
    detail_multigrid_base: int = 2500
    polyak: int = 8
    exact_epochs: int = 8
    fine_exact_epochs: int = 4
    detail_exact_epochs: int = 12
    detail_fine_exact_epochs: int = 8
    max_memory: int | None = None
    max_points: int | None = None
    device: str = "auto"

    def resolve_count(self, area: float) -> int:
        """The number of points asked for, directly or through the spacing."""
        if self.count is not None and self.spacing is not None:
            raise EngineInputError("Give either a count or a spacing, not both.")
        if self.spacing is not None:
            if not _is_real(self.spacing) or not math.isfinite(self.spacing) or self.spacing <= 0:
                raise EngineInputError(f"Spacing must be a positive distance, not {self.spacing}.")
            cell = math.sqrt(3) / 2 * self.spacing**2
            if cell == 0 or not math.isfinite(area / cell):
                raise EngineInputError(
                    f"Spacing {self.spacing} is too small for a mesh of area {area:.4g}: it asks "
                    "for more points than any machine holds; use a larger spacing."
                )
            count = round(area / cell)
            if count < 1:
                raise EngineInputError(
                    f"Spacing {self.spacing} is larger than the mesh (area {area:.4g}); use a smaller one."
                )
            return int(count)
        if self.count is None:
            raise EngineInputError("Give the number of points (count) or a spacing.")
        if not _is_real(self.count) or not math.isfinite(self.count) or int(self.count) != self.count \
                or self.count < 1:
            raise EngineInputError(f"Count must be a whole number of at least 1, not {self.count}.")
        return int(self.count)

    def check(self) -> None:
        """Refuse an unknown method, a stage length or limit that is not a whole number in its
        range (:data:`STAGE_MINIMUMS`; a job file's params may hold anything), a batch-ng
        without any training, or a negative seed, before any work."""
        if self.method not in METHODS:
            raise EngineInputError(
                f"Method '{self.method}' is not known; use one of {', '.join(METHODS)}."
            )
        if not _is_whole(self.samples_per_point, 1) or not _is_whole(self.fine_samples_per_point, 1):
            raise EngineInputError("Samples per point must be at least 1.")
        for name, low in STAGE_MINIMUMS.items():
            value = getattr(self, name)
            if not _is_whole(value, low) and not (name.startswith("max_") and value is None):
                raise EngineInputError(f"Scatter parameter {name} must be a whole number of at least "
                                       f"{low}, not {value!r}; fix it in the job's params.")
        if self.method == "batch-ng" and self.ng_epochs == self.lloyd_epochs == self.exact_epochs == 0:
            raise EngineInputError("batch-ng needs some training, but ng_epochs, lloyd_epochs and "
                                   "exact_epochs are all 0; set at least one of them above 0.")
        if not _is_whole(self.seed, 0):
            raise EngineInputError(f"Seed must be a whole number of at least 0, not {self.seed}.")
        if not isinstance(self.device, str) or self.device not in DEVICES:
            raise EngineInputError(f"Device {self.device!r} is not known; use one of {', '.join(DEVICES)}.")

    def check_cost(self, count: int, faces: int, density: bool, closed: bool = False) -> Cost:
        """Refuse a job of ``count`` points that is over the limits (gng's count, memory,
        points), before any work; returns its estimated cost (:mod:`.budget`)."""
        if self.method == "gng" and count > GNG_MAX_COUNT:
            raise EngineInputError(
                f"Growing neural gas adds one node at a time; use at most {GNG_MAX_COUNT} points "
                "with it, or the batch-ng method."
            )
        cost = estimate(count, self.method, faces, density,
                        samples_per_point=self.samples_per_point,
                        fine_samples_per_point=self.fine_samples_per_point,
                        coarse=min(count, self.coarsest(closed, density)), closed=closed)
        check_cost(count, cost, self.method, self.max_memory, self.max_points)
        return cost

    def coarsest(self, closed: bool, density: bool) -> int:
        """The largest coarsest level of ``batch-ng``: ``multigrid_base`` on a closed mesh
        with an even density, ``detail_multigrid_base`` on an open mesh or with a density
        map (a border's rows and a density's slope are set on the coarsest level and are
        slow to correct above it)."""
        return self.multigrid_base if closed and not density else self.detail_multigrid_base

    def batch_schedule(self) -> BatchSchedule:
        """The stage lengths of the ``batch-ng`` method, as these parameters set them."""
        return BatchSchedule(**{f.name: getattr(self, f.name) for f in fields(BatchSchedule)})


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
    search: Search | None = None,
) -> ScatterResult:
    """Distribute exactly N points over ``mesh`` (evenly, or following ``density``).

    ``search``: the neighbour search to use instead of the one ``params.device`` picks
    (:func:`~.search.pick_search`; tests and benchmarks pass :class:`~.search.TorchSearch`
    on the CPU to run the GPU path's code without a GPU).

    Cost: batch-ng about 0.5 s for 10,000 points and 10-20 s for 1,000,000 on one
    CPU core (bench/scatter_bench.py); the first call of a process also loads the
    compiled kernels (about 0.3 s), or compiles them where they were never cached.
    """
    params.check()
    check_arrays(mesh, area=False)  # without_flat_faces refuses a mesh without area
    usable, kept = without_flat_faces(mesh)
    weight = density_weight(usable, density)
    surface = Surface(usable, weight)
    count = params.resolve_count(surface.area)
    params.check_cost(count, len(usable.faces), weight is not None, surface.closed)
    surface.search = pick_search(params.device, count) if search is None else search
    report = Reporter(progress)
    rng = np.random.default_rng(params.seed)
    start = time.perf_counter()
    train_power = 2.0 if weight is not None else 1.0
    points, edges, hints = _solve(surface, count, params, rng, report, train_power)
    report("projecting", 0.99, "snapping to the surface")
    # batch-ng's exact polish leaves its points on the surface, its hints being the points
    projected = hints if hints.positions is points else surface.project(points, hints)
    if kept is not None:  # back to the face ids of the mesh given
        projected = Samples(projected.positions, kept[projected.face_ids], projected.barycentrics)
    result = _finish(mesh, projected, edges)
    result.stats.update(method=params.method, count=count, seed=params.seed,
                        seconds=time.perf_counter() - start, area=surface.area,
                        density=weight is not None, device=surface.search.device)
    report("done", 1.0, f"{count} points")
    return result


def without_flat_faces(mesh: Mesh) -> tuple[Mesh, IntArray | None]:
    """``mesh`` without its flat faces (a vertex repeated, three corners in a row: no area to
    hold a point, and no plane for a restricted cell to be cut in), and the ids in ``mesh``
    of the faces kept; ``mesh`` itself and None when every face has an area.

    A face is flat when its height is under :data:`FLAT_FACE` of its longest edge.

    Cost: a few passes over the faces (vectorised).
    """
    tri = mesh.vertices[mesh.faces]
    twice_area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    longest = np.max(np.sum((tri - tri[:, [1, 2, 0]]) ** 2, axis=2), axis=1)
    keep = twice_area > FLAT_FACE * longest
    if keep.all():
        return mesh, None
    if not keep.any():
        raise EngineInputError(f"Mesh '{mesh.name}' has zero surface area (no face with an area: every "
                               "face is a line or a point); give a mesh with a surface.")
    kept = np.flatnonzero(keep)
    uvs = None if mesh.corner_uvs is None else mesh.corner_uvs[kept]
    return Mesh(mesh.vertices, mesh.faces[kept], uvs, mesh.vertex_weights, mesh.name), kept


def _solve(
    surface: Surface, count: int, params: ScatterParams, rng: np.random.Generator,
    report: Reporter, power: float,
) -> tuple[FloatArray, IntArray, Samples]:
    """The points of ``params.method`` (near the surface), their edges, and samples near them."""
    if params.method == "batch-ng":
        return BatchNeuralGas(surface, params.batch_schedule(), rng, report, power).solve(count)
    if params.method == "online-ng":
        return online_neural_gas(surface, count, rng, report, power)
    return growing_neural_gas(surface, count, rng, report, power)


def _finish(mesh: Mesh, on_surface: Samples, edges: IntArray | None) -> ScatterResult:
    """The result for points on the surface: interpolated normals and UVs, and ids."""
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
