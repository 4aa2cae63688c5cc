"""A quick picture of scattered points: an orthographic view from above (+Y)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from openpipeline.engine.scatter.density import DensityMap
from openpipeline.engine.scatter.mesh import FloatArray


def top_view(
    positions: FloatArray, size: int = 512, background: DensityMap | None = None,
    uvs: FloatArray | None = None, dot: int = 1,
) -> NDArray[np.float32]:
    """An RGB image of points seen from above; the density map, if given, tints the ground.

    Cost: one pass over the points and the pixels.
    """
    image = np.full((size, size, 3), 0.08, np.float32)
    if background is not None:
        grid = (np.arange(size) + 0.5) / size
        u, v = np.meshgrid(grid, 1.0 - grid)
        values = background.lookup(np.stack([u.ravel(), v.ravel()], 1)).reshape(size, size)
        span = float(values.max() - values.min()) or 1.0
        shade = (values - values.min()) / span
        image[..., 0] += 0.25 * shade
        image[..., 2] += 0.10 * shade
    x, z = positions[:, 0], positions[:, 2]
    lo = min(x.min(), z.min())
    hi = max(x.max(), z.max())
    scale = (size - 1 - 2 * dot) / ((hi - lo) or 1.0)
    if uvs is not None and background is not None:  # place dots by UV so they sit on the map
        col = np.clip((uvs[:, 0] % 1.0) * size, 0, size - 1).astype(np.int64)
        row = np.clip((1.0 - uvs[:, 1] % 1.0) * size, 0, size - 1).astype(np.int64)
    else:
        col = ((x - lo) * scale + dot).astype(np.int64)
        row = ((hi - z) * scale + dot).astype(np.int64)
    for dr in range(-dot, dot + 1):
        for dc in range(-dot, dot + 1):
            image[np.clip(row + dr, 0, size - 1), np.clip(col + dc, 0, size - 1)] = (0.95, 0.9, 0.6)
    return image
