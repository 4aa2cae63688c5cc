"""The noise model of an image, from the image alone (white, correlated or JPEG'd noise).

The image is cut, in the opponent colour space of :class:`.noise_model.NoiseModel`,
into non-overlapping 8×8 patches whose 2-D DCT coefficients are taken; the patches are
grouped into blocks of 4×4 patches (32×32 pixels). For every channel and DCT band the
block's mean squared coefficient is, where the block shows no signal in that band, a
``σ_b²·χ²_16/16`` draw; a low quantile over the blocks (corrected for that χ² law) reads
the band's noise power from the blocks that are flattest *in that band*. A fine texture
(foliage, gravel) that fills every block at the high frequencies still leaves some
blocks quiet in most bands, so it inflates the reading much less than a median of
Laplacian responses does (Immerkær's estimator, :mod:`.noise_level`, which reads 28.6
for σ 25 on such a texture). The band powers are turned into an autocovariance (the DCT
nearly diagonalises a stationary covariance), so low-passed noise (a demosaiced scan)
gets its own spectrum rather than one σ that reads low. (JPEG'd noise, its high bands
quantised away unevenly, is read otherwise: see below.)

Noise clipped at the ends of the value range (a noisy black background, a white one, a
saturated colour: pixels at 0 or 1 in any channel) has a lower variance than the noise
elsewhere, and the flattest blocks are often just those: a black background under σ 15
read 8. Each patch's band energies are divided by the share of the noise variance that
clipping kept there (from the share of its pixels at a bound, as if the patch were flat:
:class:`Clipping`), patches that kept under :data:`CLIP_KEPT_LEAST` are not read, and white
noise is read off the upper bands alone, without the PCA level and Immerkær's, which cannot
be read through clipping (see :func:`_channel_powers`).
An image with under :data:`CLIP_READ_FROM` of its pixels at 0 or 1 has its band powers read as
if nothing were clipped (the kurtosis hold below skips every window with a clipped pixel all the
same).

:func:`looks_jpeg_compressed` tells an image saved as JPEG (its luma's upper DCT coefficients
are zero far more often on one 8×8 grid than on the others): its noise is read as white, not from
the upper bands JPEG zeroes, at the PCA level held under Immerkær's and raised by the JPEG's
quantisation step (:func:`jpeg_step`; see :func:`_channel_powers`), or, where the kurtoses of
the lowest bands on JPEG's grid read a camera's low-passed noise at a higher level, as that
(:func:`jpeg_correlated_spectrum`), or where those bands hold Gaussian noise shaped like a
camera's and little else, as that (:func:`jpeg_gaussian_spectrum`). A level read white is held
near the most white noise JPEG's zeros allow (:func:`jpeg_zeros_level`: content only lowers the
share of coefficients JPEG rounded to 0). The restorer warns that the reading can be far off
(:func:`.restoration._jpeg_caution`).

Correlated noise read on a grey image, which has no chroma to check it against, is held
under what the bands' kurtoses allow (:func:`kurtosis_bound`): texture is sparse and noise
Gaussian, so a spectrum that a busy texture raised (grass under σ 15 grain read 24–26)
leaves the clean content a kurtosis the bands do not show. A grey image's white level is
checked so too, and a correlated reading whose white level the kurtoses fully allow is read
white (:func:`_grey_white`: light noise on grass, gravel and coins read as 2–3 times itself).

A low-pass fitted narrower than :data:`CORRELATED_BLUR` is read white, at the level of the finest
bands, but for finer grain (noise blurred by 0.5 px, which that reads at 0.65 of its σ): in
colour where both chroma channels read it alike (:func:`_chroma_mildly_blurred`), in grey where
the content is smooth or nearly Gaussian and the fit clean (:func:`_grey_mild_low_pass`).

Images smaller than two blocks a side use 2×2-patch blocks of 16×16 pixels; below 32
pixels a side the noise is taken as white at Immerkær's level.

Cost: one 8×8 block DCT of the image, and the covariance of 7×7 patches for the PCA level
(:func:`pca_level`): 0.1 s at 128², 1.4 s for a 2048² colour texture on one thread (and
0.02–0.03 s for :func:`jpeg_grid`, on a window of at most 256², as much again for a JPEG's
step and kurtoses; for a grey image, 0.05 s at 128² and 0.3 s at 4096² for each
:func:`kurtosis_bound`, which reads at most :data:`KURTOSIS_WINDOWS` windows and adds about
100 MB at 4096²: one for white noise, two for correlated, whose white level, the PCA level
with it, is read too); the PCA level's memory is
about two copies of a channel in float64 plus ~25 MB (260 MB at 4096²;
``bench/noise_estimate_bench.py``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import erfinv
from scipy.stats import beta, chi2

from openpipeline.engine.texture.arrays import image_tensor
from openpipeline.engine.texture.dct_filters import colour_matrix, dct_matrix
from openpipeline.engine.texture.noise_level import estimate_sigma
from openpipeline.engine.texture.noise_model import LAG, NoiseModel

PATCH = 8
QUANTILE = 0.2  # which quantile of the blocks' band energies is read
BLOCK = 4  # patches per block side
FIT_FROM = 5  # the spectrum is fitted to the bands with u + v at least this
HIGH_FROM = 8  # white noise is read off the bands with u + v at least this
SMALLEST = 4 * PATCH  # the least side a spectrum is read from (two blocks of 2×2 patches)
CHROMA_FLOOR = 0.3  # chroma read under this fraction of the luma's variance is under-read
CHROMA_FLOOR_UNSAVED = 0.1  # the same, not saved as JPEG, the luma read texture (_chroma_at_least_luma_like)
CHROMA_AGREE = 1.5  # two white chroma readings within this ratio of σ read the noise (see _unsaved_floor)
PCA_PATCH = 7  # patch side of the PCA estimate
PCA_MAX_PATCHES = 1 << 20  # patches read at most (see _pca_stride)
PCA_ROWS = 64  # rows of patches unfolded at a time (see _patch_covariance)
# held_to_patch_variance: a channel's model is held to its image's patch variance only where it
# reads more than 1/PATCH_BOUND_SHORT times what the variance allows, in the directions that
# carry at least PATCH_BOUND_DIRECTIONS of the model's strongest patch variance.
PATCH_BOUND_SHORT = 0.5
PATCH_BOUND_DIRECTIONS = 0.3
PATCH_BOUND_LEAST = 16  # patches per direction the bound needs (a 128² crop has 300 per direction)
ABOVE_FIT = 0.5  # a band this far above the fitted spectrum (natural log of power) is texture
FIT_ROUNDS = 3  # refits without such bands
MIN_FIT_BANDS = 6  # the least bands a spectrum is fitted to
LOWPASS_STEP = 0.01  # the steps of s the low-pass's exact band powers are tabulated at
LOWPASS_STEPS = 301  # s from 0 to 3 pixels
CORRELATED_BLUR = 0.45  # a fitted low-pass wider than this (pixels) means correlated noise
CHROMA_BLUR_AGREE = 0.1  # chroma low-passes within this (pixels) are one blur (_chroma_blurred_alike)
MILD_BLUR = 0.26  # both chroma low-passes this wide and alike: a mild low-pass (_chroma_mildly_blurred)
MILD_LUMA_RAISED = 1.0  # LUMA_RAISED where the chroma's low-pass is mild (see _luma_with_chroma_blur)
GREY_MILD_BLUR = 0.3  # a grey low-pass this wide on content the kurtoses cannot read (_grey_mild_low_pass)
EXACT_LOWEST_LEAST = 0.8  # the exact low-pass's lowest bands at most 1/this of theirs (_exact_lowpass_fits)
LUMA_RAISED = 1.5  # the chroma's blur is taken only where it raises the luminance's σ this much
# Clipped noise (see Clipping and _band_energies): a patch whose noise kept less than this share
# of its variance through clipping is not read (half its pixels at 0: 0.34; 0.57 of them, a
# background 2.5/255 below black: 0.28).
CLIP_KEPT_LEAST = 0.3
# A pixel within this of 0 or 1 holds clipped noise.
CLIP_EDGE = 1e-6
# The noise is read through clipping only when at least this share of the pixels is clipped.
# Under it the clipped noise lowers the reading by less than that share, while reading through
# it gives up the PCA level and Immerkær's (see _channel_powers), which hold a busy texture's
# reading down. Measured with an earlier form (those two read on the unclipped patches only),
# on the bench's crops with 0.1–0.8 % clipped (grass, fabric, camera under σ 15–25 and JPEG):
# σ moved by 1–5 % and the result by −0.85 to +1.28 dB, 0 on average (the grey strength choice
# flipping, see .denoise.gcv_strength); from 10 % on the gains were systematic (a phantom +2.8
# to +4 dB).
CLIP_READ_FROM = 0.01
# JPEG compression (see jpeg_grid): on the luma of a window of at most JPEG_WINDOW² pixels, the
# share of 8×8 DCT coefficients with u + v ≥ JPEG_FROM_BAND under JPEG_ZERO (8-bit levels) at the
# grid offset where it is highest, less its median over the other 63 offsets. Over the bench's
# 82 crops (tune, held-out and 22 unseen), noisy without JPEG: at most 0.014 (white, Poisson)
# and 0.097 (correlated); JPEG q85 after white σ 20: at least 0.187; after correlated σ 15:
# at least 0.368. Images under SMALLEST a side are not judged: at 16–20 pixels most offsets
# hold one block, and 8-bit white noise never saved as JPEG crossed 0.15 in 2–20 of 30 draws.
JPEG_GRID_FROM = 0.15
# Correlated noise read on a grey image is held under a bound from its bands' kurtoses, and its
# white level checked against one (see kurtosis_bound, _held_to_kurtosis and _grey_white): 8×8
# windows read at most (a wider stride above), windows per side of the tiles that are redrawn,
# redraws, the quantile of the redrawn levels taken, the slack over it (σ), and the least share
# of the spectrum's σ it keeps.
KURTOSIS_WINDOWS = 1 << 16
KURTOSIS_TILE = 32
KURTOSIS_DRAWS = 64
KURTOSIS_QUANTILE = 0.9
KURTOSIS_SLACK = 1.3
KURTOSIS_FLOOR = 0.6
KURTOSIS_STEPS = 400  # levels tried, from 0 to the highest the bands allow
KURTOSIS_MISFIT = 0.3  # the most of Σ excess the fit may leave (see kurtosis_bound)
KURTOSIS_LEAST_TILES = 9  # fewer tiles than this give no bound: too few to redraw
KURTOSIS_LOW_EXCESS = 6.0  # the lowest bands over this many times the spectrum: no hold
WHITE_HELD_BELOW = 0.8  # a grey white level whose kurtosis share is under this is held (see _grey_white)
WHITE_OVER_CORRELATED = 0.85  # a grey correlated reading whose white level's share is this is white
WHITE_OVER_WIDE = 0.4  # the same, for one the kurtoses cannot hold or hold at their floor (_grey_powers)
CONTENT_EXCESS = 2.5  # lowest bands this many times the fitted spectrum: content over it (see _grey_powers)
JPEG_WINDOW = 256
JPEG_FROM_BAND = 6
JPEG_ZERO = 1.0
JPEG_LUMA = (0.299, 0.587, 0.114)  # JPEG's Y (ITU-R BT.601), what its quantisation acts on
JPEG_CLIPPED_PIXELS = 4  # a block with more pixels at 0 or 255 is off JPEG's lattice (see jpeg_step)
JPEG_STEP_NONZERO = 1.5  # a coefficient over this (8-bit levels) is not quantised to 0
JPEG_STEP_LEAST = 16  # the least nonzero coefficients a band's step is read from
JPEG_STEP_MAX = 64  # the largest step tried (Pillow's q10 has 55 in the lowest bands)
JPEG_STEP_FIT = 0.5  # the least share of a perfect lattice fit, mean cos(2π·c/q) (see _step_fit)
# The rounding error (8-bit levels) of the luma read back: the decoded Y rounded (0.29), then
# R, G and B (0.19 more in the luma, added in quadrature).
JPEG_ROUNDING = 0.35
JPEG_KURTOSIS_TOP = 5  # the aligned luma bands with u + v from 1 to this are read for correlated noise
JPEG_KURTOSIS_MISFIT = 0.3  # the most of Σ √excess² the fit may leave (see jpeg_correlated_spectrum)
JPEG_KURTOSIS_CONTENT = 1.5  # the least √(excess kurtosis) of the content (sparse: texture, edges)
JPEG_KURTOSIS_BLURS = (0.45, 1.0)  # the low-pass widths (pixels) read as a camera's correlated noise
JPEG_KURTOSIS_ZEROED = 0.3  # a band with more of its coefficients at 0 is quantised too coarsely to read
JPEG_KURTOSIS_LEAST_BLOCKS = 64  # unclipped blocks read at least (else every block)
# A camera's noise read in a 4:2:0 JPEG's chroma (see _chroma_camera_level): JPEG's Cb and Cr,
# the chroma's lowest bands' robust σ over this much of the noise's level, taken where those
# bands look Gaussian (excess kurtosis at most CHROMA_CAMERA_KURTOSIS, std within
# CHROMA_CAMERA_SPREAD × the robust σ) and over CHROMA_CAMERA_ABOVE × the luma's level; the
# spectrum a demosaiced noise's, a Gaussian blur of CHROMA_CAMERA_BLUR px.
JPEG_CHROMA = ((-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
CHROMA_CAMERA_RATIO = 0.75
CHROMA_CAMERA_KURTOSIS = 0.5
CHROMA_CAMERA_SPREAD = (0.95, 1.15)
CHROMA_CAMERA_BLOCKS = 64  # chroma blocks read at least: a 128² window (fewer: the kurtosis is noise)
CHROMA_CAMERA_LUMA = 1.5  # the level at most this × the luma's whole spread (else chroma content)
CHROMA_CAMERA_ABOVE = 1.3
CHROMA_CAMERA_BLUR = 0.7
JPEG_CORRELATED_ABOVE = 1.5  # correlated noise under JPEG is taken where it reads this far above white
# A camera's noise that hides the content under JPEG (see jpeg_gaussian_spectrum): the lowest bands'
# mean |excess kurtosis| (u + v of 1 left out) at most this, the RMS misfit of their log powers to
# a Gaussian low-pass at most JPEG_GAUSSIAN_MISFIT, and at most JPEG_GAUSSIAN_OVER_POWER_LAW over
# their misfit to a power law.
JPEG_GAUSSIAN_EXCESS = 0.45
JPEG_GAUSSIAN_MISFIT = 0.6
JPEG_GAUSSIAN_OVER_POWER_LAW = 0.1
JPEG_IMMERKAER_SLACK = 3.0  # the PCA level is held under Immerkær's + this × the step² (see _channel_powers)
# A level given for a JPEG this far above the level its fine bands read white is a camera's low-passed
# noise (see model_for_level_on_jpeg).
JPEG_GIVEN_ABOVE = 1.5
# JPEG's zeros bound its white noise (see jpeg_zeros_level): bands whose step reads at least
# JPEG_ZEROS_LEAST_STEP (finer, the decoder's rounding mixes with the zeros) from at least
# JPEG_ZEROS_LEAST_NONZERO nonzero coefficients, their share of zeros at its lower
# JPEG_ZEROS_CONFIDENCE bound; the white level is held to JPEG_ZEROS_ABOVE × the bound.
JPEG_ZEROS_LEAST_STEP = 4
JPEG_ZEROS_LEAST_NONZERO = 16
JPEG_ZEROS_CONFIDENCE = 0.95
JPEG_ZEROS_TILE = 8  # blocks a side of the tiles the zeros are counted in (64 pixels)
JPEG_ZEROS_TILE_LEAST = 32  # unclipped blocks a tile needs to be read
JPEG_ZEROS_TILE_QUANTILE = 0.9  # which quantile of the tiles' bounds is the image's
JPEG_ZEROS_STRIPS = 12  # strips of tiles read at most (see _tile_zeros)
JPEG_ZEROS_STEP_MAX = 128  # the largest step a band's lattice is looked for at (see _band_step)
NO_BOUND = 1e6  # a tile's bound where no band bounds it (8-bit levels)
# Per tile (see jpeg_zeros_level), 1.25 changed the tune split by +0.01 to +0.04 dB a kind; 1.1 is
# taken (see estimate_noise). Counted over the whole image, 1.0 lost 1.8 dB on retina under σ 20 at
# q85 (the denoiser does best above the true level there) and 0.45 on a camera's noise read white.
JPEG_ZEROS_ABOVE = 1.1


@dataclass(frozen=True)
class Clipping:
    """Where an image's noise was clipped, for reading one opponent channel's noise:
    ``kept`` (C, H // 8, W // 8), the share of its noise variance each RGB (or grey) channel
    kept through clipping in each 8×8 patch (patches from the top-left corner:
    :func:`clipped_variance` of :func:`_clipped`'s shares), and ``weights`` (C,), the squares
    of the opponent channel's row of the colour matrix (its noise variance is their sum times
    each channel's, for noise independent between channels)."""

    kept: torch.Tensor
    weights: torch.Tensor

    def kept_share(self, rows: int, cols: int) -> torch.Tensor:
        """The share of the opponent channel's noise variance each of the top-left (rows, cols)
        patches kept: ``Σ_c w_c·kept_c``."""
        return torch.einsum("c,crk->rk", self.weights.double(), self.kept[:, :rows, :cols])


def _at_bound(channel: torch.Tensor) -> torch.Tensor:
    """Where a channel's value is 0 or 1 (to within :data:`CLIP_EDGE`): clipped noise. Values
    beyond them (float data whose noise was not clipped) are not."""
    return (channel.abs() <= CLIP_EDGE) | ((channel - 1.0).abs() <= CLIP_EDGE)


def _clipped(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where a (1, C, H, W) image's pixels are at 0 or 1 in any channel (H, W), and each
    channel's share of pixels at a bound per 8×8 patch (C, H // 8, W // 8). One channel at a
    time (a 4096² colour texture's shares take 6 MB)."""
    anywhere: torch.Tensor | None = None
    shares = []
    for channel in image[0]:
        at = _at_bound(channel)
        anywhere = at if anywhere is None else anywhere | at
        shares.append(F.avg_pool2d(at.float()[None], PATCH))
    assert anywhere is not None
    return anywhere, torch.cat(shares).double()


def clipped_variance(share: torch.Tensor) -> torch.Tensor:
    """The variance that unit Gaussian noise on a flat signal keeps when it is clipped at a
    bound that a ``share`` of the pixels reach: ``Var(min(X, c))``, X ~ N(0, 1), c = Φ⁻¹(1 − share)
    (1 at share 0, 0.34 at a half, 0 at 1)."""
    p = share.clamp(1e-12, 1 - 1e-12)
    c: torch.Tensor = torch.special.ndtri(1 - p)  # Φ⁻¹
    density = torch.exp(-0.5 * c * c) / math.sqrt(2 * math.pi)
    mean = c * p - density
    square = (1 - p) - c * density + c * c * p
    return (square - mean * mean).clamp_min(0.0)


def _band_energies(channel: torch.Tensor, block: int, clipping: Clipping | None = None) -> torch.Tensor:
    """Each block's mean squared DCT coefficient per band: (blocks, 64).

    With ``clipping``, each patch's squares are divided by the variance share its noise kept
    (:meth:`Clipping.kept_share`) and patches that kept under :data:`CLIP_KEPT_LEAST` are left
    out: blocks whose patches are all left are read as they are, and the other blocks' patches
    left, taken block by block, are read in runs of a block's count (so that every reading
    holds as many patches, as the χ² correction of :func:`_band_powers` assumes). With no run
    at all (an image almost all clipped), every block is read as it is."""
    n = PATCH
    height, width = channel.shape
    rows, cols = height // (n * block), width // (n * block)
    cut = channel[: rows * n * block, : cols * n * block]
    patches = cut.reshape(rows * block, n, cols * block, n).permute(0, 2, 1, 3)  # (pr, pc, n, n)
    dct = dct_matrix(n).double()
    coefficients = torch.einsum("ka,lb,ijab->ijkl", dct, dct, patches.double()).reshape(rows * block,
                                                                                         cols * block, n * n)
    squared = coefficients.square_()

    def blocks() -> torch.Tensor:
        return squared.reshape(rows, block, cols, block, n * n).mean(dim=(1, 3)).reshape(rows * cols, n * n)

    if clipping is None:
        return blocks()
    kept = clipping.kept_share(rows * block, cols * block)
    usable = (kept >= CLIP_KEPT_LEAST).reshape(rows, block, cols, block).permute(0, 2, 1, 3)
    usable = usable.reshape(rows * cols, block * block)
    whole = usable.all(dim=1)
    size = block * block
    runs = int(usable[~whole].sum()) // size
    if int(whole.sum()) + runs == 0:
        return blocks()
    squared.div_(kept.clamp_min(CLIP_KEPT_LEAST)[..., None])  # in place: 134 MB less at 4096²
    corrected = squared.reshape(rows, block, cols, block, n * n).permute(0, 2, 1, 3, 4)
    corrected = corrected.reshape(rows * cols, size, n * n)
    rest = corrected[~whole][usable[~whole]]  # the other blocks' usable patches, block by block
    pooled = rest[: runs * size].reshape(runs, size, n * n).mean(dim=1)
    return torch.cat([corrected[whole].mean(dim=1), pooled])


def _band_powers(channel: torch.Tensor, clipping: Clipping | None = None) -> torch.Tensor:
    """The noise power of each 8×8 DCT band of one channel: (64,), read through ``clipping``
    when some of the image's noise was clipped (:func:`_band_energies`)."""
    height, width = channel.shape
    block = BLOCK if min(height, width) >= 2 * BLOCK * PATCH else 2
    energies = _band_energies(channel, block, clipping)
    dof = block * block
    if energies.shape[0] < 3:
        return _with_dc(energies.median(dim=0).values * dof / float(chi2.ppf(0.5, dof)))
    level = torch.quantile(energies, QUANTILE, dim=0)
    return _with_dc(level * dof / float(chi2.ppf(QUANTILE, dof)))


def _with_dc(powers: torch.Tensor) -> torch.Tensor:
    """The DC band holds the image's own mean: its noise power is taken from the three
    lowest AC bands instead."""
    out = powers.clone()
    out[0] = powers[[1, PATCH, PATCH + 1]].mean()
    return out


def _dct_basis() -> torch.Tensor:
    """The 64 basis images of the 8×8 DCT in float64, band by band (DC first): (64, 8, 8)."""
    dct = dct_matrix(PATCH).double()
    return torch.einsum("ka,lb->klab", dct, dct).reshape(PATCH * PATCH, PATCH, PATCH)


def _band_order() -> torch.Tensor:
    """Each 8×8 DCT band's u + v, band by band as :func:`_dct_basis` numbers them: (64,)."""
    u, v = torch.meshgrid(torch.arange(PATCH), torch.arange(PATCH), indexing="ij")
    return (u + v).reshape(-1)


def _frequencies() -> torch.Tensor:
    """Each 8×8 DCT band's squared angular frequency ω² = (πu/8)² + (πv/8)², in float64: (64,)."""
    u, v = torch.meshgrid(torch.arange(PATCH), torch.arange(PATCH), indexing="ij")
    return ((math.pi * u / PATCH) ** 2 + (math.pi * v / PATCH) ** 2).reshape(-1).double()


def _autocovariance(powers: torch.Tensor) -> torch.Tensor:
    """Band powers (64,) → autocovariance (2·LAG+1)², averaging the patch covariance
    ``Dᵀ diag(P) D`` over all pixel pairs at each lag."""
    n = PATCH
    basis = _dct_basis().reshape(n * n, n * n)
    covariance = (basis.T * powers.double()) @ basis  # (pixels, pixels)
    grid = covariance.reshape(n, n, n, n)
    table = torch.zeros((2 * LAG + 1, 2 * LAG + 1), dtype=torch.float64)
    for dy in range(-(n - 1), n):
        for dx in range(-(n - 1), n):
            ys = range(max(0, -dy), min(n, n - dy))
            xs = range(max(0, -dx), min(n, n - dx))
            values = [grid[y, x, y + dy, x + dx] for y in ys for x in xs]
            table[LAG + dy, LAG + dx] = torch.stack(values).mean()
    return table.float()


def _fitted_spectrum(powers: torch.Tensor, exact: bool = False) -> tuple[torch.Tensor, float]:
    """A low-passed white noise ``σ_w²·exp(−s²·ω²)`` fitted (in logs) to the upper bands'
    powers, where image content is sparse: the model's band powers (64,) and its s (pixels).

    Image content only adds power, so a band reading more than :data:`ABOVE_FIT` (in logs)
    above the fitted line is texture: it is left out and the line fitted again, up to
    :data:`FIT_ROUNDS` times. On the tune split's correlated crops (and a busier set of
    its sources downsampled ×3) this cut the mean |log| error of σ from 0.136 to 0.118
    (foliage 18.0 → 13.5 for 15, brushed metal 16.2 → 14.8; gravel stays at 19.7, its upper
    bands all texture) and the loss against the true σ given from 0.33 to 0.25 dB.

    ``exact``: the spectrum returned is the low-pass family's exact band powers
    (:func:`_lowpass_shapes`, the blur picked on the same bands by least squares in logs), not
    ``exp(−s²·ω²)`` at each band's centre frequency, which, fitted to the upper bands, reads the
    lowest bands of noise blurred by 0.8 px 13–24 % under their power and its variance 12 %
    under; see :func:`_chroma_blurred_alike` for where it is taken. The s returned is the
    centre-frequency fit's either way (the thresholds on it, :data:`CORRELATED_BLUR`, are set on
    that scale: it reads 0.74 for a 0.8 px blur, 0.35 for 0.5)."""
    omega2 = _frequencies()
    upper = _band_order() >= FIT_FROM
    logs = powers.double().clamp_min(1e-12).log()
    used = upper
    level, blur2 = 0.0, 0.0
    for _ in range(FIT_ROUNDS + 1):
        design = torch.stack([torch.ones_like(omega2[used]), -omega2[used]], dim=1)
        solution = torch.linalg.lstsq(design, logs[used][:, None]).solution[:, 0]
        blur2 = float(solution[1].clamp_min(0.0))
        level = float((logs[used] + blur2 * omega2[used]).mean())
        kept = upper & (logs - (level - blur2 * omega2) <= ABOVE_FIT)
        if int(kept.sum()) < MIN_FIT_BANDS or bool((kept == used).all()):
            break
        used = kept
    if not exact:
        return torch.exp(level - blur2 * omega2).float(), math.sqrt(blur2)
    shapes = _lowpass_shapes().log()
    levels = (logs[used] - shapes[:, used]).mean(dim=1)
    misfits = (logs[used] - levels[:, None] - shapes[:, used]).square().sum(dim=1)
    at = int(misfits.argmin())
    return torch.exp(levels[at] + shapes[at]).float(), math.sqrt(blur2)


@functools.cache
def _lowpass_shapes() -> torch.Tensor:
    """The 8×8 DCT band powers (:data:`LOWPASS_STEPS`, 64) of unit-variance white noise blurred
    by a Gaussian of s = 0, :data:`LOWPASS_STEP`, 2 × :data:`LOWPASS_STEP`, … pixels (sampled
    taps out to 4s, as ``scipy.ndimage.gaussian_filter`` blurs): each band's power is read off
    the noise's own 8×8 patch covariance, which is separable in x and y (see
    :func:`_fitted_spectrum`)."""
    dct = dct_matrix(PATCH).double().numpy()
    lags = np.abs(np.subtract.outer(np.arange(PATCH), np.arange(PATCH)))
    rows = []
    for step in range(LOWPASS_STEPS):
        s = step * LOWPASS_STEP
        reach = int(4 * s + 0.5)
        taps = np.exp(-np.arange(-reach, reach + 1) ** 2 / (2 * s * s)) if s > 0 else np.ones(1)
        taps /= taps.sum()
        autocorrelation = np.correlate(taps, taps, mode="full")[2 * reach:]  # lag 0, 1, …
        covariance = np.where(lags < autocorrelation.size,
                              autocorrelation[np.minimum(lags, autocorrelation.size - 1)], 0.0)
        along = np.diag(dct @ (covariance / autocorrelation[0]) @ dct.T)
        rows.append(np.outer(along, along).reshape(-1))
    return torch.from_numpy(np.stack(rows))


def _ac_filters() -> torch.Tensor:
    """The 63 AC basis images of the 8×8 DCT as ``conv2d`` filters: (63, 1, 8, 8)."""
    return _dct_basis()[1:, None]


def _tile_moments(channel: torch.Tensor,
                  clipped: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The sums of the squares and of the fourth powers of one channel's 8×8 DCT AC coefficients
    over its windows (every pixel's, up to :data:`KURTOSIS_WINDOWS` of them; a wider stride
    above), per tile of :data:`KURTOSIS_TILE`² windows (the last row and column of tiles take
    the rest): (tiles, 63) each, and each tile's count of windows (tiles,). Windows with a
    ``clipped`` pixel (H, W) are left out: clipping changes the noise's law."""
    height, width = int(channel.shape[0]), int(channel.shape[1])
    windows = (height - PATCH + 1) * (width - PATCH + 1)
    stride = max(1, math.ceil(math.sqrt(windows / KURTOSIS_WINDOWS)))
    coefficients = F.conv2d(channel[None, None].double(), _ac_filters(), stride=stride)[0]
    rows, cols = int(coefficients.shape[1]), int(coefficients.shape[2])
    tile_rows, tile_cols = max(1, rows // KURTOSIS_TILE), max(1, cols // KURTOSIS_TILE)
    row_tile = (torch.arange(rows) // KURTOSIS_TILE).clamp_max(tile_rows - 1)
    col_tile = (torch.arange(cols) // KURTOSIS_TILE).clamp_max(tile_cols - 1)
    tile = (row_tile[:, None] * tile_cols + col_tile[None, :]).reshape(-1)
    squares = coefficients.reshape(PATCH * PATCH - 1, -1).square_().T  # (windows, 63)
    if clipped is None:
        usable = torch.ones(len(tile), dtype=torch.float64)
    else:
        touched = F.max_pool2d(clipped[None, None].float(), PATCH, stride=stride)[0, 0]
        usable = (touched[:rows, :cols] == 0).double().reshape(-1)
        squares = squares * usable[:, None]
    tiles = tile_rows * tile_cols
    second = torch.zeros((tiles, PATCH * PATCH - 1), dtype=torch.float64).index_add_(0, tile, squares)
    fourth = torch.zeros_like(second).index_add_(0, tile, squares.square())
    counts = torch.zeros(tiles, dtype=torch.float64).index_add_(0, tile, usable)
    return second, fourth, counts


def _kurtosis_level(second: torch.Tensor, fourth: torch.Tensor, counts: torch.Tensor,
                    shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The multiple of a noise spectrum (``shape``, the 63 AC bands' powers) under which the
    bands' excess kurtoses, their noise taken out, best fit one clean kurtosis, from the sums
    of :func:`_tile_moments` (leading dimensions are kept: (..., 63) sums and (...,) counts →
    (...,)), and the share of ``Σ excess`` that fit leaves (0: a perfect fit).

    Gaussian noise adds power to a band but no fourth cumulant, so a band whose power is a
    share ``s`` clean content shows an excess kurtosis of ``s²·(κ − 3)`` for the content's
    own kurtosis κ: ``√(excess)`` is fitted by ``c·s`` (least squares, ``c`` free) over the 63
    bands for each of :data:`KURTOSIS_STEPS` multiples from 0 to the largest the bands' powers
    allow, and the best is returned (Zoran & Weiss, "Scale invariance and noise in natural
    images", ICCV 2009, who read white noise this way; here for a given spectrum). The share
    left is the best fit's squared residual over ``Σ excess`` (the sum of the fitted roots'
    squares; 1 where no band shows any excess)."""
    power = second / counts[..., None]
    root_excess = (fourth / counts[..., None] / power.square() - 3.0).clamp_min(0.0).sqrt()
    highest = (power / shape).min(dim=-1).values
    levels = highest[..., None] * torch.linspace(0.0, 0.999, KURTOSIS_STEPS, dtype=torch.float64)
    share = 1.0 - levels[..., None] * shape / power[..., None, :]  # (..., steps, 63)
    slope = (share * root_excess[..., None, :]).sum(dim=-1) / share.square().sum(dim=-1)
    misfit = (root_excess[..., None, :] - slope[..., None] * share).square().sum(dim=-1)
    best = misfit.argmin(dim=-1, keepdim=True)
    total = root_excess.square().sum(dim=-1)
    left = torch.where(total > 0, misfit.gather(-1, best)[..., 0] / total.clamp_min(1e-300), 1.0)
    return levels.gather(-1, best)[..., 0], left


def kurtosis_bound(channel: torch.Tensor, spectrum: torch.Tensor,
                   clipped: torch.Tensor | None = None) -> float | None:
    """The largest multiple of a noise spectrum that one channel's band kurtoses allow.

    The :data:`KURTOSIS_QUANTILE` quantile of :func:`_kurtosis_level` over
    :data:`KURTOSIS_DRAWS` redraws of the channel's tiles (with replacement; the same redraws
    every run): where the reading is sure the redraws agree; where the noise is a small part of
    every band they scatter and the bound is loose.

    Args:
        channel: (H, W) one channel of the image.
        spectrum: (64,) the noise's band powers read from it (DC first).
        clipped: (H, W) its pixels at 0 or 1; windows holding one are not read.

    Returns:
        The multiple, or None where the kurtoses cannot bound it: fewer than
        :data:`KURTOSIS_LEAST_TILES` tiles to redraw (under 103 pixels a side at one window per
        pixel), a band with no power, or a fit on the whole channel that leaves over
        :data:`KURTOSIS_MISFIT` of ``Σ excess`` (content whose kurtosis differs from band to
        band, as flat shapes with sharp edges: a phantom's crop 0.65, though another read 0.16;
        or nearly Gaussian content: brushed metal, a cell culture 0.5–0.6; busy, engraved and
        printed textures: 0.02–0.14).
    """
    return _kurtosis_reading(channel, spectrum, clipped).bound


class _KurtosisReading(NamedTuple):
    """:func:`kurtosis_bound`'s bound, and whether it has none for the misfit of the whole
    channel's fit (content nearly Gaussian, or flat shapes with sharp edges), not for want of
    tiles or of a band's power."""

    bound: float | None
    misfit: bool


def _kurtosis_reading(channel: torch.Tensor, spectrum: torch.Tensor,
                      clipped: torch.Tensor | None = None) -> _KurtosisReading:
    """:func:`kurtosis_bound`, with why it has no bound (:class:`_KurtosisReading`)."""
    second, fourth, counts = _tile_moments(channel, clipped)
    total = second.sum(dim=0)
    if len(counts) < KURTOSIS_LEAST_TILES or bool((total <= 0.0).any()):
        return _KurtosisReading(None, misfit=False)
    shape = spectrum[1:].double()
    level, left = _kurtosis_level(total, fourth.sum(dim=0), counts.sum(), shape)
    if float(left) > KURTOSIS_MISFIT:
        return _KurtosisReading(None, misfit=True)
    generator = torch.Generator().manual_seed(0)
    draws = torch.randint(0, len(counts), (KURTOSIS_DRAWS, len(counts)), generator=generator)
    drawn = second[draws].sum(dim=1)
    keep = (drawn > 0.0).all(dim=1)  # not a redraw of flat or clipped tiles only
    if not bool(keep.any()):
        return _KurtosisReading(float(level), misfit=False)
    levels, _ = _kurtosis_level(drawn[keep], fourth[draws].sum(dim=1)[keep], counts[draws].sum(dim=1)[keep],
                                shape)
    return _KurtosisReading(float(torch.quantile(levels, KURTOSIS_QUANTILE)), misfit=False)


def _held_to_kurtosis(channel: torch.Tensor, spectrum: torch.Tensor, powers: torch.Tensor,
                      clipped: torch.Tensor) -> torch.Tensor:
    """A grey image's correlated noise spectrum, scaled down where the bands' kurtoses show it
    holds texture: at most :data:`KURTOSIS_SLACK`² times :func:`kurtosis_bound` (unchanged when
    there is none), and at least :data:`KURTOSIS_FLOOR`² of it. The kurtoses are read where no
    pixel is ``clipped`` (H, W). Unchanged too where the lowest bands' ``powers`` (read as
    :func:`_band_powers` reads them) are over :data:`KURTOSIS_LOW_EXCESS` times the spectrum's:
    noise blurred wider than the upper bands can show (see below).

    The spectrum is read from the blocks flattest in each band; on a grey texture busy in
    every block (grass, gravel, engraved coins), that is texture, and demosaic-like grain of
    σ 15 read 19.5–26 there, which took the texture with it (grass came out 2.6–3.5 dB below
    the noisy input). Texture is sparse and Gaussian noise is not: a spectrum read too high
    leaves the content a kurtosis that the bands do not show.

    - **Slack** (σ ×1.3): on the tune split's grey crops (white σ 15/25 and correlated σ 15),
      wherever the spectrum read within 5 % of the truth, the bound sat at most 1.24 times
      under it.
    - **Floor** (σ ×0.6): the bound is a detector more than a level. On grass it is far under
      the floor (the kurtoses are explained almost as well with no noise at all: 0.02–0.16 of
      the power read), and on a coins crop whose reading was right within 11 % it is 0; the
      worst over-read seen was grass's 1.74×, so the level read is cut to 0.6× at most. The coins
      crop at ×0.5: 1.5 dB lost to the unheld reading; at ×0.6 0.7 dB; at ×0.7 two of the
      bench's grass crops fell back to their input.
    - **Measured** on 35 grey crops under correlated σ 15 (tune, held-out, and 14 unseen:
      other windows of the held-out sources and scikit-image's clock, text, page, cell and
      phantom), mean dB over the noisy input before → after: grass (4 crops) −3.03 → +0.54
      (true σ given: +0.63), gravel +0.43 → +1.53, coins (4) +2.15 → +3.08, a printed page
      +2.43 → +3.77; the 24 others unchanged, the bound above their reading or not fitted.

    - **Wide blur**: the hold takes the spectrum's shape as read. Noise blurred by 1.2 px
      leaves the upper bands it is fitted to almost empty: it read 0.3–0.5× the truth on
      brick, photos and text, and the kurtoses, held to that too flat a shape, cut it to the
      floor (−0.5 dB on average on 13 such crops). There the flattest blocks' lowest bands
      (u + v of 1 to 3) hold 6–16 times what the spectrum gives them, against 0.7–5.2 where
      the hold gained (σ 8–25 at 0.6–0.8 px); over 6 there is no hold.
    - **A sweep** of 47 grey crops (the grey tune and held-out ones, the first crop of each
      colour source as luminance, 14 unseen) × 5 kinds of grain, clipped to 0..1 (235 cases,
      35 held), mean dB held − unheld: σ 8 at 0.8 px +1.69 (10 held; below the input 4 → 2),
      σ 15 at 0.6 px +1.22 (10; 3 → 2), σ 25 at 0.8 px +0.82 (8; 1 → 0), σ 15 at 1.2 px −0.19
      (1). Heavy grain, σ 35 at 1 px, reads under the truth (22–27) on grass, gravel and a
      photo, and the hold cut it further: −0.68 (6; down to −2.2 dB, none below the input).
      The kurtoses do not tell it from σ 15 at 0.8 px on the same grass (read 24–26 there).

    White noise is held otherwise, only where the bound is far under it (:func:`_grey_white`:
    its level is the lowest of three readings already, and the bound read white noise 5–15 %
    under the truth, or, under photon noise whose law is not Gaussian, half); and a spectrum
    whose white level the bound fully allows is read white instead of held (:func:`_grey_powers`;
    the figures above were measured before that, but no grain case of theirs is read so: the
    share of its white level is far under :data:`WHITE_OVER_CORRELATED`). Colour is not held:
    its chroma checks the luminance
    (:func:`_luma_at_most_chroma`). A grey image under 103 pixels a side is not held either
    (:data:`KURTOSIS_LEAST_TILES`). Holding a JPEG's white level so would not work either: JPEG's
    zeros make its bands peaky whatever the content, and the bound reads under the noise (on the
    tune split's grey crops σ 5 at q90 read 2.8–4.3, σ 10 at q75 0 where it read at all)."""
    if _too_wide_to_hold(powers, spectrum):
        return spectrum
    allowed = _kurtosis_allows(channel, spectrum, clipped)
    if allowed is None:
        return spectrum
    return spectrum * min(1.0, max(allowed, KURTOSIS_FLOOR**2))


def _kurtosis_allows(channel: torch.Tensor, spectrum: torch.Tensor, clipped: torch.Tensor) -> float | None:
    """The share of a noise ``spectrum`` (in power) one channel's band kurtoses allow:
    :data:`KURTOSIS_SLACK`² × :func:`kurtosis_bound`, read where no pixel is ``clipped``
    (H, W); None without a bound. :func:`_held_to_kurtosis` holds the spectrum to it, between
    :data:`KURTOSIS_FLOOR`² and 1."""
    bound = kurtosis_bound(channel, spectrum, clipped if bool(clipped.any()) else None)
    return None if bound is None else KURTOSIS_SLACK**2 * bound


def _lowest_excess(powers: torch.Tensor, spectrum: torch.Tensor) -> float:
    """How many times what the fitted ``spectrum`` gives them the flattest blocks' lowest
    bands (u + v of 1 to 3; ``powers``, as :func:`_band_powers` reads them) hold (the median
    over those bands)."""
    order = _band_order()
    lowest = (order >= 1) & (order <= 3)
    return float((powers[lowest] / spectrum[lowest]).median())


def _too_wide_to_hold(powers: torch.Tensor, spectrum: torch.Tensor) -> bool:
    """Whether the flattest blocks' lowest bands hold over :data:`KURTOSIS_LOW_EXCESS` times
    what the fitted ``spectrum`` gives them (:func:`_lowest_excess`): noise blurred wider than
    the upper bands can show, or content (:func:`_held_to_kurtosis`, :func:`_grey_powers`)."""
    return _lowest_excess(powers, spectrum) > KURTOSIS_LOW_EXCESS


def _content_over_grain(channel: torch.Tensor, spectrum: torch.Tensor, powers: torch.Tensor,
                        clipped: torch.Tensor) -> bool:
    """Whether a grey low-pass reading is content rather than grain (:func:`_grey_powers`): its
    lowest bands too wide to hold, or at least :data:`CONTENT_EXCESS` times what its shape gives
    them while the kurtoses allow it no more than :func:`_held_to_kurtosis`'s floor."""
    excess = _lowest_excess(powers, spectrum)
    if excess > KURTOSIS_LOW_EXCESS:
        return True
    if excess < CONTENT_EXCESS:
        return False
    allowed = _kurtosis_allows(channel, spectrum, clipped)
    return allowed is not None and allowed < KURTOSIS_FLOOR**2


def pca_level(channel: torch.Tensor, shape: torch.Tensor | None = None) -> float:
    """The noise variance of one channel by the eigenvalues of its 7×7 patches' covariance
    (Chen, Zhu & Heng, "An efficient statistical method for image noise level estimation",
    ICCV 2015): image content takes the largest eigenvalues; drop them one by one until the
    rest are at least as many above their mean as below it, and read the mean.

    ``shape``: a (49, 49) noise covariance of unit level to whiten the patches with first
    (correlated noise); white when None. Returns the variance (0..1² units)."""
    covariance = _patch_covariance(channel.double())
    if shape is not None:
        values, vectors = torch.linalg.eigh(shape.double())
        whitening = (vectors * values.clamp_min(1e-6).rsqrt()) @ vectors.T
        covariance = whitening.T @ covariance @ whitening
    return level_of_covariance(covariance)


def level_of_covariance(covariance: torch.Tensor) -> float:
    """The noise variance read from a patch covariance by :func:`pca_level`'s rule."""
    eigen = torch.linalg.eigvalsh(covariance).flip(0).clamp_min(0.0)  # largest first
    for first in range(len(eigen)):
        tail = eigen[first:]
        mean = tail.mean()
        if int((tail > mean).sum()) >= int((tail < mean).sum()):
            return float(mean)
    return float(eigen[-1])


def _patch_covariance(channel: torch.Tensor) -> torch.Tensor:
    """The (49, 49) covariance of a channel's 7×7 patches, taken every :func:`_pca_stride`
    pixels, accumulated over bands of :data:`PCA_ROWS` rows of patches so that the patches
    take a few tens of MB at any size (all of a 2048² channel's at once took 1.6 GB).
    The channel's mean is taken out first: the covariance is the same, and the sums of
    products stay small."""
    side = PCA_PATCH
    stride = _pca_stride(channel)
    centred = channel - channel.mean()
    rows = (int(channel.shape[0]) - side) // stride + 1
    total = torch.zeros(side * side, dtype=torch.float64)
    products = torch.zeros((side * side, side * side), dtype=torch.float64)
    count = 0
    for first in range(0, rows, PCA_ROWS):
        last = min(first + PCA_ROWS, rows)
        band = centred[first * stride: (last - 1) * stride + side]
        patches = F.unfold(band[None, None], side, stride=stride)[0].T  # (n, 49)
        total += patches.sum(dim=0)
        products += patches.T @ patches
        count += int(patches.shape[0])
    mean = total / count
    return (products - count * torch.outer(mean, mean)) / max(count - 1, 1)


def held_to_patch_variance(image: np.ndarray | torch.Tensor, model: NoiseModel) -> NoiseModel:
    """``model`` held, channel by channel of its opponent space, under what an (H, W, C) array's
    or (1, C, H, W) tensor's own 7×7 patches allow: noise independent of the image adds its
    covariance to theirs, so in no direction can a patch vary less than its noise does. The
    bound is the least eigenvalue of the patches' covariance whitened by the model's (in the
    directions holding at least :data:`PATCH_BOUND_DIRECTIONS` of the model's strongest
    variance: a demosaic-like model read at the right level overstates its weakest,
    highest-frequency directions), over what a sample of that many patches of pure noise reads
    there (Marchenko–Pastur's ``(1 − √(d/n))²``: 0.83–0.92 for a 128² crop's). A channel read
    over 1/:data:`PATCH_BOUND_SHORT` times its bound is lowered to the bound (still an upper
    bound on its noise) and the model counts as a guess (``measured`` False); closer readings
    are left alone (clipping at black or white, and the model's shape, move the bound by up to
    1.5×: white σ 15 on the held-out star field 0.63–0.66, on photos 0.74–0.76).

    What it catches is the chroma a colour model took from a luminance that read texture as
    noise (:func:`_chroma_at_least_luma_like`), or read from fur, stone and weave: on one
    128² crop per source of both splits under white σ 1–5 (not saved as JPEG) it lowered 17
    readings, each chroma to 0.01–0.25 of the model's, and each result gained (+0.4 to +4.1
    dB; skin under σ 5 −3.71 → −3.24 dB against the input, fabric under σ 3 −2.49 → +1.28,
    a cat's fur under σ 1 −11.65 → −8.98), while white σ 5 and 15, demosaic-like σ 15 and
    photon noise came out unchanged on every crop. The luminance of such crops reads
    texture a second-order bound cannot refuse (its variance is as large in every
    direction), so they stay under the input. Not for a JPEG, whose quantisation removes
    chroma variance the model's 4:2:0 blotches keep (:func:`_chroma_at_least_luma_like`)."""
    tensor = image_tensor(image) if isinstance(image, np.ndarray) else image.float()
    space = model.to_space(tensor)[0].double()
    factors = []
    for c in range(int(space.shape[0])):
        factors.append(_patch_bound_factor(space[c], model.patch_covariance(PCA_PATCH, c).double()))
    if all(factor >= 1.0 for factor in factors):
        return model
    scale = torch.tensor(factors, dtype=model.autocovariance.dtype).sqrt()
    table = model.autocovariance * scale[:, None, None, None] * scale[None, :, None, None]
    return NoiseModel(table, measured=False)


def _patch_bound_factor(channel: torch.Tensor, noise: torch.Tensor) -> float:
    """The factor (≤ 1) a channel's noise patch covariance ``noise`` (49, 49) is scaled by
    in :func:`held_to_patch_variance`: 1 unless it reads over 1/:data:`PATCH_BOUND_SHORT`
    times the channel's bound, else the bound's share of it."""
    values, vectors = torch.linalg.eigh(noise)
    strongest = float(values.max())
    if strongest <= 0.0:
        return 1.0
    kept = values >= PATCH_BOUND_DIRECTIONS * strongest
    dims = int(kept.sum())
    stride = _pca_stride(channel)
    rows, cols = ((int(side) - PCA_PATCH) // stride + 1 for side in channel.shape)
    count = rows * cols
    if count < PATCH_BOUND_LEAST * dims:  # too few patches for the bound to mean much
        return 1.0
    whitening = vectors[:, kept] * values[kept].rsqrt()
    least = float(torch.linalg.eigvalsh(whitening.T @ _patch_covariance(channel) @ whitening)[0])
    allowed = max(least, 0.0) / (1.0 - math.sqrt(dims / count)) ** 2
    return allowed if allowed < PATCH_BOUND_SHORT else 1.0


def _pca_stride(channel: torch.Tensor) -> int:
    """Every pixel's patch up to :data:`PCA_MAX_PATCHES` patches (1024² pixels); a wider
    stride above, so that a 4096² texture reads about as many patches as a 1024² one (its
    noise level is read as well from a million patches, and the time stays under a second
    per channel)."""
    patches = (int(channel.shape[0]) - PCA_PATCH + 1) * (int(channel.shape[1]) - PCA_PATCH + 1)
    return max(1, math.ceil(math.sqrt(patches / PCA_MAX_PATCHES)))


def _window_corner(image: torch.Tensor) -> tuple[int, int]:
    """The top-left pixel of a (…, H, W) image's :func:`_jpeg_window`."""
    height, width = int(image.shape[-2]), int(image.shape[-1])
    return max((height - JPEG_WINDOW) // 2, 0), max((width - JPEG_WINDOW) // 2, 0)


def _jpeg_window(image: torch.Tensor) -> torch.Tensor:
    """A (1, C, H, W) image's (0..1) central window of at most :data:`JPEG_WINDOW`² pixels, every
    channel, in 8-bit levels: (C, h, w), where the JPEG readings look."""
    top, left = _window_corner(image)
    return image[0, :, top:top + JPEG_WINDOW, left:left + JPEG_WINDOW].double() * 255.0


def _mixed(weights: tuple[float, ...], window: torch.Tensor) -> torch.Tensor:
    """One plane of a :func:`_jpeg_window` mixed from its R, G and B (JPEG's Y, Cb or Cr)."""
    return torch.einsum("c,chw->hw", torch.tensor(weights, dtype=torch.float64), window[:3])


def _luma_and_bounds(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """JPEG's luma of (C, h, w) pixels in 8-bit levels (the grey of one channel, or of a grey
    with an alpha), and where some colour channel, not the alpha, is at 0 or 255: (h, w) in
    float64, 1 there."""
    colour = pixels[:1] if pixels.shape[0] < 3 else pixels[:3]
    luma = colour[0] if colour.shape[0] < 3 else _mixed(JPEG_LUMA, colour)
    return luma, ((colour <= 0.5) | (colour >= 254.5)).any(dim=0).double()


def _clipped_blocks(at_bound: torch.Tensor) -> torch.Tensor:
    """Which 8×8 blocks of a (h, w) map of pixels at a bound (:func:`_luma_and_bounds`, h and w
    multiples of 8) have over :data:`JPEG_CLIPPED_PIXELS` of them: (h // 8, w // 8), bool."""
    return F.avg_pool2d(at_bound[None], PATCH)[0] * PATCH**2 > JPEG_CLIPPED_PIXELS


def _block_coefficients(plane: torch.Tensor, rows: int, cols: int, matrix: torch.Tensor) -> torch.Tensor:
    """The 8×8 DCT coefficients (``matrix``: :func:`.dct_filters.dct_matrix` in float64) of the
    top-left ``rows`` × ``cols`` blocks of a plane: (rows, cols, 8, 8)."""
    blocks = plane[:rows * PATCH, :cols * PATCH].reshape(rows, PATCH, cols, PATCH).transpose(1, 2)
    return matrix @ blocks @ matrix.T


def _lowest_bands() -> torch.Tensor:
    """The five lowest AC bands, u + v of 1 or 2: a (64,) mask."""
    order = _band_order()
    return (order >= 1) & (order <= 2)


class _LumaBlocks(NamedTuple):
    """:func:`_luma_blocks`' reading: the blocks' coefficients (blocks, 64), which blocks are
    clipped (blocks,), the share of zeros at each of the 64 offsets, and JPEG's grid in the
    whole image: the (row, column) of its first whole block's top-left pixel, each 0–7."""

    coefficients: torch.Tensor
    clipped: torch.Tensor
    shares: list[float]
    grid: tuple[int, int]


def _luma_blocks(image: torch.Tensor) -> _LumaBlocks | None:
    """A (1, C, H, W) image's (0..1) JPEG luma on a central window of at most :data:`JPEG_WINDOW`²
    pixels, in 8-bit levels, cut into 8×8 blocks at the block-grid offset where the most of their
    coefficients with u + v ≥ :data:`JPEG_FROM_BAND` are under :data:`JPEG_ZERO`: those blocks'
    DCT coefficients (blocks, 64), whether each block has over :data:`JPEG_CLIPPED_PIXELS` pixels
    at 0 or 255 in some colour channel (blocks,), that share at each of the 64 offsets, and where
    the grid lies in the whole image (:class:`_LumaBlocks`). None for an image under
    :data:`SMALLEST` pixels a side."""
    if min(int(image.shape[-2]), int(image.shape[-1])) < SMALLEST:
        return None
    luma, at_bound = _luma_and_bounds(_jpeg_window(image))
    matrix = dct_matrix(PATCH).double()
    upper = (_band_order() >= JPEG_FROM_BAND).reshape(PATCH, PATCH)
    shares: list[float] = []
    best: tuple[torch.Tensor, torch.Tensor, tuple[int, int]] | None = None
    for dy in range(PATCH):
        for dx in range(PATCH):
            part = luma[dy:, dx:]
            rows, cols = part.shape[0] // PATCH, part.shape[1] // PATCH
            coefficients = _block_coefficients(part, rows, cols, matrix)
            share = float((coefficients[..., upper].abs() < JPEG_ZERO).double().mean())
            if not shares or share > max(shares):
                clipped = _clipped_blocks(at_bound[dy:dy + rows * PATCH, dx:dx + cols * PATCH]).reshape(-1)
                best = coefficients.reshape(-1, PATCH * PATCH), clipped, (dy, dx)
            shares.append(share)
    assert best is not None
    top, left = _window_corner(image)
    grid = ((top + best[2][0]) % PATCH, (left + best[2][1]) % PATCH)
    return _LumaBlocks(best[0], best[1], shares, grid)


def jpeg_grid(image: torch.Tensor) -> float:
    """How strongly a (1, C, H, W) image (0..1) shows JPEG's quantisation: the share of its luma's
    8×8 DCT coefficients with u + v ≥ :data:`JPEG_FROM_BAND` that are under :data:`JPEG_ZERO`
    8-bit levels, at the block-grid offset where that share is highest, less its median over the
    other 63 offsets (on a central window of at most :data:`JPEG_WINDOW`² pixels). JPEG rounds
    those coefficients to multiples of its quantisation step, most of them to 0, on its own grid
    only; noise and most texture look alike at every offset (art drawn on an 8-pixel grid, such
    as pixel art scaled ×8 or a checker of 8-pixel squares, does not: 0.5–0.9 without noise).
    0 for an image under :data:`SMALLEST` pixels a side.
    """
    found = _luma_blocks(image)
    if found is None:
        return 0.0
    shares = found.shares
    best = max(shares)
    others = sorted(shares)[:-1]
    return best - others[len(others) // 2]


def jpeg_step(image: torch.Tensor) -> float:
    """JPEG's quantisation step in the lowest luma bands of a (1, C, H, W) image (0..1) that
    looks saved as JPEG, in 0..1 units. In each of the five AC bands with u + v ≤ 2, on the grid
    :func:`jpeg_grid` finds, the step is the largest ``q`` on whose multiples the band's nonzero
    coefficients lie (the mean of ``cos(2π·c/q)`` at least :data:`JPEG_STEP_FIT` times what the
    decoder's rounding leaves of a perfect fit, :func:`_step_fit`: 0.27 at q = 2, 0.38 at 3,
    0.43 at 4), and at most 1.25 times the 0.1 quantile of their magnitudes (a step much larger
    than the coefficients fits them all). The band with the most nonzero coefficients among
    those on a lattice gives it (bands with under half the most any band has are not read).
    Blocks with a pixel
    at 0 or 255 in some channel are left out, clipping after the decoding having moved them off
    the multiples, unless that leaves no band to read (a dark texture under noise: every
    block). 0 where no band has :data:`JPEG_STEP_LEAST` nonzero coefficients, or the image is
    too small.

    Pillow's luma steps there are 10–14 at q50, 5–7 at q75, 3–4 at q85, 2 at q90 and 1 at q95
    (its table scaled by quality). The luma read back from a colour JPEG was rounded twice (Y,
    then R, G and B), and a step of 2 fit at 0.23–0.58 on the tune split's colour crops under
    σ 5 at q90 (grey 0.62–0.71): held to 0.5 for every step, 22 of those 36 crops read 1, and the
    smooth ones read their noise far too low (retina 3.1 for 5, 3.8–4.4 dB under CBM3D). Bands
    on no lattice read 1. Steps over :data:`JPEG_STEP_MAX` (under about q10) read a divisor."""
    found = _luma_blocks(image)
    return 0.0 if found is None else _step_of_blocks(found.coefficients, found.clipped)


def _step_of_blocks(coefficients: torch.Tensor, clipped: torch.Tensor) -> float:
    """:func:`jpeg_step` of :func:`_luma_blocks`' coefficients and clipped blocks."""
    step = _step_of_lowest_bands(coefficients[~clipped])
    return (step or _step_of_lowest_bands(coefficients)) / 255.0


@dataclass(frozen=True)
class _JpegReading:
    """What a JPEG's luma blocks tell of its noise (see :func:`_jpeg_reading`)."""

    step: float = 0.0
    correlated: torch.Tensor | None = None
    gaussian: torch.Tensor | None = None
    zeros: float | None = None


def _jpeg_reading(image: torch.Tensor) -> _JpegReading:
    """A JPEG's quantisation step (:func:`jpeg_step`, in 0..1 units of JPEG's luma), its
    correlated noise's spectrum (:func:`jpeg_correlated_spectrum`, or None), the lowest
    bands' Gaussian low-pass (:func:`jpeg_gaussian_spectrum`, or None) in 0..1 units of the
    opponent luminance, and the bound its zeros set on white noise (:func:`jpeg_zeros_level`,
    or None) in 0..1 units of the opponent channels: read on JPEG's luma and divided by the
    luma's variance gain for noise independent between R, G and B (``Σ JPEG_LUMA²``, 0.45; 1
    for grey).

    The step stays in the luma's units: a luma error ``e`` is ``(e, e, e)`` in RGB, a variance
    of 3e² in the opponent luminance, so a colour image's step² counts about a third of what it
    would there. :data:`JPEG_IMMERKAER_SLACK` and the step² added were tuned so (in the
    luminance's units, colour crops under σ 10 at q75 were read higher than their best)."""
    found = _luma_blocks(image)
    if found is None:
        return _JpegReading()
    coefficients, clipped = found.coefficients, found.clipped
    kept = coefficients[~clipped]
    read = kept if kept.shape[0] >= JPEG_KURTOSIS_LEAST_BLOCKS else coefficients
    gain = 255.0**2 * (1.0 if image.shape[1] < 3 else sum(w * w for w in JPEG_LUMA))
    spectra = [None if s is None else (s / gain).float()
               for s in (jpeg_correlated_spectrum(read), jpeg_gaussian_spectrum(read))]
    zeros = jpeg_zeros_level(image, found)
    return _JpegReading(_step_of_blocks(coefficients, clipped), spectra[0], spectra[1],
                        None if zeros is None else zeros / math.sqrt(gain))


def _lattice_step(nonzero: torch.Tensor, least: int, most: int) -> int | None:
    """The step ``q`` from ``least`` to ``most`` on whose multiples a band's nonzero coefficients
    (8-bit levels) lie: the mean of ``cos(2π·c/q)`` at least :func:`_step_fit`, and among the
    steps that pass, the best fit of those near the largest (q + 1 fits coefficients at ±q
    nearly as well; a divisor of the step fits its multiples too). None where none passes."""
    fits = {q: float(torch.cos(2 * math.pi * nonzero / q).mean()) for q in range(least, most + 1)}
    passing = [q for q, fit in fits.items() if fit >= _step_fit(q)]
    if not passing:
        return None
    return max((q for q in passing if q >= 0.75 * max(passing)), key=lambda q: (fits[q], q))


def _band_step(nonzero: torch.Tensor) -> int | None:
    """The quantisation step of one band from its nonzero coefficients (8-bit levels), at least
    :data:`JPEG_ZEROS_LEAST_STEP`; None where they lie on no lattice.

    The lattice (:func:`_lattice_step`) is looked for up to 1.25 times their median magnitude, not
    a low quantile as in :func:`_step_of_lowest_bands`: in a band JPEG zeroed nearly everywhere,
    a few stray coefficients at a divisor of the step (6 where it is 18) would read the step, and
    so the bound, three times too low. The step is at least the least magnitude that occurs (its
    0.05 quantile, rounded to the lattice's multiples): a JPEG saved again on the same grid at a
    finer step holds the first save's coarser lattice and zeros (σ 10 saved at q75 then q90 read
    the second step, and its bound was about half the noise's). (A band whose content puts under
    5 % of its coefficients at the first multiples reads a multiple of its step: it has few zeros,
    and its bound is far above the least band's.) Steps are looked for up to
    :data:`JPEG_ZEROS_STEP_MAX`."""
    most = min(JPEG_ZEROS_STEP_MAX, int(1.25 * float(nonzero.abs().median())))
    lattice = _lattice_step(nonzero, JPEG_ZEROS_LEAST_STEP, most)
    if lattice is None:
        return None
    least = float(torch.quantile(nonzero.abs(), 0.05))
    return lattice * max(1, round(least / lattice))  # on the lattice read


def _band_steps(coefficients: torch.Tensor) -> dict[int, int]:
    """:func:`_band_step` of each AC band with at least :data:`JPEG_ZEROS_LEAST_NONZERO` nonzero
    coefficients (blocks, 64): band → step."""
    steps: dict[int, int] = {}
    for band in range(1, PATCH * PATCH):
        column = coefficients[:, band].double()
        nonzero = column[column.abs() > JPEG_STEP_NONZERO]
        if nonzero.numel() >= JPEG_ZEROS_LEAST_NONZERO:
            step = _band_step(nonzero)
            if step is not None:
                steps[band] = step
    return steps


def _tile_zeros(image: torch.Tensor, grid: tuple[int, int], bands: torch.Tensor,
                steps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per tile of :data:`JPEG_ZEROS_TILE`² blocks of a (1, C, H, W) image's (0..1) JPEG luma on
    its ``grid``: how many unclipped blocks have each of ``bands``' coefficients under half its
    ``steps`` (tiles, bands), and how many unclipped blocks it has (tiles,). Read a strip of tiles
    at a time, so a large image costs no more than a strip's blocks in memory, and at most
    :data:`JPEG_ZEROS_STRIPS` strips, evenly spaced (a 2048² colour image's 32 took 0.6 s)."""
    top, left = grid
    rows, cols = (int(image.shape[-2]) - top) // PATCH, (int(image.shape[-1]) - left) // PATCH
    side = JPEG_ZEROS_TILE
    across = -(-cols // side)
    matrix = dct_matrix(PATCH).double()
    zeros, counts = [], []
    strips = list(range(0, rows, side))
    if len(strips) > JPEG_ZEROS_STRIPS:  # evenly spaced strips of a tall image
        total = len(strips)
        strips = [strips[(2 * i + 1) * total // (2 * JPEG_ZEROS_STRIPS)] for i in range(JPEG_ZEROS_STRIPS)]
    for first in strips:
        height = min(side, rows - first)
        luma, at_bound = _luma_and_bounds(image[0, :, top + first * PATCH:top + (first + height) * PATCH,
                                                left:left + cols * PATCH].double() * 255.0)
        kept = ~_clipped_blocks(at_bound)  # (height, cols)
        coefficients = _block_coefficients(luma, height, cols, matrix).reshape(height, cols, -1)[..., bands]
        zero = (coefficients.abs() < steps / 2) & kept[..., None]
        pad = across * side - cols
        zero = F.pad(zero.double(), (0, 0, 0, pad)).reshape(height, across, side, -1).sum(dim=(0, 2))
        count = F.pad(kept.double(), (0, pad)).reshape(height, across, side).sum(dim=(0, 2))
        zeros.append(zero)
        counts.append(count)
    return torch.cat(zeros), torch.cat(counts)


def jpeg_zeros_level(image: torch.Tensor, blocks: _LumaBlocks) -> float | None:
    """The most white noise a JPEG's zeros allow, in 8-bit levels of its luma, for a (1, C, H, W)
    image (0..1) and its :func:`_luma_blocks`; None where they cannot tell.

    JPEG rounds a band's coefficient to 0 where it was under half the band's step ``Q``. White
    noise of σ leaves ``erf(Q / (2√2·σ))`` of a band's coefficients there, and content only lowers
    that share (noise symmetric and unimodal about 0 plus anything independent of it is further
    from 0 than the noise alone), so a share ``z`` of zeros bounds σ by ``Q / (2√2·erfinv(z))``.

    - The steps are read on the unclipped blocks of the JPEG window (:func:`_band_steps`; at
      least :data:`JPEG_KURTOSIS_LEAST_BLOCKS` of them, else None).
    - The zeros are counted per tile of :data:`JPEG_ZEROS_TILE`² blocks over the whole image, or
      over :data:`JPEG_ZEROS_STRIPS` evenly spaced strips of tiles of a taller one (clipped blocks
      left out, tiles with under :data:`JPEG_ZEROS_TILE_LEAST` unclipped blocks not read): noise
      in part of an image (a composite, an atlas's clean padding) would mix its blocks' shares
      with the clean ones' and read far under its level.
    - A tile's bound is the least of its bands', each with ``z`` at its one-sided Clopper–Pearson
      lower bound at :data:`JPEG_ZEROS_CONFIDENCE`. The least of some fifty bands is not a bound
      at that confidence (on a 64² crop under σ 20 at q85 it read 0.62–0.99 of σ over 12 draws);
      the level is held to :data:`JPEG_ZEROS_ABOVE` times it, not to it. Held to that
      confidence over all the bands (Bonferroni), the tune split's σ 5 at q90 read about a third
      higher and the hold did next to nothing.
    - The image's is the :data:`JPEG_ZEROS_TILE_QUANTILE` quantile of its tiles' bounds (a tile's
      own, the next above it where the quantile falls between two). Counted over the whole image
      instead, σ 20 at q85 on half of a 384² crop read 6.5–8.5, and a level read right (19–20)
      was held to 9–11; per tile it is not held (nor with a clean centre).

    A busy texture's fine detail, which the PCA level reads as noise, is mostly zeroed with the
    noise in the finest bands, so they still hold the level near the noise's. It reads low where
    the noise is not Gaussian-like (impulses), or where an encoder zeroed more than rounding does
    (a dead zone: 0.62 of σ for one of 0.3 steps), and for noise that is not white (see
    :func:`estimate_noise`, which holds only a level read white)."""
    kept = blocks.coefficients[~blocks.clipped]
    if kept.shape[0] < JPEG_KURTOSIS_LEAST_BLOCKS:
        return None
    steps = _band_steps(kept)
    if not steps:
        return None
    bands = torch.tensor(sorted(steps))
    step = torch.tensor([steps[band] for band in sorted(steps)], dtype=torch.float64)
    zeros, counts = _tile_zeros(image, blocks.grid, bands, step)
    read = counts >= JPEG_ZEROS_TILE_LEAST
    if not bool(read.any()):
        return None
    zeroed, kept_blocks = zeros[read].numpy(), counts[read].numpy()[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        # NaN where a band has no zeros: no bound from it
        share = beta.ppf(1.0 - JPEG_ZEROS_CONFIDENCE, zeroed, kept_blocks - zeroed + 1)
        bound = step.numpy() / (2.0 * math.sqrt(2.0) * erfinv(np.nan_to_num(share, nan=0.0)))
    tiles = np.minimum(bound.min(axis=1), NO_BOUND)  # a tile with no band to bound it: NO_BOUND
    level = float(np.quantile(tiles, JPEG_ZEROS_TILE_QUANTILE, method="higher"))  # a tile's, not a blend
    return level if level < NO_BOUND else None


def _step_fit(step: int) -> float:
    """The least mean ``cos(2π·c/q)`` of coefficients on multiples of ``q``: :data:`JPEG_STEP_FIT`
    times what the decoder's rounding (:data:`JPEG_ROUNDING`) leaves of a perfect fit."""
    return JPEG_STEP_FIT * math.exp(-2.0 * (math.pi * JPEG_ROUNDING / step) ** 2)


def _step_of_lowest_bands(coefficients: torch.Tensor) -> int:
    """:func:`jpeg_step` on 8×8 blocks' DCT coefficients (blocks, 64) in 8-bit levels: the step of
    the band with the most nonzero coefficients among those on a lattice with at least half the
    most any band has, else 1 (bands on no lattice), else 0 (no band to read)."""
    lowest = torch.nonzero(_lowest_bands()).flatten().tolist()
    columns = [coefficients[:, band] for band in lowest]
    nonzeros = [column[column.abs() > JPEG_STEP_NONZERO] for column in columns]
    most = max((int(nonzero.numel()) for nonzero in nonzeros), default=0)
    best, step = (False, 0), 0
    for nonzero in nonzeros:
        count = int(nonzero.numel())
        if count < max(JPEG_STEP_LEAST, 0.5 * most):
            continue
        smallest = float(torch.quantile(nonzero.abs(), 0.1))  # the step, where the band is on a grid
        lattice = _lattice_step(nonzero, 2, min(JPEG_STEP_MAX, int(1.25 * smallest)))
        if (lattice is not None, count) > best:
            best, step = (lattice is not None, count), lattice or 1
    return step


def _readable_lowest_bands(
        coefficients: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The lowest bands a JPEG's camera noise is read from, of its luma blocks' coefficients
    (blocks, 64): those with u + v from 1 to :data:`JPEG_KURTOSIS_TOP` that JPEG zeroed at most
    :data:`JPEG_KURTOSIS_ZEROED` of, as a mask (64,), their coefficients (blocks, bands) and mean
    powers (bands,) in float64; None under :data:`JPEG_KURTOSIS_LEAST_BLOCKS` blocks or
    :data:`MIN_FIT_BANDS` bands, or where a band holds no power."""
    order = _band_order()
    zeroed = (coefficients.abs() < JPEG_ZERO).double().mean(dim=0)
    bands = (order >= 1) & (order <= JPEG_KURTOSIS_TOP) & (zeroed <= JPEG_KURTOSIS_ZEROED)
    values = coefficients[:, bands].double()
    power = values.square().mean(dim=0)
    if (values.shape[0] < JPEG_KURTOSIS_LEAST_BLOCKS or int(bands.sum()) < MIN_FIT_BANDS
            or bool((power <= 0).any())):
        return None
    return bands, values, power


def jpeg_correlated_spectrum(coefficients: torch.Tensor) -> torch.Tensor | None:
    """The spectrum (64,) of correlated noise under a JPEG, in squared 8-bit levels of its luma,
    from its blocks' DCT coefficients on JPEG's grid (blocks, 64; :func:`_luma_blocks`), or None
    where it reads no such noise.

    JPEG keeps the lowest bands, where its steps are fine against the noise, and zeroes the
    upper ones the spectrum is otherwise fitted to (:func:`_fitted_spectrum`). In the bands with
    u + v from 1 to :data:`JPEG_KURTOSIS_TOP`, Gaussian noise adds power but no fourth cumulant,
    and sparse content has about the same excess kurtosis κ in each band (Zoran & Weiss, as in
    :func:`kurtosis_bound`), so a band of power ``P`` over noise ``N`` shows
    ``√excess = √κ·(1 − N/P)``. Fitted for a low-passed white noise ``N = a·exp(−s²·ω²)`` over
    blurs ``s`` of 0 to 1.6 pixels and 200 levels ``a`` each, with ``√κ`` by least squares,
    on the bands JPEG zeroed at most :data:`JPEG_KURTOSIS_ZEROED` of (a coarse step against the
    noise raises a band's kurtosis as content would; at least :data:`MIN_FIT_BANDS` of them):
    the spectrum when the fit leaves at most :data:`JPEG_KURTOSIS_MISFIT` of Σ √excess², the
    content is sparse (``√κ`` ≥ :data:`JPEG_KURTOSIS_CONTENT`) and the blur is a camera's
    (:data:`JPEG_KURTOSIS_BLURS`); None otherwise (smooth or nearly Gaussian content fits
    badly). White noise mostly reads blurs under 0.5, but not always: light noise on busy
    photos read 0.5–1.1 at 7.6–9.4 for σ 5, which is why :func:`_channel_powers` takes this
    reading only well above the white one (:data:`JPEG_CORRELATED_ABOVE`).
    """
    found = _readable_lowest_bands(coefficients)
    if found is None:
        return None
    bands, values, power = found
    root = (values.pow(4).mean(dim=0) / power.square() - 3.0).clamp_min(0.0).sqrt()
    total = float(root.square().sum())
    if total <= 0.0:
        return None
    omega2 = _frequencies()
    best: tuple[float, float, float, float] | None = None
    for blur in [tenth / 10 for tenth in range(17)]:
        shape = torch.exp(-blur * blur * omega2)
        share = shape[bands] / power  # noise share per unit level
        levels = torch.linspace(0.0, float(1.0 / share.max()), 200, dtype=torch.float64)
        x = 1.0 - levels[:, None] * share[None]  # (levels, bands)
        contents = ((x * root).sum(dim=1) / x.square().sum(dim=1).clamp_min(1e-12)).clamp_min(0.0)
        misfits = (root - contents[:, None] * x).square().sum(dim=1) / total
        at = int(misfits.argmin())
        if best is None or float(misfits[at]) < best[0]:
            best = float(misfits[at]), blur, float(levels[at]), float(contents[at])
    assert best is not None
    misfit, blur, level, content = best
    low, high = JPEG_KURTOSIS_BLURS
    if misfit > JPEG_KURTOSIS_MISFIT or content < JPEG_KURTOSIS_CONTENT or not low <= blur <= high:
        return None
    return level * torch.exp(-blur * blur * omega2)


def jpeg_gaussian_spectrum(coefficients: torch.Tensor) -> torch.Tensor | None:
    """The Gaussian low-pass (64,) that the lowest bands of a JPEG's luma blocks (blocks, 64, on
    JPEG's grid; squared 8-bit levels) show where they hold Gaussian noise and little else, or
    None: a camera's noise strong enough to hide smooth content, which the kurtosis fit
    (:func:`jpeg_correlated_spectrum`) cannot read, having no sparse content to fit.

    On the bands :func:`jpeg_correlated_spectrum` reads (u + v from 1 to
    :data:`JPEG_KURTOSIS_TOP`, JPEG zeroing at most :data:`JPEG_KURTOSIS_ZEROED` of them), the
    mean |excess kurtosis| of those with u + v of 2 or more is at most
    :data:`JPEG_GAUSSIAN_EXCESS` (stationary Gaussian; the two with u + v of 1 hold most of a
    smooth image's own content, craters and shading: with them, the moon crop under the same
    camera noise drawn eight times read 0.28–0.58, and half the draws were missed; without,
    0.19–0.39, where grass under it or white σ 20 reads 0.75–0.83 and gravel 0.52–0.78), and
    their log powers fit ``log a − s²·ω²`` to an RMS misfit of at most
    :data:`JPEG_GAUSSIAN_MISFIT` with a camera's blur ``s`` (:data:`JPEG_KURTOSIS_BLURS`), and
    at most :data:`JPEG_GAUSSIAN_OVER_POWER_LAW` over their misfit to a power law
    ``c − β·log ω``, natural content's spectrum (Gaussian fractal "cloud" textures with β of 1–1.5,
    noise-free at q90, fit the low-pass at 0.35–0.57 and the power law at 0.15–0.16; without
    this test a β 1 one was read as noise of 24, where its white reading is 15); the spectrum is
    then ``a·exp(−s²·ω²)``. Content itself shaped so (noise blurred by about a pixel, value noise
    with 2 px cells) is read as noise, as on an image not saved as JPEG
    (:func:`_fitted_spectrum`), but higher: 20–46 under JPEG where the same textures saved as PNG
    read 17–30 (a review's trial). :func:`estimate_noise` takes it where the kurtoses read no
    camera's noise, over :data:`JPEG_CORRELATED_ABOVE` times the luminance's level read so far
    (white, or the chroma's camera level: the two agreed at 14.4–15.1 for 15 on a retina crop).

    Its limits (the same trial): the fitted blur runs a little under the true one (0.8 fits
    0.75–0.78, 1.0 fits 0.93–1.02), so noise blurred by a full pixel is missed about half the
    time; noise blurred by 0.6 px reads a mean |excess| just over the threshold; content with
    real low-frequency structure raises the misfit (a smoothed photo at 256² under σ 25 read
    5.6, 22.6 and 26.2 over three draws); and under about 80 blocks (72 px a side) pure noise's
    mean |excess|, about 0.8·√(24/blocks), reaches the threshold by chance alone, so small
    images are seldom read so.

    On the tune split under a camera's σ 15 at q85 the smooth grey crops read so: moon 15.5–15.7
    (mean |excess| 0.20–0.23, misfit 0.14–0.20) and two of three brushed metal crops 18.1–18.3
    (0.22–0.27, misfit 0.52–0.58: its grain is anisotropic; the third reads 0.49), where they
    read 4.2–5.9 white and came back 0.3–0.6 dB over the input (now +9.0 and +5.5–5.9). Every
    other tune crop under it, under white noise of σ 5, 10 and 20 at q90, q75 and q85, and
    noise-free at q75, q90 and q95, read a mean |excess| over 0.45, a misfit over 0.6, a blur
    out of range, or a level under 1.5 times the white one."""
    found = _readable_lowest_bands(coefficients)
    if found is None:
        return None
    bands, values, power = found
    excess = (values.pow(4).mean(dim=0) / power.square() - 3.0)[_band_order()[bands] >= 2]
    omega2 = _frequencies()
    design = torch.stack([torch.ones_like(omega2[bands]), -omega2[bands]], dim=1)
    fit = torch.linalg.lstsq(design, power.log()[:, None]).solution[:, 0]
    misfit = float((design @ fit - power.log()).square().mean().sqrt())
    law = torch.stack([torch.ones_like(omega2[bands]), omega2[bands].log()], dim=1)
    lawful = law @ torch.linalg.lstsq(law, power.log()[:, None]).solution[:, 0]
    law_misfit = float((lawful - power.log()).square().mean().sqrt())
    low, high = JPEG_KURTOSIS_BLURS
    square = float(fit[1])
    if (float(excess.abs().mean()) > JPEG_GAUSSIAN_EXCESS or misfit > JPEG_GAUSSIAN_MISFIT
            or misfit > law_misfit + JPEG_GAUSSIAN_OVER_POWER_LAW or not low**2 <= square <= high**2):
        return None
    return float(fit[0].exp()) * torch.exp(-square * omega2)


def looks_jpeg_compressed(image: torch.Tensor) -> bool:
    """Whether a (1, C, H, W) image (0..1) looks saved as JPEG: :func:`jpeg_grid` at least
    :data:`JPEG_GRID_FROM`."""
    return jpeg_grid(image) >= JPEG_GRID_FROM


def _channel_powers(channel: torch.Tensor, clipping: Clipping | None = None,
                    jpeg: bool = False, grey_clipped: torch.Tensor | None = None,
                    step: float = 0.0, correlated: torch.Tensor | None = None,
                    band: torch.Tensor | None = None, exact: bool = False) -> torch.Tensor:
    """One channel's noise band powers (64,): low-passed noise when the upper bands fall
    off like it, else white at the lowest of the PCA level, the upper bands' level and
    Immerkær's. (The PCA level read in the fitted spectrum's whitened space was worse for
    correlated noise than the fit itself: 10.6–27 for a true 15.) Low-passed noise on a grey
    image is held under its bands' kurtoses (:func:`_held_to_kurtosis`), read where
    ``grey_clipped``, the image's clipped pixels (H, W), is False; None for colour. On a grey
    image with no clipping to read through, the white level is checked against the kurtoses
    too, and taken instead of a low-pass they show to be white noise on a texture that falls
    off like one (:func:`_grey_white`). ``band``:
    the channel's :func:`_band_powers` where the caller has read them already. ``exact``: a
    colour channel's low-pass is taken at its exact band powers (:func:`_exact_lowpass_fits`
    decides, for the whole image; never on a grey one).

    An image saved as JPEG (``jpeg``, :func:`looks_jpeg_compressed`) is not read from the upper
    bands: JPEG zeroes much of them, unevenly, so neither the low-pass fitted to them nor their
    level reads its noise (white σ 10 at q75 read 20 through the fit, σ 20 at q85 on a colour
    wheel read a low-pass that held σ 0.6–5 in bands where the noise was 15–22, and the upper
    bands alone read 0.6–2.3 at q75). It is read white at the PCA level, held under Immerkær's
    plus :data:`JPEG_IMMERKAER_SLACK` times the square of the JPEG's quantisation step ``step``
    (:func:`jpeg_step`; given for the luminance only), plus that square. JPEG takes noise away
    where its step is coarse against the noise, and Immerkær's level, which reads the finest
    bands, loses the most (σ 10 at q75 read 5–6 on grey crops); the PCA level loses less but
    reads colour texture (skin 18 for 10), which the cap holds. The step's square stands for the
    quantisation error JPEG adds: the denoiser does best at a level above the noise's (the tune
    split's crops under σ 10 at q75 gained 0.6 dB more, on average, read white at 12 than at 10).
    Where the lowest bands' kurtoses read correlated noise (``correlated``, the luminance's
    :func:`jpeg_correlated_spectrum`) at over :data:`JPEG_CORRELATED_ABOVE`² times that level
    (in power), its spectrum is taken instead:
    a camera's noise, low-passed by demosaicing, is mostly gone from the fine bands the PCA level
    reads (σ 15 read 3–4 on grey crops).

    On the tune split's 36 crops, mean dB over the noisy input, the lower of the PCA and
    Immerkær levels (the reading before) → this one, and the worst case's change: white σ 10 at
    q75 +1.55 → +4.76 (skin −0.80); σ 20 at q60 +3.55 → +7.21; σ 5 at q50 +0.23 → +1.49 (skin
    −0.11, none below the input); demosaic-like σ 15 at q85 +0.54 → +2.52 (none lower; σ 15
    given: +3.17 then, +5.41 in the shape :func:`model_for_level_on_jpeg` now gives it);
    σ 20 at q85 and σ 10 at q90 level (−0.00 and −0.04; the worst −0.40, brushed metal read
    11.1 for 10.9: the classical estimate dips by 0.4 dB at 11.1 between 10.9 and 11.3).

    Where some noise was clipped (``clipping``), the band powers are read through it and
    white noise is read off the upper bands alone: the PCA level and Immerkær's read clipped
    noise low (a phantom's black background under σ 15: 8), and reading them only where no
    pixel is clipped reads signal-dependent noise low, its brightest and noisiest areas being
    the clipped ones (Poisson noise on a tissue stain, RMS σ 26.2: 22.4 where the upper bands
    read 25.6, 1.4 dB lost). Against that reading, the upper bands alone gained 0.11 dB on
    average on the 109 crops where the two differed by over 0.3 (held-out +0.04 to +0.19 per
    kind, tune −0.07 to −0.01; photon noise on two unseen photos +2.2 and +7.9)."""
    if jpeg:
        immerkaer = estimate_sigma(channel.numpy()[..., None]) ** 2
        white = min(pca_level(channel), immerkaer + JPEG_IMMERKAER_SLACK * step**2) + step**2
        if correlated is not None and float(correlated.mean()) > JPEG_CORRELATED_ABOVE**2 * white:
            return correlated
        return torch.full((PATCH * PATCH,), white)
    powers = _band_powers(channel, clipping) if band is None else band
    spectrum, blur = _fitted_spectrum(powers, exact and grey_clipped is None)
    high = float(powers[_band_order() >= HIGH_FROM].median())
    if grey_clipped is not None:
        return _grey_powers(channel, powers, (spectrum, blur), high, clipping is not None, grey_clipped)
    if blur >= CORRELATED_BLUR:
        return spectrum
    if clipping is not None:
        return torch.full((PATCH * PATCH,), high)
    immerkaer = estimate_sigma(channel.numpy()[..., None]) ** 2
    return torch.full((PATCH * PATCH,), min(high, immerkaer, pca_level(channel)))


def _grey_powers(channel: torch.Tensor, powers: torch.Tensor, fitted: tuple[torch.Tensor, float], high: float,
                 read_through_clipping: bool, clipped: torch.Tensor) -> torch.Tensor:
    """A grey image's noise band powers (64,), as :func:`_channel_powers` reads them, its
    ``powers`` (:func:`_band_powers`), their :func:`_fitted_spectrum` ``fitted`` and their upper
    bands' level ``high`` given: low-passed noise
    held under the bands' kurtoses (:func:`_held_to_kurtosis`), or, with no clipping to read
    through (``read_through_clipping`` False), white noise checked against them
    (:func:`_grey_white`), which is also taken instead of a low-pass where they show it to be
    white. ``clipped``: the image's pixels at 0 or 1 (H, W), whose windows are not read. A
    low-pass under :data:`CORRELATED_BLUR` is read white but where :func:`_grey_mild_low_pass`
    finds it the noise's.

    A low-pass the kurtoses cannot hold (:func:`_too_wide_to_hold`: the lowest bands far over
    the fitted shape) is kept as read only where the finest bands hold little Gaussian noise:
    from a white share of :data:`WHITE_OVER_WIDE` the white level (held) is taken instead.
    Gravel's own detail falls off like grain blurred by ~0.55 px and reads σ 14–16 whatever
    the noise on it (σ 1 to σ 15 at 1.2 px); its lowest bands, far over that shape, skipped the
    hold, and light white noise (σ 2–3) on the tune split's gravel crops read 13.5–16 and came
    out 9–13 dB under the input. There the white share was 0.45–0.80 (σ 1–3), against 0–0.38
    for noise blurred as wide (gravel and brick under σ 5–15 at 0.8–1.2 px, which leaves the
    finest bands almost empty): the five such gravel crops read 3.2–5.7 white instead and came
    out +0.29 to +0.64 dB over the input (their true σ given: +0.26 to +0.49). On the tune
    split's grey crops and colour crops' luminance and twelve unseen grey crops (scikit-image's
    page, cell, clock and text) under white σ 2–8 and grain of σ 8–25 at 0.6–1.2 px (432
    readings), no other reading changed.

    The same holds where the kurtoses hold the low-pass only at their floor (they allow it
    under :data:`KURTOSIS_FLOOR`² of its power: mostly content) and its lowest bands stand at
    least :data:`CONTENT_EXCESS` times over its shape (content over it, too little to skip the
    hold): white σ 2–3 on gravel windows read 9.1–9.7 there, held at the floor, and came out
    4.7–8.5 dB under the input. On the tune split's grey crops and every crop's luminance
    (their three bench windows and five more windows of each tune source), twelve unseen grey
    crops and eight windows of scikit-image's motorcycle photo (in neither split) under white
    σ 2–8 and grain of σ 8–25 at 0.6–1.2 px (about 1,300 readings), seven readings changed:
    gravel under σ 2–3 (three) 9.1–9.5 → 3.2–3.6, −4.8…−8.5 → −0.06…+0.88 dB over the input, and
    a motorcycle window's luminance under σ 2–3 7.5–7.7 → 3.1–3.4, −3.7/−1.1 → +1.4/+1.7; but
    grain of σ 8 at 0.6 px on a gravel window and on an astronaut crop's luminance read as white
    3.5 and 2.9 (−0.2 and −2.7 dB, still over the input): at that light grain the reading is
    content and grain alike, and the lower reading leaves noise in rather than smearing the
    texture. Without the excess bound, printed text (scikit-image's page, its lowest bands 1.0–
    1.6 times its shape) under grain of σ 8–15 at 0.6 px read white 5–6 and lost 2.6–3.1 dB."""
    spectrum, blur = fitted
    if read_through_clipping:
        if blur >= CORRELATED_BLUR:
            return _held_to_kurtosis(channel, spectrum, powers, clipped)
        return torch.full((PATCH * PATCH,), high)
    white = _grey_white(channel, high, clipped)
    if blur < CORRELATED_BLUR:
        mild = _grey_mild_low_pass(powers, fitted, white)
        return spectrum if mild else torch.full((PATCH * PATCH,), white.held)
    if white.share is not None and white.share >= WHITE_OVER_CORRELATED:
        return torch.full((PATCH * PATCH,), white.level)
    if (white.share is not None and white.share >= WHITE_OVER_WIDE
            and _content_over_grain(channel, spectrum, powers, clipped)):
        return torch.full((PATCH * PATCH,), white.held)
    return _held_to_kurtosis(channel, spectrum, powers, clipped)


def _grey_mild_low_pass(powers: torch.Tensor, fitted: tuple[torch.Tensor, float], white: _GreyWhite) -> bool:
    """Whether a grey image's low-pass under :data:`CORRELATED_BLUR` is its noise's: at least
    :data:`GREY_MILD_BLUR` wide, on content whose kurtoses cannot tell noise from it (they fit
    no clean kurtosis under its white level: ``white.misfit``), its lowest bands not over
    :data:`KURTOSIS_LOW_EXCESS` times the fitted shape (:func:`_too_wide_to_hold`: content over
    it). ``powers``, ``fitted`` and ``white``: as :func:`_grey_powers` has them.

    White noise blurred by a 0.5 px Gaussian reads a blur of 0.30–0.41 on this scale, and its
    white level (the lowest of three readings of the finest bands) about 0.65 of its σ. On smooth
    or nearly Gaussian content (brushed metal, moon, brick, a photo's sky, cells, a clock face)
    the upper bands hold little but the noise, so the fit is exact, and that is where the
    kurtoses cannot fit a clean kurtosis; there white noise read blurs of 0.22 at most (σ 2–35,
    photon, sharpened) and 0.5 px noise 0.30–0.41. On 95 grey images (the grey crops of both
    splits, other windows of the grey sources, the luminance of 39 windows of the colour sources,
    and windows of scikit-image's text, page, clock, cell, phantom, cat and logo), taken so, σ 15
    at 0.5 px: +4.9 dB on average on the 57 that changed (−1.2 on a camera crop read 19.4, up to
    +13.2); σ 30 +4.4 (86, none lower); σ 5 +4.7 (24, none lower); in 2–4 times less time (the
    white path's GCV). A weave's luminance (fabric) is smooth and periodic and reads so under
    light white noise (σ 2–8: blurs 0.30–0.48, misfit): taken, −1.1 to −6.6 dB, four under the
    noisy input; its lowest bands hold 17–50 times the fitted shape there (0.5 px noise on the
    other images: 1.0–5.1), hence the excess bound, which also gives up fabric's own 0.5 px
    cases (+2.5 to +3.4, excess 6.6–10). Under white σ 2–35, photon, Bayer, demosaic-like,
    sharpened, 0.4 px and JPEG'd noise no other reading of the 95 images changed (1,235) but a
    skin window's luminance under demosaic-like σ 15 (8.5 → 13.5, +1.7 dB), nor any of the
    512² crops'."""
    spectrum, blur = fitted
    mild = GREY_MILD_BLUR <= blur < CORRELATED_BLUR
    return mild and white.misfit and not _too_wide_to_hold(powers, spectrum)


class _GreyWhite(NamedTuple):
    """A grey channel's white noise level (variance) and what its bands' kurtoses say of it."""

    level: float  # the lowest of the upper bands' level, Immerkær's and the PCA level
    share: float | None  # KURTOSIS_SLACK × √(kurtosis_bound of that level); None: no bound
    held: float  # the level, held where the share is under WHITE_HELD_BELOW
    misfit: bool = False  # no share for the kurtoses' misfit (_KurtosisReading)


def _grey_white(channel: torch.Tensor, high: float, clipped: torch.Tensor) -> _GreyWhite:
    """A grey image's white noise level, checked against its bands' kurtoses
    (:func:`kurtosis_bound` for a white spectrum at that level; windows with a ``clipped``
    pixel not read). ``high``: the upper bands' level (:func:`_channel_powers`).

    The level is the lowest of three readings, but all three read a busy texture's own fine
    detail as noise: under white σ 5 a grass crop read 12.7–14.1 (and 10–11.6 with no noise at
    all), and came out 1.9–2.6 dB under the noisy input. Gaussian noise adds no fourth cumulant
    and texture is sparse, so a level read from texture leaves the content a kurtosis the bands
    do not show: the share (the bound's σ over the level's, times :data:`KURTOSIS_SLACK`) sat
    at 1.2–1.3 wherever the level was read within a few % (brick, moon, gravel, a camera crop
    from σ 3 to 25), at 0.87–0.97 on engraved coins and gravel under σ 5–25, and at 0.19–0.74
    on grass under σ 0–8 (0.87–0.94 under σ 15). Under :data:`WHITE_HELD_BELOW` the level is
    held to the bound (σ × the share), at least :data:`KURTOSIS_FLOOR` of it: grass under σ 5
    read 7.6–8.5 and came out −0.13 to +0.25 dB over the input (from −2.6 to −1.9).

    The share also tells white noise from correlated (:func:`_grey_powers`): a camera's
    low-passed noise leaves the fine bands little Gaussian power, and the share of the white
    level read there was 0–0.40 (0.77 on one camera crop) on the grey crops under demosaic-like
    σ 15, but 0.87–0.97 on gravel and coins under white σ 5, whose texture falls off with
    frequency like blurred noise and read as a camera's grain of σ 10.6–15.4 (1.3–5.6 dB under
    the input). From :data:`WHITE_OVER_CORRELATED` such a reading is taken as white.

    The hold is a detector more than a level (as :func:`_held_to_kurtosis`'s floor): a share
    just under :data:`WHITE_HELD_BELOW` holds the level to 0.8× its σ, one just over keeps it
    (engraved coins under σ 5 sat at 0.88, read 8.1). Nothing warns of it: the level is only
    lowered, so what a wrong hold risks is noise left in, which the user sees, not detail
    smoothed away (:func:`.restoration._grey_grain_caution`). Two-channel images (grey with
    alpha, a normal map's two stored channels) are checked channel by channel, as grey."""
    immerkaer = estimate_sigma(channel.numpy()[..., None]) ** 2
    level = min(high, immerkaer, pca_level(channel))
    share, misfit = _white_share(channel, level, clipped)
    if share is None or share >= WHITE_HELD_BELOW:
        return _GreyWhite(level, share, level, misfit)
    return _GreyWhite(level, share, level * max(share**2, KURTOSIS_FLOOR**2))


def _white_share(channel: torch.Tensor, level: float,
                 clipped: torch.Tensor | None) -> tuple[float | None, bool]:
    """How much of a white noise ``level`` (variance) one channel's bands' kurtoses allow, as a
    share of its σ: :data:`KURTOSIS_SLACK` × √(:func:`kurtosis_bound` of a white spectrum at that
    level), windows with a ``clipped`` pixel (H, W) not read. None without a level or a bound;
    and whether there is none for the kurtoses' misfit (:class:`_KurtosisReading`)."""
    if level <= 0.0:
        return None, False
    reading = _kurtosis_reading(channel.double(), torch.full((PATCH * PATCH,), level, dtype=torch.float64),
                                clipped if clipped is not None and bool(clipped.any()) else None)
    return None if reading.bound is None else KURTOSIS_SLACK * math.sqrt(reading.bound), reading.misfit


def estimate_noise(image: np.ndarray | torch.Tensor, jpeg: bool | None = None) -> NoiseModel:
    """The noise model of an (H, W, C) array or (1, C, H, W) tensor in 0..1.

    ``jpeg``: whether the image was saved as JPEG, read white from the PCA and Immerkær levels
    and the JPEG's quantisation step, or as a camera's correlated noise from the lowest bands'
    kurtoses (see :func:`_channel_powers`), or, in colour, where the kurtoses read none (or too
    little to be taken: a held-out stone crop under a camera's σ 15 at q85 read 10.1 white,
    its chroma 15.9, +5 dB; of the 360 JPEG readings of both splits, no other changed), from
    the chroma's lowest bands (:func:`_chroma_camera_level`) where they read over
    :data:`CHROMA_CAMERA_ABOVE` times the luminance's level (the tune split's retina and wood
    crops under demosaic-like σ 15 at q85 read 4.5–11 as white, 13.6–18 so, and gained 5.3–10.5
    dB), or, where neither reads one, from the lowest bands' Gaussian low-pass
    (:func:`jpeg_gaussian_spectrum`) where it reads over :data:`JPEG_CORRELATED_ABOVE` times the
    luminance's level (the tune split's moon and two brushed metal crops under the same read
    4.2–5.9 white, 15.5–18.3 so, and gained 4.9–8.7 dB). A luminance still read white is held
    to :data:`JPEG_ZEROS_ABOVE` times the level JPEG's zeros allow (:func:`jpeg_zeros_level`),
    its step² added as where the level is read (:func:`_channel_powers`): a busy texture's fine
    detail read as noise. On the tune split, mean dB over the input: σ 5 at q90 +3.30 → +3.36
    (skin +0.5 to +0.9; gravel/1 −0.17); σ 20 at q85 +8.43 → +8.57 (retina −0.3, wood +0.6
    to +0.8); noise-free q95 −0.71 → −0.55 (13 → 12 crops under the JPEG itself) and q90
    +0.28 → +0.39; σ 10 at q75, a camera's σ 15 at q85 and σ 10 on half of each crop at q85
    within ±0.01 (worst crop −0.08). The camera readings above are judged against the level
    before it is held. None: found by
    :func:`looks_jpeg_compressed`. False reads the spectrum as for any image, as the shape for
    a level the user gives on an image not saved as JPEG does (:func:`.restoration._given_level`;
    on a JPEG, :func:`model_for_level_on_jpeg`).

    Not saved as JPEG, a colour luminance read white where both chroma channels read a camera's
    low-pass takes their blur (:func:`_luma_with_chroma_blur`), and where both read a mild one
    alike, under :data:`CORRELATED_BLUR`, the chroma take it too (:func:`_chroma_mildly_blurred`);
    a grey image's mild low-pass is taken on content its kurtoses cannot read
    (:func:`_grey_mild_low_pass`).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> clean = np.tile(np.linspace(0, 1, 128), (128, 1))[..., None]
        >>> noisy = clean + rng.normal(0, 0.1, clean.shape)
        >>> round(estimate_noise(noisy).sigma, 1)
        0.1
    """
    tensor = image_tensor(image) if isinstance(image, np.ndarray) else image.float()
    channels = tensor.shape[1]
    if min(tensor.shape[-2:]) < SMALLEST:  # too few blocks for a spectrum: Immerkær's σ, white
        return NoiseModel.white(estimate_sigma(tensor[0].permute(1, 2, 0).numpy()), channels)
    white = NoiseModel.white(1.0, channels)
    opponent = white.to_space(tensor)[0]
    clipped, shares = _clipped(tensor)
    kept = clipped_variance(shares) if float(clipped.float().mean()) >= CLIP_READ_FROM else None
    if jpeg is None:
        jpeg = looks_jpeg_compressed(tensor)
    reading = _jpeg_reading(tensor) if jpeg else _JpegReading()
    step, gaussian = reading.step, reading.gaussian
    table = _channels_table(opponent, kept, clipped, jpeg, reading)
    missed = NoiseModel(table[:1, :1]).is_white  # no camera noise read by the kurtoses, or too little to take
    if jpeg and channels >= 3 and missed:  # a camera's noise the kurtoses missed
        camera = _chroma_camera_level(tensor)
        if camera is not None and camera**2 > CHROMA_CAMERA_ABOVE**2 * float(table[0, 0, LAG, LAG]):
            table[0, 0] = _autocovariance(_camera_powers(camera))
    if gaussian is not None and missed and (  # a camera's noise hiding smooth content
            float(gaussian.mean()) > JPEG_CORRELATED_ABOVE**2 * float(table[0, 0, LAG, LAG])):
        table[0, 0] = _autocovariance(gaussian.double())
    if reading.zeros is not None and NoiseModel(table[:1, :1]).is_white:  # the luminance read white
        held = (JPEG_ZEROS_ABOVE * reading.zeros) ** 2 + step**2
        if held < float(table[0, 0, LAG, LAG]):
            table[0, 0] *= held / float(table[0, 0, LAG, LAG])
    return _chroma_at_least_luma_like(table, jpeg, opponent[0], clipped)


def _channels_table(opponent: torch.Tensor, kept: torch.Tensor | None, clipped: torch.Tensor, jpeg: bool,
                    reading: _JpegReading) -> torch.Tensor:
    """The autocovariance table (C, C, 2·LAG+1, 2·LAG+1) of each opponent channel's own noise
    (:func:`_channel_powers`; ``kept``: :func:`clipped_variance`'s shares or None, ``clipped``:
    the pixels at a bound), the luminance read with the JPEG's step and correlated spectrum
    (``reading``) and, in colour not saved as JPEG, with the chroma's blur where
    :func:`_luma_with_chroma_blur` finds it; where the chroma read a mild low-pass
    (:func:`_chroma_mildly_blurred`), each chroma channel takes its fitted low-pass."""
    channels = int(opponent.shape[0])
    squares = colour_matrix(channels).double() ** 2
    table = torch.zeros((channels, channels, 2 * LAG + 1, 2 * LAG + 1))
    grey_clipped = clipped if channels < 3 else None
    clippings = [None if kept is None else Clipping(kept, squares[c]) for c in range(channels)]
    bands = [] if jpeg else [_band_powers(opponent[c].double(), clippings[c]) for c in range(channels)]
    fits = [_fitted_spectrum(band) for band in bands] if len(bands) >= 3 else []
    blurs = [blur for _, blur in fits]
    exact = bool(blurs) and _exact_lowpass_fits(bands[1:3], blurs[1:3])
    mild = bool(blurs) and _chroma_mildly_blurred(blurs)
    for c in range(channels):
        luma = c == 0
        if mild and c in (1, 2):  # the chroma (a 4th channel, alpha or other, keeps its own reading)
            powers = fits[c][0]
        else:
            powers = _channel_powers(opponent[c].double(), clippings[c], jpeg, grey_clipped,
                                     reading.step if luma else 0.0, reading.correlated if luma else None,
                                     bands[c] if bands else None, exact)
        table[c, c] = _autocovariance(powers.double())
    if blurs:
        _luma_with_chroma_blur(bands[0], blurs, table, mild)
    return table


def _chroma_mildly_blurred(blurs: list[float]) -> bool:
    """Whether a colour image's noise is mildly low-passed, from its opponent channels' fitted
    blurs (``blurs``, pixels, :func:`_fitted_spectrum`): both chroma channels at least
    :data:`MILD_BLUR` and within :data:`CHROMA_BLUR_AGREE` of each other, and no channel at
    :data:`CORRELATED_BLUR` (where the low-pass is taken already). There each chroma channel takes
    its fitted low-pass rather than a white level, and the luminance the chroma's blur wherever
    that raises it at all (:func:`_luma_with_chroma_blur`, :data:`MILD_LUMA_RAISED`).

    White noise blurred by a 0.5 px Gaussian (neighbours weighted 0.11 against 0.79) reads a
    blur of about 0.35 on this scale, under :data:`CORRELATED_BLUR`, and was read white at the
    lowest of the upper bands' level, Immerkær's and the PCA level, all of which read its finest
    bands: σ 15 read 9.5–12.5, the image came out only +3 dB over the noisy input and 3–7 dB
    under CBM3D given σ 15. Read so, σ 15 reads 13–16 (fabric's coloured weave 17–21) and, on the
    colour crops of both splits (tune 24, held-out 15 each) and 39 other windows of the
    colour sources, the result gained: σ 15 tune +5.6 dB on average (+1.5 to +12.4), held-out
    +4.9 (0 to +9.2), other windows +5.7 (+1.8 to +12.7); σ 30 +6.4 both splits (+2.5 to
    +15.1); σ 5 +2.9 and +2.0 (none lower); white noise in the luminance with only the chroma
    so blurred (σ 15 and 5 on the 39 windows) +6.0 and +3.2, none lower. A blur of 0.4 px
    reads chroma blurs of 0.16–0.25, among white noise's (up to 0.24 under σ 15, 0.38 under
    σ 2 on one fabric crop), and is left as it was (σ 15 read 14 on average).

    White noise's chroma read under 0.26, or two blurs more than 0.1 apart, on both splits' colour
    crops under all eleven bench kinds (at 128² and 512²) and under white σ 2–50, and on the 39
    windows under white, photon, Bayer, demosaic-like, bicubic-resampled (×1.25–×2),
    binomially blurred, sharpened and chroma-denoised noise: no reading there changed but one
    fabric crop under σ 2 (chroma 4.3/6.1 → 9.1/3.6, already read 2–3 times over). Light noise
    clipped on a black background (a star field under σ 3) read chroma blurs of 0.28–0.32 with
    a luminance of 0.53–0.57, from the stars: without the luminance's bound its σ 3 read 13.6."""
    return (max(blurs[:3]) < CORRELATED_BLUR and min(blurs[1:3]) >= MILD_BLUR
            and abs(blurs[1] - blurs[2]) <= CHROMA_BLUR_AGREE)


def _exact_lowpass_fits(chroma: list[torch.Tensor], blurs: list[float]) -> bool:
    """Whether a colour image's low-passed noise is taken at its exact band powers
    (:func:`_fitted_spectrum` ``exact``), from its two chroma channels' band powers ``chroma``
    (:func:`_band_powers`) and the blurs their centre-frequency fits read (``blurs``, pixels):
    both read one Gaussian blur (:func:`_chroma_blurred_alike`), and
    in each the exact shape, fitted to the upper bands, gives the lowest bands (u + v of 1 to
    3) at most 1/:data:`EXACT_LOWEST_LEAST` of what the flattest blocks hold there
    (:func:`_lowest_excess`: noise only adds power, and the lowest bands are where the exact
    shape raises the reading).

    Resampled noise is not Gaussian: a noisy image upscaled ×1.25–×1.5 by bicubic or Lanczos
    interpolation (a sharp cut-off with negative lobes) or box-filtered falls off its upper
    bands like a blur of 0.6–0.7 px, alike in both chroma, and the exact Gaussian shape then
    gives the lowest bands more than the image holds (0.32–0.72 of it on the tune split's colour
    crops), raising a reading already over the noise; a review's trial lost up to 7.6 dB there
    (the chroma raised over its patch bound while the luminance was not). Demosaic-like noise
    and Gaussian blurs of 0.6–1.0 px read 0.86–1.95 there on the same crops. In that trial's
    38 colour images (the tune split's and 14 windows of scikit-image photos) × 59 kinds of
    low-passed, resampled, clipped and linear-light noise, the 1,135 readings still taken
    exactly came out +0.28 dB over the centre-frequency shape on average (the ×1.25–×1.5
    upscales, box filters and a ×2 Lanczos downscale of grain now left as they were); 40 lost
    over 0.1 dB, the worst a logo under anisotropic grain (−2.8), a motorcycle window under
    linear-light shot noise (−2.4) and under σ 5 at 0.8 px (−1.9: its raised luminance pushed a
    chroma under :data:`CHROMA_FLOOR_UNSAVED`, which then took the luminance's level); none
    fell under the noisy input."""
    if not _chroma_blurred_alike(blurs):
        return False
    return all(_lowest_excess(band, _fitted_spectrum(band, exact=True)[0]) >= EXACT_LOWEST_LEAST
               for band in chroma)


def _chroma_blurred_alike(blurs: list[float]) -> bool:
    """Whether both chroma channels' fitted low-passes (``blurs``, pixels, :func:`_fitted_spectrum`)
    read one blur of noise drawn alike in R, G and B: both at least :data:`CORRELATED_BLUR` and
    within :data:`CHROMA_BLUR_AGREE` of each other (an orthonormal opponent transform of such
    noise gives both chroma channels the same spectrum). A Bayer mosaic's demosaiced noise is
    not so (red and blue sampled at a quarter of the pixels, green at half): its chroma blurs
    read 0.21–0.37 px apart on the tune split's colour crops under σ 5 and 15 on the mosaic,
    where demosaic-like noise (white, blurred by a 0.8 px Gaussian) read at most 0.07 apart on
    both splits.

    There (and where the exact shape fits the lowest bands, :func:`_exact_lowpass_fits`) the
    colour channels' low-passes are taken at their exact band powers (:func:`_fitted_spectrum`
    ``exact``). The fit otherwise takes each band's power at its
    centre frequency, which reads the noise's lowest bands a fifth under their power and the
    σ of such noise 5 % under (14.0–14.6 for a true 15 on flat grey); the exact shape reads
    15.0–15.5. On the tune split's 24 colour crops under demosaic-like σ 15 the reading went
    from 13.0–14.6 to 13.9–15.6, +0.03 to +0.78 dB (mean +0.27; retina and wood, 0.3–0.6 dB
    under the true σ given, now within 0.15 of it), and under white noise blurred by 1.2 px
    (σ 15), +0.04 to +2.3 (mean +0.75). Not taken on Bayer noise, which the fit already
    over-reads (σ 5 on the mosaic, about 3.9 per pixel, read 4.2–10.7): the exact shape lost
    0.33 dB there on average. Nor on grey images: their low-pass is held by the bands'
    kurtoses, whose thresholds are set on the centre-frequency shape (taken there, light white
    noise on a held-out coin crop flipped to a low-pass at twice the reading, −5.3 dB)."""
    return min(blurs) >= CORRELATED_BLUR and max(blurs) - min(blurs) <= CHROMA_BLUR_AGREE


def _luma_with_chroma_blur(luma_bands: torch.Tensor, blurs: list[float], table: torch.Tensor,
                           mild: bool = False) -> None:
    """Colour not saved as JPEG, the luminance read white where both chroma channels read a
    camera's low-pass (``luma_bands``: the luminance's :func:`_band_powers`; ``blurs``: the
    opponent channels' fitted blurs, pixels, :func:`_fitted_spectrum`; ``table``, the model's
    autocovariance, changed in place): the luminance takes the chroma's blur (the mean
    of the two fitted), at the most of it that every AC band's power allows (noise only adds
    power), and at most the larger chroma level (see :func:`_luma_at_most_chroma`; and at most
    the smaller one over :data:`CHROMA_FLOOR`, which keeps it well clear of the floor under
    which :func:`_chroma_at_least_luma_like` takes the weaker chroma for under-read). Only where
    that raises the luminance's σ at least :data:`LUMA_RAISED` times: the luminance read too low.
    Where the chroma's low-pass is ``mild`` (:func:`_chroma_mildly_blurred`: under
    :data:`CORRELATED_BLUR`), wherever it raises it at all (:data:`MILD_LUMA_RAISED`): such a
    low-pass is near white, and its luminance read white is under-read by its finest bands
    (σ 15 at 0.5 px read 9.5–12.5): on the tune split's colour crops under σ 15 and σ 5 blurred
    by 0.5 px, +0.81 and +0.31 dB on average over raising it only :data:`LUMA_RAISED` times
    (up to +4.0 on retina, the worst −0.05).

    Demosaicing blurs the noise of every channel alike, but the luminance's upper bands, where
    its low-pass is fitted (:func:`_fitted_spectrum`), hold most of a texture's fine detail,
    which reads as a flatter spectrum: on the tune split under demosaic-like σ 15 the chroma
    read blurs of 0.61–0.75 px, and the luminance 0.30–0.36 on skin and 0.43–0.44 on two wood
    crops (under :data:`CORRELATED_BLUR`: white at 5.2–5.9 on the wood), where white σ 15, 25
    and Poisson noise read chroma blurs of 0.18 at most. Taken so, the two wood crops gained
    4.8–4.9 dB (mean over the 36 crops, Δ to CBM3D +3.92 → +4.19 dB); no other tune crop under
    white, Poisson or correlated noise changed. Under a camera's noise blurred by 1 px, drawn
    per RGB channel, the tune split's wood and foliage crops gained 3.0 and 0.6 dB, and the wood
    1.5 with 80 % of the luminance's noise taken out (a camera's own luminance noise reduction).
    With no noise at all in the luminance and the chroma's blurred, it still fires on wood
    (0.25 dB lost).

    Not where a chroma channel reads under :data:`CHROMA_FLOOR` of the luminance's variance (the
    cap at the smaller chroma over it is then under the luminance's own reading): chroma
    subsampled and upsampled again (4:2:0 video) blurs its own noise and reads far under the
    luminance (2.5 for σ 15), and its blur is not the luminance's. Nor where the
    luminance's own reading is near the chroma's: white noise in the luminance with only the
    chroma's blurred (chroma noise reduction, a film-grain overlay) reads white there, and a
    review found the rule held it down (15 → 6.9 on a rocket crop under σ 15 in both, 5.2 dB
    lost) or gave it the chroma's shape at the same level (up to 1.1 dB lost); raising it by at
    least :data:`LUMA_RAISED` keeps the wood crops' gains (5.2–5.9 → 14.2–14.5) and gives up the
    skin crops' (their luminance read 12.8–13.6, its level kept and its shape changed: +2.2 dB),
    which the data here cannot tell from that case."""
    if blurs[0] >= CORRELATED_BLUR or (min(blurs[1:3]) < CORRELATED_BLUR and not mild):
        return
    lag = (table.shape[-1] - 1) // 2
    luma = float(table[0, 0, lag, lag])
    chroma = [float(table[c, c, lag, lag]) for c in (1, 2)]
    shape = torch.exp(-((blurs[1] + blurs[2]) / 2) ** 2 * _frequencies())
    allowed = float((luma_bands.double()[1:] / shape[1:]).min())
    spectrum = _autocovariance(shape * allowed)
    level = min(float(spectrum[lag, lag]), max(chroma), min(chroma) / CHROMA_FLOOR)
    raised = MILD_LUMA_RAISED if mild else LUMA_RAISED
    if level <= raised**2 * luma:  # (a chroma under CHROMA_FLOOR of the luma caps it under the luma)
        return
    table[0, 0] = spectrum * (level / float(spectrum[lag, lag]))


def _camera_powers(level: float) -> torch.Tensor:
    """The band powers (64,) of a camera's demosaiced noise of per-pixel level ``level``: white
    noise low-passed by a Gaussian of :data:`CHROMA_CAMERA_BLUR` px."""
    shape = torch.exp(-CHROMA_CAMERA_BLUR**2 * _frequencies())
    return shape * level**2 / shape.mean()


def model_for_level_on_jpeg(image: np.ndarray, sigma: float) -> NoiseModel:
    """The noise model for a level ``sigma`` (0..1) the user gave for an (H, W, C) image that
    looks saved as JPEG (:func:`looks_jpeg_compressed`), at least :data:`SMALLEST` a side.

    The shape is the one :func:`estimate_noise` reads on a JPEG (white, or a camera's noise
    from the lowest bands' kurtoses, the chroma or the lowest bands' Gaussian low-pass), except
    where that reading is white and the given level is over :data:`JPEG_GIVEN_ABOVE` times its
    level: the fine bands then show far less noise than the user sees, which is a camera's
    low-passed noise (:func:`_camera_powers`, in every channel), not white noise JPEG removed (white noise
    survives a JPEG in the bands the PCA level reads: σ 5 at q90, 10 at q75 and 20 at q85 read
    4.6–16, 7–19 and 20–30 on the tune split, so a true level never fired the rule there).
    The level is ``√(σ² + step²)``, the JPEG's quantisation step (:func:`jpeg_step`) standing
    for the error it adds (where the level is read, :func:`_channel_powers`, the step² is added
    to the luminance only; here the whole model is scaled to that level, as measured below).
    Levels are the mean over the colour channels (the first three, or the first of a grey
    image): an alpha restored with them (``--process-alpha``) reads next to no noise, and would
    raise the colour's level by √(4/3), or √2 on a grey image, and fire the rule early. The
    rule needs :data:`SMALLEST` × 2 pixels a side: at 32–36 the step reads 0 and the white
    level 4–5.4 for σ 10 at q75, and the camera's shape took white noise 0.3–2.9 dB under the
    white one (a review's trial on three photos).

    The spectrum read as on any image (``estimate_noise(jpeg=False)``), which this replaces, takes
    the upper bands JPEG zeroes for a low-pass: white noise under JPEG read as correlated, or
    as next to none where JPEG zeroed everything above the lowest bands (moon and brushed
    metal under a camera's σ 15 at q85 read 0.3, scaled up as white). The true σ given, on the
    tune split's 36 crops, mean dB over the noisy input, before → now (the worst crop's change):
    σ 5 at q90 +1.74 → +3.46 (+0.03; brick, moon and brushed metal +4 to +6); σ 10 at q75
    +4.11 → +4.77 (+0.03); σ 20 at q85 +8.37 → +8.41 (moon −0.45); a camera's σ 15 at q85
    +3.17 → +5.41 (skin −2.1: its texture read white at 14–15, so the rule does not fire; the
    old shape was a low-pass there)."""
    tensor = image_tensor(image)
    colour = 3 if tensor.shape[1] >= 3 else 1
    step = jpeg_step(tensor)
    level = math.sqrt(sigma**2 + step**2)
    read = estimate_noise(tensor, jpeg=True)
    table = read.autocovariance.clone()
    power = float(read.variances[:colour].mean())
    wide = min(tensor.shape[-2:]) >= 2 * SMALLEST
    if power <= 0 or (wide and read.is_white and sigma**2 > JPEG_GIVEN_ABOVE**2 * power):
        camera = _autocovariance(_camera_powers(level))
        for c in range(colour):
            table[c, c] = camera  # white, or nothing read: no power between channels to keep
        return NoiseModel(table, read.measured)
    return NoiseModel(table * (level**2 / power), read.measured)


def _chroma_camera_level(image: torch.Tensor) -> float | None:
    """A camera's noise level (0..1 units) read in the chroma of a colour (1, C, H, W) image that
    looks saved as a 4:2:0 JPEG, or None where its chroma does not look like noise.

    A 4:2:0 JPEG keeps its chroma's lowest bands, and a camera's demosaiced noise, low-passed
    and independent between R, G and B, is as strong in JPEG's Cb and Cr as texture rarely is:
    there, on the 2×2-averaged chroma cut into 8×8 blocks (the grid's offset left at 0: the
    reading is a spread, not a step), the bands with u + v of 1 or 2 hold noise of about
    :data:`CHROMA_CAMERA_RATIO` of the noise's level (0.70–0.77 on the tune split's colour crops
    with little chroma, demosaic-like σ 15 at q85; σ 8, 15 and 25 at q75, q85 and q92 read
    7.5–9.7, 14–19 and 23–27 on the crops it is taken on). Texture there is sparse: the level is
    read only where the bands look Gaussian, their excess kurtosis at most
    :data:`CHROMA_CAMERA_KURTOSIS` and their std within :data:`CHROMA_CAMERA_SPREAD` × their
    robust σ (1.4826 × the median magnitude). Camera noise read −0.4 to 0.4 and 0.99–1.08 there
    (retina, wood, skin); every tune crop under white noise at q75 or q90 read a kurtosis over
    0.5 or a std 1.18 or more times the robust σ (white noise's own chroma is mostly quantised
    away, and reads far under the luma's level). Smooth Gaussian colour content passes those
    tests by design (RGB noise blurred by 2–3 px read 50–55 for σ 2–20 in a review's trial),
    so the level must also be at most :data:`CHROMA_CAMERA_LUMA` × the luma's whole spread on
    the window (noise independent between R, G and B cannot have much more chroma than luma:
    camera noise read 0.85–1.28 of it, those fields 2.4–3.4); and under
    :data:`CHROMA_CAMERA_BLOCKS` chroma blocks (a 128² window) it is not read (32–80 px crops of
    photos read 16–27 for 0–5 there). Content that is itself like camera noise (RGB noise
    blurred by 1 px) cannot be told from it."""
    window = _jpeg_window(image)
    rows, cols = window.shape[1] // (2 * PATCH), window.shape[2] // (2 * PATCH)
    if rows * cols < CHROMA_CAMERA_BLOCKS:
        return None
    low = _lowest_bands().reshape(PATCH, PATCH)
    matrix = dct_matrix(PATCH).double()
    values = []
    for weights in JPEG_CHROMA:
        chroma = _mixed(weights, window)[:rows * 2 * PATCH, :cols * 2 * PATCH]
        half = chroma.reshape(rows * PATCH, 2, cols * PATCH, 2).mean(dim=(1, 3))
        values.append(_block_coefficients(half, rows, cols, matrix)[..., low].reshape(-1))
    v = torch.cat(values)
    robust = 1.4826 * float(v.abs().median())
    if robust <= 0:
        return None
    power = float(v.square().mean())
    kurtosis = float(v.pow(4).mean()) / power**2 - 3.0
    least, most = CHROMA_CAMERA_SPREAD
    if kurtosis > CHROMA_CAMERA_KURTOSIS or not least * robust <= math.sqrt(power) <= most * robust:
        return None
    level = robust / CHROMA_CAMERA_RATIO
    if level > CHROMA_CAMERA_LUMA * float(_mixed(JPEG_LUMA, window).std()):
        return None
    return level / 255.0


def _chroma_at_least_luma_like(table: torch.Tensor, jpeg: bool = False, luma: torch.Tensor | None = None,
                               clipped: torch.Tensor | None = None) -> NoiseModel:
    """Colour: a chroma channel that reads under :data:`CHROMA_FLOOR` of the luminance's
    level takes the luminance's spectrum, or, on an image not saved as JPEG whose luminance
    reads texture, under :data:`CHROMA_FLOOR_UNSAVED`, or none where the chroma reads the noise
    (:func:`_unsaved_floor`; ``luma``, the luminance channel (H, W), and ``clipped``, the pixels
    at 0 or 1, are what it reads).
    JPEG's 4:2:0 chroma leaves noise only as low-frequency blotches that the upper bands do
    not show (it read 1–2 for a luma of 24 on JPEG'd σ 20, and 0.4–2.7 read white at the lower
    of the PCA and Immerkær levels, as a JPEG's chroma is read); taking the luma's model there
    gained 1.7 dB on average on the tune split's colour JPEG
    crops. The model is then partly a guess (``measured`` False).

    Not saved as JPEG, the chroma reads that far under only where it was subsampled (4:2:0
    video: 2.5 for a luminance of 19, a share of 0.02) or holds no noise (noise common to
    the three channels). At light noise a texture's own detail raises the luminance's reading
    over the chroma's by more than CHROMA_FLOOR allows, and the floor took the luminance's
    over-read for the chroma's (white σ 5 on the held-out hubble and the tune split's skin
    crops: luminance 12.9–14, chroma 5.1–6.2 in variance shares of 0.13–0.23, read 12.9–14
    and 1.7–3.6 dB under the input), where the chroma is the better reading and holds the
    luminance (:func:`_luma_at_most_chroma`). At :data:`CHROMA_FLOOR_UNSAVED` for every
    image not saved as JPEG, on the 39
    colour tune and held-out crops, every reading that changed improved: white σ 5 (6 crops)
    −2.85 → +2.86 dB over the input, σ 3 (16: chelsea, wood, foliage, skin, tissue, stone,
    fabric) −0.03 → +2.98 (below the input 8 → 3), σ 8 on skin +0.45 → +4.48, noise-free
    photos 43.0 → 48.8 dB; white σ 15 and 25, Poisson and JPEG'd noise unchanged, and two
    wood crops under demosaic-like σ 15 level (their luminance, raised to the smaller chroma
    over CHROMA_FLOOR by :func:`_luma_with_chroma_blur`, had that chroma rounded under the
    floor). But noise legitimately stronger in the luminance than in the chroma by 1.8 to 3.2
    times in σ (1/√0.3 to 1/√0.1) was then held to the chroma, 2–3 times under: a review found
    chroma noise reduction (the chroma's noise blurred by 0.5–0.8 px: luminance σ 10 read
    4.3–5.4), 4:2:2 video with its chroma repeated (σ 15 read 5.8), luminance-heavy grain. So
    the lower floor is taken only where the luminance's level is texture by its kurtoses
    (:func:`_unsaved_floor`: shares of 0–0.63 on the hubble, fur, tissue-stain and wood
    crops that gained above, 1.19–1.23 under chroma noise reduction, Gaussian noise in the
    luminance). That gives up the gains on the procedural stone, skin and fabric crops, whose
    fine detail is itself Gaussian-like (shares 1.02–1.24, or no bound). What it keeps, mean dB
    over the input: σ 5 on the three hubble crops −2.12 → +2.71, σ 3 on eight fur, wood,
    foliage and tissue-stain crops +2.34 → +5.16 (under the input 2 → 0), and 42.1 → 48.5 dB
    out of three noise-free photo crops.

    An image saved as JPEG (``jpeg``) does not have its luminance held to its chroma: JPEG
    quantises chroma more coarsely, so at full chroma resolution (4:4:4, where the chroma
    reads 0.7–0.97 of the luma and counts as measured) the chroma reads low for that reason,
    not because the luma holds texture (σ 20 at q75 on a photo: luma 19.5 held to 14.6, and
    1.2 dB lost against no hold; 0.9–1.8 dB on three photos and a colour wheel)."""
    if table.shape[0] < 3:
        return NoiseModel(table)
    lag = (table.shape[-1] - 1) // 2
    luma_level = float(table[0, 0, lag, lag])
    measured = True
    floor = CHROMA_FLOOR
    shares = [float(table[c, c, lag, lag]) / max(luma_level, 1e-300) for c in (1, 2)]
    if not jpeg and any(share < CHROMA_FLOOR for share in shares):
        floor = _unsaved_floor(table, luma, clipped)
    for c in (1, 2):
        if float(table[c, c, lag, lag]) < floor * luma_level:
            table[c, c] = table[0, 0]
            measured = False
    if measured and not jpeg:
        _luma_at_most_chroma(table)
    return NoiseModel(table, measured)


def _unsaved_floor(table: torch.Tensor, luma: torch.Tensor | None, clipped: torch.Tensor | None) -> float:
    """The floor under which a chroma channel of a colour image not saved as JPEG counts as
    under-read, where one reads under :data:`CHROMA_FLOOR` of the luminance's variance
    (``table``, the model's autocovariance; ``luma``, the luminance channel (H, W), and
    ``clipped``, the pixels at 0 or 1, which the kurtoses read).

    :data:`CHROMA_FLOOR` where the luminance's level is not over what its bands' kurtoses allow
    white Gaussian noise (its :func:`_white_share` at :data:`WHITE_HELD_BELOW` or over, as
    :func:`_grey_white` holds a grey level, or no bound: nothing to tell): the noise itself may
    be stronger in the luminance. Where the kurtoses read texture, :data:`CHROMA_FLOOR_UNSAVED`,
    and none at all where the chroma reads the noise (:func:`_chroma_reads_the_noise`)."""
    if luma is None:
        return CHROMA_FLOOR
    lag = (table.shape[-1] - 1) // 2
    level = float(table[0, 0, lag, lag])
    share, _ = _white_share(luma, level, clipped)
    if share is None or share >= WHITE_HELD_BELOW:
        return CHROMA_FLOOR
    return 0.0 if _chroma_reads_the_noise(table, share**2 * level) else CHROMA_FLOOR_UNSAVED


def _chroma_reads_the_noise(table: torch.Tensor, allowed: float) -> bool:
    """Whether the two chroma channels of a colour model (``table``, its autocovariance) read
    the image's noise, however far under the luminance's reading: both white and within
    :data:`CHROMA_AGREE` of each other in σ, and the larger level (variance) at most ``allowed``,
    what the luminance's kurtoses allow white noise there (:func:`_unsaved_floor`).

    Noise drawn for each of R, G and B alike puts the same level in the luminance and in both
    chroma channels of the orthonormal opponent space, white noise a white reading in each. At
    light noise a texture's fine detail, which lives in the luminance, raises its reading far
    over the chroma's, and the chroma is then the reading to take (:func:`_luma_at_most_chroma`),
    not one under-read: white σ 3 on the held-out star-field and tissue-stain crops read a
    luminance of 10–13.6 and chroma of 3.0–3.4 (shares 0.06–0.09, under
    :data:`CHROMA_FLOOR_UNSAVED`), which took the luminance's level for the chroma's and came
    out 1.2–5.5 dB under the input; read at the chroma they come out 1.8–4.3 dB over it, 0.2–0.3
    dB under CBM3D given σ 3. A noise-free crop of a cat's fur reads 0.6 instead of 9.3 (40.3 →
    59.7 dB). No other crop of either split under white σ 3, 5, 15 or 25, demosaic-like or
    Poisson noise, or noise-free, changed. Chroma subsampled (4:2:0) and upsampled smoothly reads
    a blurred spectrum and is not taken; noise reduced in the chroma alone reads far under the
    luminance where the kurtoses read Gaussian noise (:func:`_unsaved_floor`).

    The conditions on ``allowed`` and agreement keep noise stronger in the luminance where they
    can: where the luminance's kurtoses allow less white noise than the chroma reads (the tune
    split's wood, whose kurtoses allow none) they cannot tell texture from noise, and a
    luminance-heavy noise (σ 4 common to R, G and B plus σ 3 drawn for each) would be held to
    3.2 for 8.2 and lose 5.2–5.6 dB. What is given up: grain common to the three channels leaves
    the chroma reading only its own detail. Monochrome grain of σ 3 on five fur and astronaut
    crops of the tune split is read as the chroma's 0.6–2.0 and left in (1.25–2.1 dB under the
    luminance's reading, within 0.05 dB of the input, not under it), as is luminance-heavy grain
    of σ 3 on one (0.8 dB) and 4:2:0 chroma repeated by nearest neighbour on five (0.1–0.2 dB);
    on the held-out star-field and tissue crops the same grain gains 2.6–5.9 dB. A review's
    trial of 891 colour cases (light white noise on many crops, σ per channel, Poisson, video
    YCbCr noise, noise in linear light, Bayer demosaicing, synthetic colour patterns) found one
    more: chroma noise reduction by a 3×3 or 5×5 median keeps the chroma white, and under white
    σ 3–5 on astronaut and rocket crops it read 0.3–1.5 and lost 0.14–0.94 dB (never under the
    input); of the 46 results the rule moved by over 0.1 dB, the other 42 gained 0.13–14.4 dB,
    and none of the 46 is under the input now (37 were)."""
    lag = (table.shape[-1] - 1) // 2
    levels = [float(table[c, c, lag, lag]) for c in (1, 2)]
    if min(levels) <= 0.0 or max(levels) > CHROMA_AGREE**2 * min(levels) or max(levels) > allowed:
        return False
    return all(NoiseModel(table[c:c + 1, c:c + 1]).is_white for c in (1, 2))


def _luma_at_most_chroma(table: torch.Tensor) -> None:
    """Colour with both chroma channels measured: the luminance's level is held to the
    larger chroma level (its spectrum scaled down, in place).

    Noise independent between R, G and B, at any levels, has a luminance variance exactly
    the mean of the two chroma variances in the orthonormal opponent space (the transform
    keeps the trace; luminance is a third of it, and the chroma pair two thirds). Texture
    lives mostly in the luminance, so a luminance reading above both chroma readings is
    texture read as noise: 19.9 for σ 15 on the tune split's skin crops, whose chroma read
    15.0. Noise that is itself stronger in the luminance (common to the three channels)
    is then under-read, which costs less than an over-read: on the tune split, σ
    estimated, the mean Δ to CBM3D went from −0.05 to +0.08 dB at σ 15 (skin −1.2 → +0.4),
    −0.07 to −0.02 at σ 25; JPEG'd and correlated crops unchanged."""
    lag = (table.shape[-1] - 1) // 2
    luma = float(table[0, 0, lag, lag])
    cap = max(float(table[1, 1, lag, lag]), float(table[2, 2, lag, lag]))
    if luma > cap > 0.0:
        table[0, 0] *= cap / luma
