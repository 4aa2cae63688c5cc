"""Overlapping tiles with feathered blending: how a big texture runs in bounded memory."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def tile_starts(length: int, tile: int, overlap: int, wrap: bool) -> list[int]:
    """Start offsets covering ``length`` (wrapping tiles may run past the end)."""
    if length <= tile:
        return [0]
    step = tile - overlap
    if wrap:
        return list(range(0, length, step))
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def feather(size_y: int, size_x: int, overlap: int) -> NDArray[np.float32]:
    """Blending weights: 1 inside, linear ramps over the overlap at every edge."""
    def ramp(n: int) -> NDArray[np.float32]:
        if overlap == 0 or n <= 2 * overlap:
            return np.ones(n, np.float32)
        r = np.ones(n, np.float32)
        edge = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        r[:overlap] = edge
        r[-overlap:] = edge[::-1]
        return r
    return np.outer(ramp(size_y), ramp(size_x)).astype(np.float32)
