"""Stein's unbiased risk estimate: how good an estimate is, without the clean image.

For ``y = x + n`` with Gaussian noise ``n ~ N(0, Σ)`` and an estimate ``f(y)``,
``SURE = ‖f(y) − y‖² − tr Σ + 2·tr(Σ·J_f)`` is an unbiased estimate of ``‖f(y) − x‖²``
(Stein 1981). The divergence term ``tr(Σ·J_f)`` of a nonlinear estimator (NL-Bayes, the
sliding-DCT filters, a fitted network) is read by Monte-Carlo (Ramani, Blu & Unser,
"Monte-Carlo SURE", IEEE TIP 2008): with one noise-like probe ``b ~ N(0, Σ)``,
``tr(Σ·J_f) ≈ bᵀ (f(y + εb) − f(y)) / ε``.

:func:`sure_blend` uses it to pick the best linear combination of several estimates (and
the noisy image itself) per frequency band: SURE of a combination is a quadratic in its
weights, so the weights that minimise it are a small least-squares solve. Since the
guide and the input are among the candidates, the blend's risk estimate is never above
theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from openpipeline.engine.texture.noise_model import NoiseModel

EPSILON = 0.1  # the probe's size relative to the noise (its effect is linearised)
ANCHOR = 0.003  # the pull of the blend's weights towards the guide, relative to the Gram diagonal
BAND_BLUR = 1.5  # σ in pixels of the Gaussian that splits an estimate into low and high bands


def noise_sample(noise: NoiseModel, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """A (1, C, H, W) draw of the model's noise (in image space), by filtering white noise
    with the square root of its power spectrum (channels drawn independently in the
    model's opponent space; their cross-correlation is left out)."""
    _, channels, height, width = shape
    generator = torch.Generator().manual_seed(seed)
    white = torch.randn((1, channels, height, width), generator=generator)
    lag = noise.lag
    out = torch.empty_like(white)
    for c in range(channels):
        kernel = torch.zeros((height, width))
        table = noise.autocovariance[c, c]
        span_y, span_x = min(lag, height // 2 - 1), min(lag, width // 2 - 1)
        for dy in range(-span_y, span_y + 1):
            for dx in range(-span_x, span_x + 1):
                kernel[dy % height, dx % width] = table[lag + dy, lag + dx]
        spectrum = torch.fft.fft2(kernel).real.clamp_min(0.0).sqrt()
        out[0, c] = torch.fft.ifft2(torch.fft.fft2(white[0, c]) * spectrum).real
    return noise.from_space(out)


def _gaussian(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = int(3 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=image.dtype)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = image.shape[1]
    padded = F.pad(image, (radius,) * 4, mode="reflect")
    horizontal = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(horizontal, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def _bands(image: torch.Tensor) -> list[torch.Tensor]:
    low = _gaussian(image, BAND_BLUR)
    return [low, image - low]


@dataclass(frozen=True, eq=False)
class Blend:
    """A SURE-chosen combination: the image, its risk estimate per pixel (0..1² units),
    each candidate's risk estimate, and the weights per band."""

    image: torch.Tensor
    risk: float
    candidate_risks: list[float]
    weights: list[list[float]]
    # SURE's two data terms per pixel, the blend first then each candidate: the residual
    # ‖f − y‖²/N and the divergence 2·tr(Σ·J)/N; with the trace tr Σ/N (``noise_power``) they give
    # the risk for the noise power scaled by k: ``residual − k·noise_power + k·divergence``
    residuals: tuple[float, ...] = ()
    spreads: tuple[float, ...] = ()
    noise_power: float = 0.0

    def risks_at(self, k: float) -> list[float]:
        """The blend's and each candidate's risk estimate were the noise power k times the model's."""
        return [r - k * self.noise_power + k * d for r, d in zip(self.residuals, self.spreads, strict=True)]


def sure_blend(noisy: torch.Tensor, estimates: Sequence[torch.Tensor],
               perturbed: Sequence[torch.Tensor], probe: torch.Tensor, noise: NoiseModel) -> Blend:
    """The SURE-best linear combination of ``estimates`` and ``noisy``, per band.

    Args:
        noisy: (1, C, H, W) the input y.
        estimates: f_i(y), each (1, C, H, W).
        perturbed: f_i(y + probe) for the same probe.
        probe: ε·b, b drawn from the noise model (see :func:`noise_sample`).
        noise: the noise model (its lag-0 variances give tr Σ).
    """
    return sure_blend_with(noisy, estimates, divergences(noisy, estimates, perturbed, probe, noise), noise)


def _trace(noise: NoiseModel, pixels: int) -> float:
    return float(noise.variances.sum()) * pixels


def divergences(noisy: torch.Tensor, estimates: Sequence[torch.Tensor], perturbed: Sequence[torch.Tensor],
                probe: torch.Tensor, noise: NoiseModel) -> list[float]:
    """The Monte-Carlo divergence ``tr(Σ·J)`` of every band of every estimate and of the
    input (the order of :func:`sure_blend_with`'s columns), per pixel of ``noisy``."""
    pixels = noisy[0, 0].numel()
    scale = float((probe**2).sum()) / _trace(noise, pixels)  # ε², measured on the probe itself
    out = []
    for estimate, shifted in zip([*estimates, noisy], [*perturbed, noisy + probe], strict=True):
        for band, band_shifted in zip(_bands(estimate), _bands(shifted), strict=True):
            out.append(float((probe * (band_shifted - band)).sum()) / scale / pixels)
    return out


def sure_blend_with(noisy: torch.Tensor, estimates: Sequence[torch.Tensor],
                    divergence_per_pixel: Sequence[float], noise: NoiseModel) -> Blend:
    """:func:`sure_blend` with the divergences given per pixel (:func:`divergences`, which
    may have been read on a window of the image: the denoiser does so on large images)."""
    pixels = noisy[0, 0].numel()
    trace = _trace(noise, pixels)
    candidates = [*estimates, noisy]
    columns = [band.reshape(-1).double() for estimate in candidates for band in _bands(estimate)]
    basis = torch.stack(columns, dim=1)
    target = noisy.reshape(-1).double()
    divergence = torch.tensor(divergence_per_pixel, dtype=torch.float64) * pixels
    gram = basis.T @ basis
    # a pull towards the guide (the last estimate, weight 1 in both bands): SURE's weights
    # extrapolate far when the noise model is off, and this keeps them near the guide then
    anchor = torch.zeros(len(columns), dtype=torch.float64)
    anchor[2 * len(estimates) - 2: 2 * len(estimates)] = 1.0
    pull = ANCHOR * float(gram.diagonal().mean())
    system = gram + pull * torch.eye(len(columns), dtype=torch.float64)
    weights = torch.linalg.solve(system, basis.T @ target - divergence + pull * anchor)

    def terms(w: torch.Tensor) -> tuple[float, float]:
        residual = target - basis @ w
        return float(residual @ residual) / target.numel(), float(2 * (w @ divergence)) / target.numel()

    chosen = [weights]
    for index in range(len(candidates)):
        w = torch.zeros(len(columns), dtype=torch.float64)
        w[2 * index: 2 * index + 2] = 1.0
        chosen.append(w)
    residuals, spreads = zip(*(terms(w) for w in chosen), strict=True)
    power = trace / target.numel()
    risks = [r - power + d for r, d in zip(residuals, spreads, strict=True)]
    image = (basis @ weights).reshape(noisy.shape).float()
    pairs = weights.reshape(-1, 2).tolist()
    return Blend(image, risks[0], risks[1:], pairs, tuple(residuals), tuple(spreads), power)


def probe_for(noise: NoiseModel, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """ε·b: the Monte-Carlo probe for :func:`sure_blend`."""
    return EPSILON * noise_sample(noise, shape, seed)


def run_pair(estimator: Callable[[torch.Tensor], torch.Tensor], noisy: torch.Tensor,
             probe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """f(y) and f(y + probe)."""
    return estimator(noisy), estimator(noisy + probe)
