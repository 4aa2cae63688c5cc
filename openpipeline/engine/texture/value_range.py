"""How a file's values are mapped into the generator's 0..1 range and back.

The generator ends in a sigmoid, so it works in 0..1. Unsigned integer files are
read as 0..1 already; signed integer files (-1..1) are mapped linearly. Float files
whose values stay in 0..1 are used as they are; float files with values outside it
(HDR, negatives) go through a per-image logarithmic map::

    u = log1p((x − lo) / s) / log1p((hi − lo) / s)

where ``lo`` and ``hi`` are the image's smallest and largest values and ``s`` is 1
(scene-linear white) or the value range when that is smaller. It spans exactly
``lo..hi`` (so 1e7 and −500 are both reachable, where x/(1+x) lost the top decades)
and is computed in float64 both ways; the inverse clips to ``lo..hi``. Pixels the
operation must keep (inpainting's known pixels, alpha) are copied from the file
afterwards, never through this round trip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class ValueMap:
    """A file's values ↔ 0..1; ``kind`` is 'unit' (as is), 'signed' (-1..1) or 'log' (HDR)."""

    kind: str = "unit"
    low: float = 0.0
    high: float = 1.0
    scale: float = 1.0

    @classmethod
    def for_pixels(cls, pixels: NDArray[np.float32], is_float: bool, is_signed: bool) -> ValueMap:
        """The map for one file's colour channels.

        >>> ValueMap.for_pixels(np.array([0.0, 0.5], np.float32), True, False).kind
        'unit'
        >>> m = ValueMap.for_pixels(np.array([-500.0, 1e7], np.float32), True, False)
        >>> float(m.to_file(m.to_unit(np.array([1e7], np.float32)))[0])
        10000000.0
        """
        if is_signed:
            return cls("signed", -1.0, 1.0)
        low = float(pixels.min()) if pixels.size else 0.0
        high = float(pixels.max()) if pixels.size else 1.0
        if not is_float or (low >= 0.0 and high <= 1.0):
            return cls()
        return cls("log", low, high, min(1.0, max(high - low, 1e-30)))

    @property
    def _span(self) -> float:
        return math.log1p(max(self.high - self.low, 0.0) / self.scale) or 1.0

    def to_unit(self, values: NDArray[np.float32]) -> NDArray[np.float32]:
        """File values → 0..1."""
        if self.kind == "signed":
            return ((np.asarray(values, np.float64) + 1.0) / 2.0).clip(0.0, 1.0).astype(np.float32)
        if self.kind == "log":
            shifted = np.maximum(np.asarray(values, np.float64) - self.low, 0.0)
            return (np.log1p(shifted / self.scale) / self._span).astype(np.float32)
        return np.clip(values, 0.0, 1.0).astype(np.float32)

    def to_file(self, unit: NDArray[np.float32]) -> NDArray[np.float32]:
        """0..1 → file values (the inverse of :meth:`to_unit`, clipped to the file's range)."""
        clipped = np.clip(np.asarray(unit, np.float64), 0.0, 1.0)
        if self.kind == "signed":
            return (clipped * 2.0 - 1.0).astype(np.float32)
        if self.kind == "log":
            values = np.expm1(clipped * self._span) * self.scale + self.low
            return np.clip(values, self.low, self.high).astype(np.float32)
        return clipped.astype(np.float32)
