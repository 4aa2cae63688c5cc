"""Noise level estimation for images (no torch needed).

:func:`estimate_sigma` is Immerkær's fast estimator (1996): the image is
filtered with a kernel that cancels smooth content (the difference of two
Laplacians) and the noise standard deviation is read off the mean absolute
response, per channel; taking the median over blocks keeps textured areas from
inflating it.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0, 1, 128), (128, 1))[..., None]
    >>> round(estimate_sigma(clean + rng.normal(0, 0.1, clean.shape)), 2)
    0.1
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

# A pixel within this of 0 or 1 holds clipped noise (see clipped_pixels).
CLIP_EDGE = 1e-6
# Told where noise was clipped, estimate_sigma does not read a block with more than this share
# of its responses over clipped pixels: white noise clipped at 2 % of a flat block's pixels
# keeps 0.98 of its σ there (5 %: 0.96; half the pixels, a noisy black: 0.58).
BLOCK_CLIP_SHARE = 0.02

KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


def _response(channel: NDArray[np.float64]) -> NDArray[np.float64]:
    h, w = channel.shape
    out = np.zeros((h - 2, w - 2))
    for dy in range(3):
        for dx in range(3):
            out += KERNEL[dy, dx] * channel[dy:dy + h - 2, dx:dx + w - 2]
    return out


def estimate_sigma(image: NDArray[np.floating], block: int = 32,
                   clipped: NDArray[np.bool_] | None = None) -> float:
    """Noise standard deviation of an (H, W, C) image, in the image's own units.

    ``clipped``: (H, W), True at pixels whose noise was clipped (see
    :func:`clipped_pixels`); the responses that read them are left out, and blocks with
    more than :data:`BLOCK_CLIP_SHARE` of their responses left out are not read (all of
    them when no block is left). Clipped noise has a lower variance: a noisy black
    background read σ 8 for a true 15.

    Cost: one 3×3 filter pass per channel.
    """
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 2:
        array = array[..., None]
    usable = None if clipped is None or not clipped.any() else usable_responses(clipped)
    estimates = []
    for c in range(array.shape[2]):
        response = np.abs(_response(array[..., c]))
        estimates.append(math.sqrt(math.pi / 2) * _level(response, block, usable) / 6)
    return float(np.mean(estimates))


def clipped_pixels(image: NDArray[np.floating]) -> NDArray[np.bool_]:
    """(H, W): True where any channel of an (H, W, C) image in 0..1 is at 0 or 1 (to within
    :data:`CLIP_EDGE`), where noise was clipped."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    return np.asarray(((array <= CLIP_EDGE) | (array >= 1.0 - CLIP_EDGE)).any(axis=2))


def usable_responses(clipped: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """(H − 2, W − 2): True at each 3×3 response that reads no clipped pixel."""
    h, w = clipped.shape
    out = np.zeros((h - 2, w - 2), dtype=bool)
    for dy in range(3):
        for dx in range(3):
            out |= clipped[dy:dy + h - 2, dx:dx + w - 2]
    return ~out


def _level(response: NDArray[np.float64], block: int, usable: NDArray[np.bool_] | None) -> float:
    """The median over blocks of the mean absolute response (the mean of the image when it
    is under two blocks a side), over the ``usable`` responses only when given."""
    h, w = response.shape
    if usable is not None and not usable.any():
        usable = None
    if h >= 2 * block and w >= 2 * block:
        rows, cols = h // block, w // block

        def blocks(values: NDArray[np.float64]) -> NDArray[np.float64]:
            cut = values[: rows * block, : cols * block]
            return np.asarray(cut.reshape(rows, block, cols, block).sum(axis=(1, 3)).ravel())

        if usable is None:
            return float(np.median(blocks(response) / (block * block)))
        counts = blocks(usable.astype(np.float64))
        sums = blocks(np.where(usable, response, 0.0))
        readable = counts >= (1.0 - BLOCK_CLIP_SHARE) * block * block
        if readable.any():
            return float(np.median(sums[readable] / counts[readable]))
    if usable is None:
        return float(response.mean())
    return float(response[usable].mean())
