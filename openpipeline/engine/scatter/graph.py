"""Neighbour graphs of scattered points, as (E, 2) edge lists.

An edge list holds each undirected edge once, as (low, high) point indices, rows
sorted; the writers store it as ``edges``.
"""

from __future__ import annotations

import numpy as np

from openpipeline.engine.scatter.mesh import IntArray

COMPILED_FROM = 20_000  # edges from which the compiled linear-time pass replaces np.unique


def unique_edges(first: IntArray, second: IntArray, count: int) -> IntArray:
    """The undirected edges ``first[i]``–``second[i]``, each once, sorted.

    ``count`` bounds the point indices (every index is below it).

    >>> unique_edges(np.array([2, 0, 1]), np.array([0, 2, 0]), 3).tolist()
    [[0, 1], [0, 2]]
    """
    low = np.minimum(first, second).astype(np.int64)
    high = np.maximum(first, second).astype(np.int64)
    if len(low) >= COMPILED_FROM:
        from openpipeline.engine.scatter import kernels  # here: importing numba takes 0.2 s

        return np.asarray(kernels.unique_pairs(low, high, int(count)), dtype=np.int64)
    keys = np.unique(low * count + high)
    return np.stack([keys // count, keys % count], 1)


def hebbian_edges(nearest_two: IntArray) -> IntArray:
    """Competitive Hebbian learning: connect each sample's two nearest prototypes.

    Args:
        nearest_two: (S, 2) indices of each sample's nearest and second-nearest prototype.
    """
    keep = nearest_two[:, 0] != nearest_two[:, 1]
    count = int(nearest_two.max()) + 1
    return unique_edges(nearest_two[keep, 0], nearest_two[keep, 1], count)
