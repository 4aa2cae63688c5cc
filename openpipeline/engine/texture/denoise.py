"""The classical denoiser of the texture engine, checked by SURE.

A chain of estimates, each from the one before:

1. the sliding-DCT estimate (:func:`.dct_filters.dct_denoise`, hard threshold then
   Wiener), with the noise model's power per DCT band;
2. NL-Bayes' second step (:func:`.nl_bayes.nl_bayes_refine`) with 1 as its oracle
   (this beat NL-Bayes' own first step as the oracle by 0.3 dB on our crops);
3. the same step once more with 2 as the oracle, and on images up to 256² again with 3
   as the oracle (:func:`nl_bayes_passes`) — the last is **the guide** the engine reports.

The passes take 5×5 colour patches, and 7×7 grey ones under noise of σ 10 and over
(:func:`chain_params`).

By default the guide is the result. When a network fit is asked for (it must be checked
against something), each is run twice, on the image and on the image plus a small
noise-like probe, and :func:`.sure.sure_blend` picks the linear combination of the estimates and of the input,
per frequency band, whose Stein risk estimate is lowest (white, measured noise only:
SURE needs the true covariance, and on correlated noise, or with a guessed chroma level,
the blend came out below the guide by 0.7–1.6 dB on our crops, so there the guide is
the result; and grey images only: on colour crops SURE accepted blends that were below the
guide by up to 0.33 dB on 128² crops (retina, astronaut, coffee) and by 1.3 dB on a 512²
one, and no acceptance margin separated them from the gains). The blend is never worse than
the guide or the input by that estimate (their own weights are candidates), and it replaces
the guide only when it stays better for any noise power within ±:data:`SPREAD` of the model's
(:func:`blend_wins`): SURE's risk moves with the noise power, and a σ read a few per cent off
turned close verdicts (a blend 0.3 dB below the guide on a brick crop read at σ 14.3 for 15).
With that rule the blend was worth about +0.02 dB a grey tune crop for a second run of the
chain, so it is no longer the default result (``rated=False``: one run, the guide).

White noise is filtered at :data:`WHITE_STRENGTH` of its level (:func:`filtering_model`):
the chain over-smooths at the true level, and an over-read σ on a busy texture costs less.
On grey images the strength is chosen by generalised cross-validation instead
(:func:`gcv_strength`), which needs no noise level and so is not fooled by a σ read high; so
is it on a colour image whose luminance reads far over its chroma (:func:`_luma_over_chroma`).

:func:`choose_with_fit` compares that blend with a Deep Image Prior fit's output
(after its last Wiener pass) by SURE and keeps the better: the fit's divergence is read
on the Wiener pass with the fit's output held fixed, which leaves out how the fit
itself moved with the probe (an under-estimate of its risk).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from openpipeline.engine.texture.dct_filters import WINDOW, dct_denoise, dct_wiener
from openpipeline.engine.texture.nl_bayes import NlBayesParams, nl_bayes_refine
from openpipeline.engine.texture.noise_model import NoiseModel
from openpipeline.engine.texture.sure import Blend, divergences, probe_for, sure_blend, sure_blend_with

# The blend replaces the guide only when SURE rates it better for every noise power within
# ±SPREAD of the model's: SURE's verdict between two estimates this close turns with a σ error
# of a few per cent (its risk is linear in the noise power), and the estimate is that far off on
# clean or busy crops. On the tune split's grey crops the old rule (2 % better at the model's
# power) took 23 of 36 blends, 7 of them below the guide (down to −0.33 dB, brick at σ 14.3 for
# 15); ±15 % takes 8, none below the guide, keeping +0.67 of the +1.40 dB summed gain.
SPREAD = 0.15
# An image with a side under this many real pixels (a strip, a thumbnail; the engine pads
# it to the generator's least size by mirroring) gets the sliding-DCT estimate alone:
# NL-Bayes' 5×5 patches and 21² search then mostly see mirrored copies of the same rows,
# and a padded 1×5000 strip cost 11 tiles × two NL-Bayes chains (its test took 66 s; 14.5 s now).
THIN_SIDE = 16
# SURE's divergences (the chain run again on the image plus a probe) are read on a central
# window of this side when the image holds more than twice its pixels: the chain then runs
# on the window twice instead of on the whole image once more.
PROBE_SIDE = 192
# The chain filters white noise as if its level were this fraction of the model's (SURE still
# weighs its risk with the model itself). NL-Bayes' Wiener step and the DCT thresholds
# over-smooth at the true level: on the tune split's 36 crops, filtering at 0.9 × the estimated σ
# gained 0.07–0.13 dB on grey and 0.12–0.25 dB on colour crops (white σ 15/25, JPEG'd σ 20) and
# softens an over-read σ on busy textures; 0.85 lost again on white noise. Correlated models keep
# their level (0.9 lost 0.5 dB on colour crops there: their fitted level already reads low).
# Nor is a grey correlated model's strength picked by GCV (measured 2026-12-03, and not kept):
# with probes drawn from the model's own spectrum S and the score mean(r²)/(1 − tr(J·S)/N)², its
# pick among 0.6–1.0 of the read level lost 0.66 dB on the tune split's 12 grey crops under
# demosaic-like σ 15 (brick −2.5, brushed metal −3.8) and 2.3 dB on clock and cell photos no
# split holds, though it would have mended the held-out coins crops (read 20–22 for 15; the
# best strength +0.9 to +1.7 dB) and grey Bayer noise read 2× too high (+2 dB). The chain keeps
# 60–80 % of correlated noise's degrees of freedom (tr(J·S)/N: its low frequencies are the
# content's too), far beyond the small share GCV's approximation needs: its scores moved 3 %
# over strengths whose results spanned 5 dB, and on a camera crop read right it preferred 0.45
# by 25 %, 2 dB worse.
WHITE_STRENGTH = 0.9

# NL-Bayes passes after the sliding-DCT estimate, each with the one before as its oracle (see
# nl_bayes_passes): three up to FULL_PASSES_UP_TO pixels, two above.
PASSES = 3
FULL_PASSES_UP_TO = 256 * 256

# A grey image's NL-Bayes passes take 7×7 patches, 64 to a group, where its noise's level is
# at least GREY_PATCH_FROM (0..1 units); colour, and lighter noise, keep the defaults (5×5
# patches, 48 to a group: see chain_params).
GREY_PATCH = 7
GREY_GROUP = 64
GREY_PATCH_FROM = 10 / 255

# Grey images with white noise: the filtering strength is chosen by GCV (see gcv_strength)
# among these fractions of the read σ, on a central window of this side.
GCV_STRENGTHS = (0.75, 0.9)
GCV_SIDE = 96
GCV_STEP = 0.02  # the Monte-Carlo divergence's step, a fraction of the read σ
GCV_SEED = 7919
# Under a light reading (under GREY_PATCH_FROM) where GCV took the lower of its strengths, it
# also rates GCV_LOWER, and takes it only where its score is GCV_LOWER_MARGIN under the other's
# (see _gcv_choice).
GCV_LOWER = 0.6
GCV_LOWER_MARGIN = 0.05
# A colour image whose luminance reads at least LUMA_OVER_CHROMA times its chroma's larger level
# has its strength chosen by GCV too, on the colour chain over a central COLOUR_GCV_SIDE² window
# (see _luma_over_chroma).
LUMA_OVER_CHROMA = 1.5
COLOUR_GCV_SIDE = 48
# GCV's divergence is averaged over this many Monte-Carlo probes, the same ones for every
# strength (see gcv_strength).
GCV_PROBES = 4


@dataclass(frozen=True, eq=False)
class Denoised:
    """A tile's classical estimate (``image``: the guide, or the SURE blend where one was
    rated and won) and the guide (NL-Bayes), (1, C, H, W)."""

    image: torch.Tensor
    guide: torch.Tensor
    blend: Blend | None  # None unless rated, and for noise SURE cannot judge (see classical_denoise)
    probe: torch.Tensor | None  # SURE's probe, with the blend


def band_sigma(noise: NoiseModel) -> torch.Tensor:
    """The noise level of every sliding-DCT band, per channel: (C, n²)."""
    return noise.band_power(WINDOW).sqrt()


def filtering_model(noise: NoiseModel, strength: float = WHITE_STRENGTH) -> NoiseModel:
    """The noise model the chain filters with: white noise at ``strength`` of its level."""
    return noise.scaled(strength**2) if noise.is_white else noise


def _chain(noisy: torch.Tensor, noise: NoiseModel, circular: bool,
           strength: float = WHITE_STRENGTH, passes: int | None = None,
           params: NlBayesParams | None = None) -> list[torch.Tensor]:
    """The chain's estimates (see the module doc), filtering with :func:`filtering_model`;
    ``passes`` NL-Bayes passes (default: :func:`nl_bayes_passes` for this image's size), with
    NL-Bayes' knobs ``params`` (default: :func:`chain_params`)."""
    params = chain_params(noisy, noise) if params is None else params
    noise = filtering_model(noise, strength)
    if passes is None:
        passes = nl_bayes_passes(noisy.shape[-2], noisy.shape[-1])
    with torch.no_grad():
        dct = dct_denoise(noisy, band_sigma(noise), circular)
        estimates = [dct]
        for _ in range(passes):
            estimates.append(nl_bayes_refine(noisy, estimates[-1], noise, circular, params))
    return estimates


def chain_params(noisy: torch.Tensor, noise: NoiseModel) -> NlBayesParams:
    """NL-Bayes' knobs for the chain's passes over a (1, C, H, W) image: the defaults for its
    size (:meth:`.nl_bayes.NlBayesParams.for_image`), and on a grey image whose noise's level
    (before :func:`filtering_model`) is at least :data:`GREY_PATCH_FROM`, :data:`GREY_PATCH`²
    patches, :data:`GREY_GROUP` to a group.

    A grey 5×5 patch holds 25 values against a colour one's 75, too few to tell a texture's
    repeats from its noise once the noise is strong. On the tune split's 12 grey crops, σ
    estimated as the CLI runs (GCV's pick made on 5×5 patches, :func:`_gcv_choice`), mean
    (worst crop): white σ 15 +0.13 dB (−0.08), σ 25 +0.23 (+0.01), JPEG'd σ 20 at q85 +0.20
    (−0.03), demosaic-like σ 15 +0.24 (−0.20), photon noise +0.12 (−0.22), brushed metal and
    brick most (+0.3 to +0.5); on the held-out grey crops (grass, coins, a photo: less
    regular) +0.01 to +0.05 per kind, the worst −0.15. Under light noise (levels read 1–8)
    brick and moon lost up to 0.34 dB, and clean gravel saved at q95, its grain read as noise
    of 4.7–5.3, 1.2–1.5 dB (to 1–2 dB under the JPEG itself): there the 5×5 patches stay (all
    the named kinds read 11 and over, light ones 8 and under). 8×8 gained about as much (white
    σ 15 +0.19, σ 25 +0.24) with a worse worst crop (−0.40) in 1.5× the time; 7×7 with 96 to
    a group less (+0.06, +0.10); 6×6 with 64 half as much. On colour crops 7×7 and 64 lost
    (wood −0.9 to −1.3 dB, foliage −0.2 to −0.5). The chain itself on a grey 128² crop takes
    0.9 s of one thread with them against 0.4 s with 5×5 (the whole denoise, with GCV's window
    chains: see :func:`classical_denoise`).
    """
    params = NlBayesParams.for_image(noisy.shape[-2], noisy.shape[-1])
    if noisy.shape[1] != 1 or noise.sigma < GREY_PATCH_FROM:
        return params
    return replace(params, patch=GREY_PATCH, group2=GREY_GROUP)


def nl_bayes_passes(height: int, width: int) -> int:
    """How many NL-Bayes passes the chain makes on an image of this size.

    The third pass gained 0.08 dB a crop on the tune split at σ 15 and 25 (true σ; wood
    +0.4 → +1.0 dB to CBM3D, brushed metal −0.85 → −0.95) for about 30 % more time. On a
    512² colour texture three passes take 21.6 s of one thread (the target is 20 s);
    three with references every 5 pixels instead of 4 fit (15.8 s for the chain) but lost
    0.08 and 0.01 dB on two of the tune split's three 512² crops (gained 0.58 on wood) and
    0.11 dB on the held-out 512² mean, so images over 256² keep two passes at every 4.
    """
    return PASSES if height * width <= FULL_PASSES_UP_TO else PASSES - 1


def _central(image: torch.Tensor, side: int) -> torch.Tensor:
    """The central side² window of a (…, H, W) tensor (all of a side shorter than ``side``)."""
    height, width = image.shape[-2:]
    top, left = max((height - side) // 2, 0), max((width - side) // 2, 0)
    return image[..., top:top + side, left:left + side]


def gcv_strength(noisy: torch.Tensor, noise: NoiseModel, circular: bool, seed: int = 0) -> float:
    """The strength (a fraction of the model's white-noise level) the chain should filter a
    grey image with, by generalised cross-validation on a central window.

    GCV (Craven & Wahba 1979) rates an estimate f of y by ``mean((y − f)²) / (1 − div f / N)²``
    and needs no noise level: a σ read too high (fine texture taken for noise) cannot make
    it favour over-smoothing, as it makes SURE and a fixed strength. The divergence is a
    Monte-Carlo one: the chain run again on y + ε·b for :data:`GCV_PROBES` Gaussian probes b,
    averaged, the same probes for both strengths. Candidates
    :data:`GCV_STRENGTHS`. On the tune split's grey crops (white σ 15) with σ given 30 %
    high, the chain at 0.9 of it gave 33.69 dB on average, GCV's pick 34.50 (with 0.6 also
    a candidate) and the best candidate 34.53; with σ right, 34.55 / 34.57 / 34.58. 0.6 is
    not a candidate: on a held-out camera crop at σ 25 GCV's scores were within 8 % of each
    other and it took 0.6, 2.8 dB below 0.75 (GCV is flat where the estimator keeps much of
    the noise); without it the tune mean with σ 30 % high (12 sources) rose 0.23 dB, not 0.27.

    On a JPEG (the tune split's 12 grey crops, mean dB over the input): GCV's pick against 0.9
    always, σ 5 at q90 +6.33 / +6.50, σ 10 at q75 +7.81 / +7.80, σ 20 at q85 +11.04 / +10.86,
    noise-free at q90 +0.48 / +0.00 (9 crops): kept. With 0.6 a candidate too, q90 fell to
    +5.71 and q75 to +6.26 (quantised noise is not the white noise GCV assumes).

    The two scores sit within a few per cent of each other, so one probe's draw turned the pick
    on most crops. On the tune split's 12 grey crops and its 24 colour crops' luminance, σ read
    as the CLI reads it (white path), each rule over 8 probe draws, mean dB against 0.9 always
    (the better of the two per crop: white σ 15 +0.09, σ 25 +0.19, JPEG'd σ 20 at q85 +0.27,
    σ 5 +0.18): one probe −0.05 / +0.04 / +0.15 / +0.08, its pick turned with the draw on
    26, 26, 20 and 20 of 33–36 crops; four probes −0.03 / +0.13 / +0.18 / +0.09, turning on 7,
    3, 7 and 7; eight +0.14 on σ 25 and σ 5 but +0.17 on JPEGs, for twice the time again.
    Rademacher (±1) probes, which leave out the Jacobian's diagonal from the estimate's
    variance, were no steadier (one probe turned on 25 of 33), and picking 0.75 only where it
    wins by a margin (0.5–4 %) gained on σ 15 and lost more on σ 25 and JPEGs.

    The probed chains search their own groups. Handed the unprobed chain's instead (the search
    is piecewise constant, so that is the derivative almost everywhere; a grey 128² crop under
    light noise 3.75 → 2.47 s), the divergence came out too small: the tune split's brick crop
    under white σ 25 (σ given) picked 0.75 with five of five probe seeds, 1.8 dB under 0.9. How
    the search itself moves with the noise is part of the chain's degrees of freedom.
    """
    return _gcv_choice(noisy, noise, circular, seed)[0]


def _gcv_choice(noisy: torch.Tensor, noise: NoiseModel, circular: bool, seed: int,
                level_read: bool = False, side: int = GCV_SIDE) -> tuple[float, list[torch.Tensor] | None]:
    """:func:`gcv_strength`'s choice, and, when its window is the whole image and its chain
    the image's own, the chain's estimates at that strength (already computed there; None
    otherwise).

    On an image up to :data:`FULL_PASSES_UP_TO` pixels the window's chain makes the window's
    own three NL-Bayes passes and takes NL-Bayes' default 5×5 patches, also where the image's
    own chain takes 7×7 ones (:func:`chain_params`): GCV's scores for the two strengths sit
    within a few per cent of each other, and the larger patches moved them enough to turn
    picks that cost 0.7–1.3 dB (the held-out benchmark's camera and grass crops under white
    σ 15 and JPEG'd σ 20, where the 7×7 chain at the 5×5 chain's pick gained 0.2 dB instead);
    the 7×7 chain was better than the 5×5 one at either strength there. So there the pick
    stays the one the 5×5 chain makes, and the larger patches only filter at it.

    On a larger image (a 512² texture, a tile of a bigger one) the window is a small part of
    it and its chain is the image's own (:func:`_window_params`): the image's two passes and
    its patches. Rated with the window's three passes and 5×5 patches, the pick was the
    worse strength on 5 of the 12 grey 512² crops of both splits (their luminance) under
    white σ 15 and 25, 0.08–0.56 dB under the other (0.16 dB on average; a 192² window picked
    the same). With the image's chain it turned on three, each to the better strength
    (held-out immunohistochemistry σ 25 +0.28 dB, tune wood σ 15 and 25 +0.21 and +0.38), and
    no pick turned to the worse; astronaut (σ 15 and 25, 0.44–0.56 dB) and a stone crop
    (0.08) still pick the worse one. With the passes alone only the stain crop turned.

    With ``level_read`` (the level was read from the image, not given by the user, and the
    image does not look saved as JPEG), a light reading (under :data:`GREY_PATCH_FROM`) whose
    pick is the lower strength is rated once more at :data:`GCV_LOWER`, taken only where its
    score is :data:`GCV_LOWER_MARGIN` (5 %) under the pick's: a busy grey texture's own fine
    detail read as light noise, nearly twice its level, is smeared at 0.75 of it. On the tune
    split's 12 grey crops and 24 colour crops' luminance under two noise draws of white σ 5,
    the skin crops read 9.1–9.3 and rate 0.6 4.7–10 % better (3.0–3.1 dB better), 5 of 6 taken
    (+0.18 and +0.26 dB on the draws' means); of the crops read right, GCV rated 0.6 better on
    a few but by 4 % at most (an astronaut crop under σ 5 and 8, 0.6–1.1 dB worse there):
    none taken, and no crop under white σ 8 or 10 changed. Going on down to 0.5 cost up to
    2.9 dB (GCV's scores flatten as the estimator nears the identity, see
    :func:`gcv_strength` on 0.6). JPEGs are left out (σ 5 at q90: GCV rated 0.6 up to 10 %
    better where it was 0.6–3 dB worse), and a σ the user gave is not second-guessed. It costs
    five more chains on the window where it is asked (about 1.4 s).

    Not the answer to a busy grey texture under light noise read 2–3 times too high (measured
    2026-12-03): on the held-out grass crops under white σ 3 and 5 (read 7.7–8.9) GCV's score
    rises steadily as the strength falls from 0.9 to 0.3, though 0.4–0.6 is 0.6–2.6 dB better
    than its pick, as close to the input as CBM3D given σ: GCV, like the level reading, takes
    the blades for noise. On coins and camera crops so read its least score lay at 0.5–0.6
    where those were best, but stepping on to 0.5 where its score beats 0.6's turned one pick.

    ``side``: the window's side (:data:`GCV_SIDE`; a colour image's, :data:`COLOUR_GCV_SIDE`)."""
    part = _central(noisy, side)
    judge, passes = _window_params(part, noisy, noise)
    whole = part.shape[-2:] == noisy.shape[-2:]
    wraps = circular and whole  # only the whole image still wraps
    generator = torch.Generator().manual_seed(seed + GCV_SEED)
    probes = [torch.randn(part.shape, generator=generator, dtype=part.dtype) for _ in range(GCV_PROBES)]
    step = GCV_STEP * max(noise.sigma, 1e-4)

    def rated(strength: float) -> tuple[float, float, list[torch.Tensor]]:
        """GCV's score at ``strength``, the strength, and the window chain's estimates there."""
        estimates = _chain(part, noise, wraps, strength, passes, judge)
        estimate = estimates[-1]
        divergence = 0.0
        for probe in probes:
            moved = _chain(part + step * probe, noise, wraps, strength, passes, judge)[-1]
            divergence += float((probe * (moved - estimate)).sum()) / step / part.numel() / len(probes)
        return float(((part - estimate) ** 2).mean()) / max(1.0 - divergence, 1e-3) ** 2, strength, estimates

    best = min((rated(strength) for strength in GCV_STRENGTHS), key=lambda rating: rating[0])
    if level_read and best[1] == min(GCV_STRENGTHS) and noise.sigma < GREY_PATCH_FROM:
        lower = rated(GCV_LOWER)
        if lower[0] < (1.0 - GCV_LOWER_MARGIN) * best[0]:
            best = lower
    return best[1], best[2] if whole and chain_params(noisy, noise) == judge else None


def _window_params(part: torch.Tensor, noisy: torch.Tensor,
                   noise: NoiseModel) -> tuple[NlBayesParams, int | None]:
    """NL-Bayes' knobs and passes for GCV's window ``part`` of ``noisy`` (:func:`_gcv_choice`):
    the window's own (its size's defaults and passes: None) on an image up to
    :data:`FULL_PASSES_UP_TO` pixels; above, the image's chain's patches and passes.

    Two passes on the window instead of its three (measured 2026-12-03, not kept) took 25–35 %
    off a grey 128² crop (held-out white σ 5: median 4.8 → 3.2 s) and kept the pick on 192 of
    199 grey readings (both splits and three photos no split holds, white σ 3–25, JPEG'd and
    photon noise); six of the seven that turned went to 0.9 (the shorter chain keeps more
    noise): a held-out camera crop −3.0 dB under white σ 3 (read 7.8) and −0.6 under σ 25,
    against a tune brick crop under JPEG'd σ 20 +0.8 and a clock photo under σ 25 +0.95. Mixed,
    with the worst turn on held-out data and the speed target met with three, so not kept."""
    judge = NlBayesParams.for_image(part.shape[-2], part.shape[-1])
    height, width = noisy.shape[-2:]
    if height * width <= FULL_PASSES_UP_TO:
        return judge, None
    own = chain_params(noisy, noise)
    return replace(judge, patch=own.patch, group2=own.group2), nl_bayes_passes(height, width)


def _thin_estimate(noisy: torch.Tensor, noise: NoiseModel, circular: bool,
                   real: tuple[int, int]) -> torch.Tensor:
    """The sliding-DCT estimate of an image mirrored from ``real`` rows/columns: a DCT
    window then holds about WINDOW/side copies of each real row, so its noise power is
    that many times the model's (exact for a side of one pixel, where the noise is the
    same in every row of the window)."""
    power = 1.0
    for side in real:
        power *= WINDOW / min(max(side, 1), WINDOW) if side < THIN_SIDE else 1.0
    with torch.no_grad():
        return dct_denoise(noisy, band_sigma(noise) * power ** 0.5, circular).clamp(0, 1)


def _divergences(noisy: torch.Tensor, estimates: list[torch.Tensor], probe: torch.Tensor, noise: NoiseModel,
                 circular: bool) -> list[float]:
    """SURE's divergences per pixel for the chain's estimates: on the whole image, or on a
    central PROBE_SIDE² window of a large one (the chain run there with and without the probe,
    with as many NL-Bayes passes as the whole image's: one divergence per estimate)."""
    height, width = noisy.shape[-2:]
    passes = len(estimates) - 1
    if height * width <= 2 * PROBE_SIDE**2:
        moved_chain = _chain(noisy + probe, noise, circular, passes=passes)
        return divergences(noisy, estimates, moved_chain, probe, noise)
    part, moved = _central(noisy, PROBE_SIDE), _central(probe, PROBE_SIDE)
    return divergences(part, _chain(part, noise, False, passes=passes),
                       _chain(part + moved, noise, False, passes=passes), moved, noise)


def _luma_over_chroma(noise: NoiseModel) -> bool:
    """Whether a colour white-noise model's luminance reads at least :data:`LUMA_OVER_CHROMA`
    times the larger of its two chroma levels. White noise independent between R, G and B is as
    strong in each opponent channel, and a texture's fine detail lives mostly in the luminance, so
    a luminance read far over its chroma most likely holds detail read as noise. Such an image's
    strength is GCV's pick on the colour chain, as a grey image's is (:func:`_gcv_choice` on a
    central :data:`COLOUR_GCV_SIDE`² window, stepping down to :data:`GCV_LOWER` under a light
    reading); any other colour image keeps :data:`WHITE_STRENGTH` and costs nothing more.

    Both splits' 39 colour 128² crops, σ read as the CLI reads it: of 117 readings under white σ
    3, 5 and 8 the gate took 13, the tune split's skin crops under all three (luminance read
    13–16, chroma 3–9) and the held-out Voronoi stone crops under σ 3 and one under σ 5
    (luminance 7–9.3, chroma 3–5); of 312 under white σ 10, 12, 15 and 25, Bayer, photon and
    both correlated kinds, none. dB over :data:`WHITE_STRENGTH`: skin σ 3 +4.1 to +7.9 (from
    7 dB under the noisy input to 0.8–1.2 over it on two of the three), σ 5 +3.2 to +3.6 (from
    3 dB under the input to level with it), σ 8 +2.2 to +2.8; stone σ 3 +1.9 to +2.5, σ 5 +1.6;
    none lower. 1.4 s → 3.6–4.9 s for those crops (one thread, 128², two processes at once).
    Without the gate (GCV on every colour light reading) one more crop changed (a held-out star
    field under σ 8, +0.6 dB) at 2.4× the time on every colour crop (1.4 → 3.3 s, median), and
    three held-out crops under photon noise made white (``stabilised``, left out) lost up to
    0.23 dB; a 64² window was no better than 48². GCV on the luminance alone, as a grey image at
    its own level, missed the skin crops: their luminance reads over :data:`GREY_PATCH_FROM`,
    where a grey reading takes no step down."""
    if noise.channels < 3 or not noise.is_white:
        return False
    levels = noise.variances.clamp_min(0.0).sqrt()
    return float(levels[0]) >= LUMA_OVER_CHROMA * float(levels[1:3].max())


def classical_denoise(noisy: torch.Tensor, noise: NoiseModel, circular: bool = False,
                      seed: int = 0, real: tuple[int, int] | None = None, rated: bool = False,
                      stabilised: bool = False, level_read: bool = False) -> Denoised:
    """The classical estimate of a (1, C, H, W) image: the guide, or with ``rated`` (a fit
    will be checked against it) the SURE blend of the chain's estimates where SURE can judge.

    ``real``: the (height, width) of the image before the engine padded it; with a side
    under :data:`THIN_SIDE` the estimate is the sliding-DCT one alone (no NL-Bayes, no
    SURE), see :func:`_thin_estimate`.

    ``stabilised``: the image is photon noise made white by the generalised Anscombe
    transform (:mod:`.signal_noise`), its level the transform's: a grey one is filtered at
    :data:`WHITE_STRENGTH`, not at GCV's pick. On the 7 tune grey crops under photon noise
    that take that path, 0.9 came out 0.4–2.9 dB over 0.75 on every one, and GCV's pick,
    whose close scores turn with its probe, was 0.75 on 9 of 35 probe draws (brick/128/1 on
    the benchmark's draw: +1.6 dB now; the other crops of the split unchanged). It did not
    carry over: on the held-out split two grey crops changed, both for the worse (a busy
    field in the camera photo −0.54 dB, grass −0.08), where the transform's level, fitted to
    the flattest patches, took some texture too and GCV's 0.75 had been right. This is the
    better default on the evidence of both splits together (+1.6 against −0.6 dB over the three
    crops that changed), and stayed so once GCV averaged four probes: on the 16 tune grey and
    luminance crops that take the photon path 0.9 was the better strength on every one, and
    GCV's four-probe pick came out 0.14 dB under it on average (one probe: 0.31).

    Except under a light stabilised level (under :data:`GREY_PATCH_FROM`), which is read as
    any light level is and judged by GCV as one (with ``level_read``, its step down included):
    there a bright busy texture over dark flat areas fakes a rise of the noise with the signal
    (the held-out camera crops under white σ 3 and 5, their dark coat's flat patches reading
    the noise and the lit field's texture the rise: taken for photon noise of 560–850 photons
    at white and filtered at 0.9, 2.8–5.0 dB under the white path), and GCV's picks gained 2.1–3.0
    dB on three of those four (two still 1.2–2.8 dB under the input; the fourth unchanged). The
    tune split cannot tell: of its grey crops under photon noise of 300, 1000 and 3000 photons
    at white (read σ 1), the 12 that take the photon path kept 0.9 wherever GCV was asked.

    ``level_read``: the noise level was read from an image not saved as JPEG (or stabilised),
    not given: GCV may then step below its strengths on a light reading (:func:`_gcv_choice`).

    Cost: the chain (twice with ``rated``); a grey image without ``rated`` also runs it ten
    times on a 96² window for :func:`gcv_strength` (two strengths, each with its four probes):
    about 3–3.4 s for a grey 128² tile on one thread under noise of σ 10 or more (its 7×7
    patches, :func:`chain_params`; 2.6–2.9 s under lighter
    noise, about 4 s where GCV steps down), 1.2 s for a colour one (3.6–4.9 s where its
    luminance reads far over its chroma and GCV picks its strength, :func:`_luma_over_chroma`).
    """
    if real is not None and min(real) < THIN_SIDE:
        dct = _thin_estimate(noisy, noise, circular, real)
        return Denoised(dct, dct, None, None)
    grey_white = noise.is_white and noisy.shape[1] == 1
    strength, estimates = WHITE_STRENGTH, None
    if grey_white and not rated and (not stabilised or noise.sigma < GREY_PATCH_FROM):
        strength, estimates = _gcv_choice(noisy, noise, circular, seed, level_read)
    elif not rated and level_read and not stabilised and _luma_over_chroma(noise):
        strength, estimates = _gcv_choice(noisy, noise, circular, seed, level_read, COLOUR_GCV_SIDE)
    if estimates is None:
        estimates = _chain(noisy, noise, circular, strength)
    if not rated or not (grey_white and noise.measured):  # the guide
        guide = estimates[-1].clamp(0, 1)
        return Denoised(guide, guide, None, None)
    probe = probe_for(noise, tuple(noisy.shape), seed)  # drawn only where SURE will judge
    blend = sure_blend_with(noisy, estimates, _divergences(noisy, estimates, probe, noise, circular), noise)
    guide = estimates[-1].clamp(0, 1)
    if not blend_wins(blend, len(estimates) - 1):
        return Denoised(guide, guide, blend, probe)  # a gain within the σ estimate's error: the guide
    return Denoised(blend.image.clamp(0, 1), guide, blend, probe)


def blend_wins(blend: Blend, guide: int) -> bool:
    """Whether SURE rates the blend better than candidate ``guide`` for noise powers from
    1 − :data:`SPREAD` to 1 + :data:`SPREAD` times the model's (both ends suffice: linear in it)."""
    for k in (1.0 - SPREAD, 1.0 + SPREAD):
        risks = blend.risks_at(k)
        if risks[0] >= risks[1 + guide]:
            return False
    return True


def choose_with_fit(noisy: torch.Tensor, classical: Denoised, fitted: torch.Tensor, noise: NoiseModel,
                    circular: bool = False) -> tuple[torch.Tensor, bool]:
    """The fit's output (``fitted``, the Wiener pass's pilot) or the classical blend, whichever
    SURE rates better. Returns the chosen (1, C, H, W) image and whether it was the fit's."""
    if classical.blend is None or classical.probe is None:
        return classical.image, False
    sigma = band_sigma(noise)
    with torch.no_grad():
        final = dct_wiener(noisy, fitted, sigma, circular)
        moved = dct_wiener(noisy + classical.probe, fitted, sigma, circular)
    rated = sure_blend(noisy, [final], [moved], classical.probe, noise)
    if rated.candidate_risks[0] < classical.blend.risk:
        return final.clamp(0, 1), True
    return classical.image, False
