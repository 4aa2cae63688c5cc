"""Overlapping tiles with feathered blending: how a big texture runs in bounded memory."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def tile_layout(length: int, tile: int, overlap: int, wrap: bool, least: int = 1) -> tuple[list[int], int]:
    """The start offsets and the side of the tiles that cover ``length`` pixels, neighbours
    overlapping by at least ``overlap`` (wrapping tiles run past the end and cover the seam).

    As many tiles as sides of ``tile`` need, balanced: every tile takes the least side that
    covers ``length`` in that many (never under ``least``, the generator's smallest side, nor
    over ``tile``, which bounds memory), spread evenly. Tiles of ``tile`` a side, stepped by
    ``tile`` − ``overlap`` with the last pushed back to the edge, processed 2.25 times the
    pixels of a 1024² texture at the default 512 px tile and 32 px overlap (nine tiles, the
    last row and column overlapping the one before by 480 px); balanced, the nine tiles are
    363 px a side and process 1.13 times its pixels. One tile when ``length`` fits in ``tile``.

    Example:
        >>> tile_layout(1024, 512, 32, False)
        ([0, 330, 661], 363)
        >>> tile_layout(400, 512, 32, False)
        ([0], 400)
    """
    if length <= tile:
        return [0], length
    step = tile - overlap
    if wrap:  # count tiles of side s cover the circle where count · (s − overlap) ≥ length
        count = -(-length // step)
        side = min(tile, max(-(-length // count) + overlap, least))
        return [i * length // count for i in range(count)], side
    count = -(-(length - overlap) // step)  # count · side − (count − 1) · overlap ≥ length
    side = min(tile, max(-(-(length + (count - 1) * overlap) // count), least))
    return [i * (length - side) // (count - 1) for i in range(count)], side


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
