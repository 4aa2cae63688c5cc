"""A stationary noise model: the noise's autocovariance in an opponent colour space.

White noise of level σ is ``σ²`` at lag 0 and nothing else; correlated noise (a
demosaiced or resampled scan) and JPEG'd noise spread their power over neighbouring
pixels and, in colour, between luma and chroma. :class:`NoiseModel` holds
``R[c1, c2, dy, dx] = E[n_c1(p) · n_c2(p + (dy, dx))]`` for lags up to ``lag`` in the
orthonormal opponent space of :func:`.dct_filters.colour_matrix` (luminance first), and
gives the noise covariance of any k×k patch (k ≤ lag + 1) for :mod:`.nl_bayes`, and the
noise power of any sliding-DCT band for :mod:`.dct_filters`.

How it is estimated from the image alone is in :mod:`.noise_estimate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from openpipeline.engine.texture.dct_filters import colour_matrix, dct_matrix

LAG = 7  # lags kept on each side (covers patches and DCT windows up to 8×8)


@dataclass(frozen=True, eq=False)
class NoiseModel:
    """Noise autocovariance ``(C, C, 2·lag+1, 2·lag+1)`` in the opponent space (0..1 units)."""

    autocovariance: torch.Tensor
    # False when part of the model is a guess (see :mod:`.noise_estimate`: chroma raised to
    # the luma's level); SURE, which needs the true covariance, is then not used
    measured: bool = True

    @property
    def channels(self) -> int:
        return int(self.autocovariance.shape[0])

    @property
    def lag(self) -> int:
        return (int(self.autocovariance.shape[-1]) - 1) // 2

    @property
    def variances(self) -> torch.Tensor:
        """Each channel's per-pixel noise variance (the lag-0 autocovariance), (C,)."""
        return torch.diagonal(self.autocovariance[:, :, self.lag, self.lag])

    @property
    def sigma(self) -> float:
        """The per-pixel noise level (root of the mean lag-0 variance over channels)."""
        return math.sqrt(max(float(self.variances.mean()), 0.0))

    @property
    def is_white(self) -> bool:
        """No power at any lag but 0 and no correlation between channels."""
        table = self.autocovariance
        centre = self.variances
        off = table.clone()
        for c in range(self.channels):
            off[c, c, self.lag, self.lag] = 0.0
        return bool(off.abs().max() <= 1e-3 * float(centre.max().clamp_min(1e-12)))

    @classmethod
    def white(cls, sigma: float, channels: int) -> NoiseModel:
        """Independent noise of level σ in every pixel and channel."""
        table = torch.zeros((channels, channels, 2 * LAG + 1, 2 * LAG + 1))
        for c in range(channels):
            table[c, c, LAG, LAG] = sigma**2
        return cls(table)

    def scaled(self, factor: float) -> NoiseModel:
        """The same spectrum with its power times ``factor``."""
        return NoiseModel(self.autocovariance * factor, self.measured)

    def to_space(self, image: torch.Tensor) -> torch.Tensor:
        """(1, C, H, W) image → the model's opponent space."""
        matrix = colour_matrix(image.shape[1]).to(image)
        return torch.einsum("ij,bjhw->bihw", matrix, image)

    def from_space(self, image: torch.Tensor) -> torch.Tensor:
        """Back from the opponent space."""
        matrix = colour_matrix(image.shape[1]).to(image)
        return torch.einsum("ji,bjhw->bihw", matrix, image)

    def patch_covariance(self, k: int, channel: int | None) -> torch.Tensor:
        """Noise covariance of a k×k patch: one channel's (k², k²), or every channel's
        (C·k², C·k²) in unfold order (channel, row, column) when ``channel`` is None."""
        if k - 1 > self.lag:
            raise ValueError(f"patch side {k} is larger than the noise model's lags allow")
        chosen = range(self.channels) if channel is None else [channel]
        y, x = torch.meshgrid(torch.arange(k), torch.arange(k), indexing="ij")
        y, x = y.reshape(-1), x.reshape(-1)
        dy = (y[None] - y[:, None]) + self.lag
        dx = (x[None] - x[:, None]) + self.lag
        rows = [torch.cat([self.autocovariance[a, b][dy, dx] for b in chosen], dim=1) for a in chosen]
        covariance = torch.cat(rows, dim=0)
        return 0.5 * (covariance + covariance.T)

    def band_power(self, n: int) -> torch.Tensor:
        """Noise power of each coefficient of an n×n DCT window, per channel: (C, n²)."""
        dct = dct_matrix(n).double()
        basis = torch.einsum("ka,lb->klab", dct, dct).reshape(n * n, n * n)  # (bands, pixels)
        power = []
        for c in range(self.channels):
            covariance = self.patch_covariance(n, c).double()
            power.append(torch.einsum("bp,pq,bq->b", basis, covariance, basis))
        return torch.stack(power).clamp_min(0.0).float()
