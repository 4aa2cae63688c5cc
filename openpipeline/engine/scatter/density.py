"""Density maps: where more points go, read from a texture through the mesh's UVs
and from per-vertex weights."""

from __future__ import annotations

import numpy as np

from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.images import Image
from openpipeline.engine.scatter.mesh import FloatArray, IntArray, Mesh, WeightFunction


class DensityMap:
    """A density texture looked up through UVs (bilinear, wrapping like a tiling texture)."""

    def __init__(self, image: Image, channel: str | int | None = None) -> None:
        pixels = image.pixels
        if channel is None:
            index = 0 if pixels.shape[2] < 3 else None
        elif isinstance(channel, int) or str(channel).isdigit():
            index = int(channel)
        elif channel in image.channel_names:
            index = image.channel_names.index(channel)
        else:
            raise EngineInputError(
                f"Density channel '{channel}' is not in the image (it has "
                f"{', '.join(image.channel_names)})."
            )
        if index is None:
            values = pixels[..., :3].mean(axis=2)  # luminance-like average of RGB
        else:
            if not 0 <= index < pixels.shape[2]:
                raise EngineInputError(f"Density channel {index} is not in the image.")
            values = pixels[..., index]
        if not np.isfinite(values).all() or (values < 0).any():
            raise EngineInputError("The density map has negative or non-finite values.")
        self.values: FloatArray = values.astype(np.float64)

    def lookup(self, uv: FloatArray) -> FloatArray:
        """Bilinear density at UVs (u to the right, v up; wrapped to 0..1)."""
        h, w = self.values.shape
        x = (uv[:, 0] % 1.0) * w - 0.5
        y = (1.0 - (uv[:, 1] % 1.0)) * h - 0.5
        x0 = np.floor(x).astype(np.int64)
        y0 = np.floor(y).astype(np.int64)
        fx, fy = x - x0, y - y0
        x0m, x1m = x0 % w, (x0 + 1) % w
        y0m, y1m = np.clip(y0, 0, h - 1), np.clip(y0 + 1, 0, h - 1)
        v = self.values
        top = v[y0m, x0m] * (1 - fx) + v[y0m, x1m] * fx
        bottom = v[y1m, x0m] * (1 - fx) + v[y1m, x1m] * fx
        return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float64)


def require_uvs(mesh: Mesh) -> None:
    """A density map is placed through UVs: refuse a mesh without them, clearly."""
    if mesh.corner_uvs is None:
        raise EngineInputError(
            f"Mesh '{mesh.name}' has no UVs, so the density map cannot be placed on it; "
            "lay out UVs first or scatter without --density."
        )


def density_weight(mesh: Mesh, density: DensityMap | None) -> WeightFunction | None:
    """The weight function of a density map (through UVs) times per-vertex weights;
    None when there is neither."""
    if density is None and mesh.vertex_weights is None:
        return None
    if density is not None:
        require_uvs(mesh)
    corner_uvs = mesh.corner_uvs
    weights = mesh.vertex_weights
    faces = mesh.faces

    def weight(face_ids: IntArray, bary: FloatArray) -> FloatArray:
        value = np.ones(len(face_ids))
        if density is not None and corner_uvs is not None:
            uv = np.einsum("nk,nkc->nc", bary, corner_uvs[face_ids])
            value = value * density.lookup(uv)
        if weights is not None:
            value = value * np.einsum("nk,nk->n", bary, weights[faces[face_ids]])
        return np.asarray(value, dtype=np.float64)

    return weight
