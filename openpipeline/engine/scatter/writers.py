"""Writing scatter results: ``.npz``, ``.json`` and USD (``.usda``/``.usd``/``.usdc``).

Every writer produces the same fields: ``positions`` (N×3), ``normals`` (N×3),
``face_ids`` (N), ``barycentrics`` (N×3), ``uvs`` (N×2, when the mesh has UVs),
``ids`` (N) and ``edges`` (E×2, the neighbour graph). USD files hold a
``PointInstancer`` whose prototypes are left to the user; orientations turn +Y
(Maya's up) onto each point's normal, and the other fields are primvars.
Files are written under a temporary name and renamed into place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from openpipeline.atomic import publish, publish_problem
from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.scatter.distribute import ScatterResult
from openpipeline.engine.scatter.mesh import FloatArray, IntArray

FORMATS = {".npz": "npz", ".json": "json", ".usda": "usd", ".usd": "usd", ".usdc": "usd"}


def output_format(path: str | Path) -> str:
    """The writer for a file name's extension, or a clear error."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise EngineInputError(
            f"Cannot write '{Path(path).name}': use a .npz, .json, .usda, .usd or .usdc file name."
        )
    return FORMATS[suffix]


def check_output(path: str | Path) -> str:
    """The writer for ``path``, after making sure a result can be published there.

    Refuses, before any work, an unknown extension, a missing or unwritable folder and
    a path that is a folder (:func:`openpipeline.atomic.publish_problem`).

    Cost: one temporary file created and removed beside ``path``.
    """
    kind = output_format(path)
    problem = publish_problem(path)
    if problem is not None:
        raise EngineInputError(problem)
    return kind


def fields(result: ScatterResult) -> dict[str, FloatArray | IntArray]:
    """The arrays every format holds, by field name (``uvs`` and ``edges`` when present)."""
    data: dict[str, FloatArray | IntArray] = {
        "positions": result.positions.astype(np.float64),
        "normals": result.normals.astype(np.float64),
        "face_ids": result.face_ids.astype(np.int64),
        "barycentrics": result.barycentrics.astype(np.float64),
        "ids": result.ids.astype(np.int64),
    }
    if result.uvs is not None:
        data["uvs"] = result.uvs.astype(np.float64)
    if result.edges is not None:
        data["edges"] = result.edges.astype(np.int64)
    return data


def write(result: ScatterResult, path: str | Path) -> Path:
    """Write ``result`` in the format its extension names, atomically; returns the path."""
    path = Path(path)
    kind = check_output(path)
    with publish(path) as tmp:
        if kind == "npz":
            with open(tmp, "wb") as handle:
                # Any: numpy's stub types **kwargs as its allow_pickle flag
                arrays: dict[str, Any] = dict(fields(result))
                np.savez(handle, **arrays)
        elif kind == "json":
            data: dict[str, Any] = {k: v.tolist() for k, v in fields(result).items()}
            data["stats"] = result.stats
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
        else:
            _write_usd(result, tmp)
    return path


def orientations(normals: FloatArray) -> FloatArray:
    """Unit quaternions (w, x, y, z) turning +Y onto each normal."""
    n = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    w = 1.0 + n[:, 1]
    quat = np.stack([w, n[:, 2], np.zeros(len(n)), -n[:, 0]], 1)  # cross((0,1,0), n) = (n_z, 0, -n_x)
    flipped = w < 1e-9
    quat[flipped] = (0.0, 1.0, 0.0, 0.0)
    return np.asarray(quat / np.linalg.norm(quat, axis=1, keepdims=True))


def _write_usd(result: ScatterResult, path: Path) -> None:
    from pxr import Gf, Sdf, Usd, UsdGeom, Vt  # here, not at the top: only USD output needs it

    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    root = UsdGeom.Xform.Define(stage, "/Scatter")
    stage.SetDefaultPrim(root.GetPrim())
    instancer = UsdGeom.PointInstancer.Define(stage, "/Scatter/points")
    instancer.CreatePrototypesRel()  # left for the user to point at their prototypes
    instancer.CreatePositionsAttr(Vt.Vec3fArray.FromNumpy(result.positions.astype(np.float32)))
    quats = orientations(result.normals)
    instancer.CreateOrientationsAttr(
        Vt.QuathArray([Gf.Quath(float(q[0]), float(q[1]), float(q[2]), float(q[3])) for q in quats]))
    instancer.CreateProtoIndicesAttr(Vt.IntArray.FromNumpy(np.zeros(result.count, np.int32)))
    instancer.CreateIdsAttr(Vt.Int64Array.FromNumpy(result.ids.astype(np.int64)))
    primvars = UsdGeom.PrimvarsAPI(instancer.GetPrim())
    vertex = UsdGeom.Tokens.vertex
    primvars.CreatePrimvar("normals", Sdf.ValueTypeNames.Normal3fArray, vertex).Set(
        Vt.Vec3fArray.FromNumpy(result.normals.astype(np.float32)))
    primvars.CreatePrimvar("faceIds", Sdf.ValueTypeNames.IntArray, vertex).Set(
        Vt.IntArray.FromNumpy(result.face_ids.astype(np.int32)))
    primvars.CreatePrimvar("barycentrics", Sdf.ValueTypeNames.Float3Array, vertex).Set(
        Vt.Vec3fArray.FromNumpy(result.barycentrics.astype(np.float32)))
    if result.uvs is not None:
        primvars.CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, vertex).Set(
            Vt.Vec2fArray.FromNumpy(result.uvs.astype(np.float32)))
    if result.edges is not None:
        instancer.GetPrim().CreateAttribute("openpipeline:edges", Sdf.ValueTypeNames.Int2Array).Set(
            Vt.Vec2iArray.FromNumpy(result.edges.astype(np.int32)))
    stage.GetRootLayer().Save()
