"""Texture restoration as artists have textures: files, alpha, HDR, tiles, UDIMs.

:func:`restore` takes a float image (H, W, C) and runs one Deep Image Prior
operation over it in overlapping tiles with feathered blending, so memory stays
bounded whatever the image size (a 4096² texture runs in well under 4 GB).
:func:`restore_file` adds file handling: reading through OpenImageIO, alpha that
passes through untouched, file values mapped into the generator's 0..1 range and
back (:mod:`.value_range`: HDR through a per-image log map), known pixels copied from
the file bit for bit, normal maps renormalised, the output written in the input's bit
depth under a temporary name and renamed into place. Everything that can be refused
(parameters, inputs, masks, outputs) is refused before any work. UDIM sets
(``name.<UDIM>.ext``: every ``name.1001.ext``, ``name.1002.ext``... on disk) are
processed as one job and published together.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from openpipeline.atomic import publish_together
from openpipeline.engine.devices import pick_device, pick_threads
from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.images import Image, write_image_to
from openpipeline.engine.progress import Progress, ProgressCallback, Reporter
from openpipeline.engine.texture.arrays import image_tensor
from openpipeline.engine.texture.denoise import Denoised, choose_with_fit, classical_denoise
from openpipeline.engine.texture.fitting import FitOptions, FitResult, FitTask, fit
from openpipeline.engine.texture.guide_check import (
    GUIDED_CAP_SHARE,
    GUIDED_PATIENCE,
    GuidePlan,
    guide_only,
    inpaint_plan,
    upscale_plan,
)
from openpipeline.engine.texture.inputs import (
    InputFile,
    check_arrays,
    check_mask,
    colour_channels,
    kept_alpha,
    read_inputs,
)
from openpipeline.engine.texture.network import (
    RECIPE,
    RECIPE_INPAINT,
    RECIPE_UPSCALE,
    NetConfig,
    fast_config,
    guided_input,
)
from openpipeline.engine.texture.noise_estimate import (
    estimate_noise,
    held_to_patch_variance,
    looks_jpeg_compressed,
    model_for_level_on_jpeg,
)
from openpipeline.engine.texture.noise_level import estimate_sigma
from openpipeline.engine.texture.noise_model import NoiseModel
from openpipeline.engine.texture.params import MAX_SIGMA, MIN_SIDE_FOR_SIGMA, RestoreParams
from openpipeline.engine.texture.signal_noise import Stabilised, estimate_signal_noise, stabilise
from openpipeline.engine.texture.sparse_fill import aligned_bicubic, biharmonic_fill
from openpipeline.engine.texture.stopping import TimeCap
from openpipeline.engine.texture.tiles import feather, tile_layout
from openpipeline.engine.texture.udim import output_for
from openpipeline.engine.texture.value_range import ValueMap

# Fraction of pixels held out as a validation set, by operation (see fitting.fit). Denoising
# stops on the noise level instead: on noisy pixels the held-out error is too flat.
HOLDOUT = {"inpaint": 0.05, "upscale": 0.05, "flash": 0.05}

# The default cap on one tile's fit when the user gives neither --time-budget nor
# --max-iterations: 60 s per 128² output pixels of the tile (never under 60 s), so a 128²
# crop stops within about a minute on one thread and a 512² tile within 16. A fit it ends
# (stop reason 'time cap'), like one that reaches the configuration's iteration cap, did
# not converge, and the run says so in its warnings.
DEFAULT_CAP_SECONDS = 60.0
DEFAULT_CAP_PIXELS = 128 * 128
# Grain read on a grey image at this level or above (8-bit levels) comes with a warning (see
# _grey_grain_caution).
GRAIN_CAUTION_FROM = 5.0



@dataclass
class RestoreResult:
    """The restored image, the run's statistics, and (denoising with our configuration)
    the classical guide the engine built (same shape as ``image``; None otherwise)."""

    image: NDArray[np.float32]
    stats: dict[str, Any] = field(default_factory=dict)
    guide: NDArray[np.float32] | None = None


# -- normal maps ---------------------------------------------------------------------
def renormalise_normals(encoded: NDArray[np.float32]) -> NDArray[np.float32]:
    """Tangent-space normal map (0..1 encoded): unit vectors again.

    Three or more channels: the first three are the vector and become unit length.
    Two channels (a BC5-style RG map, z rebuilt by the shader): x and y are only
    shortened where they are longer than 1, so z stays real. Fewer are refused
    earlier (see :func:`read_inputs`).
    """
    out = np.array(encoded, dtype=np.float32)
    count = min(out.shape[-1], 3)
    vectors = out[..., :count] * 2.0 - 1.0
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    shortest = 1e-6 if count == 3 else 1.0  # RGB: every vector to length 1; RG: only the long ones
    vectors = vectors / np.maximum(length, shortest)
    out[..., :count] = (vectors + 1.0) / 2.0
    return out


# -- one image, tile by tile ----------------------------------------------------------
def choose_config(params: RestoreParams) -> NetConfig:
    """The generator for a job: ours (:func:`.network.fast_config`), or the published
    recipe with ``params.recipe``."""
    if params.recipe:
        return {"denoise": RECIPE, "inpaint": RECIPE_INPAINT, "flash": RECIPE}.get(
            params.operation) or RECIPE_UPSCALE[params.output_factor]
    return fast_config(params.operation, params.output_factor)


def _noise_level(image: NDArray[np.float32], params: RestoreParams,
                 jpeg: bool = False) -> tuple[float | None, NoiseModel | None]:
    """σ in 0..1 for denoising (``params.sigma`` or estimated from the image) and, with our
    configuration, the noise model (shaped for a given σ, :func:`_given_level`, else estimated:
    see :mod:`.noise_estimate`; read as a JPEG's where ``jpeg``, :func:`_looks_jpeg`); None and
    None for other operations."""
    if params.operation != "denoise":
        return None, None
    if params.sigma is None and min(image.shape[:2]) < MIN_SIDE_FOR_SIGMA:
        raise EngineInputError(f"The image is too small ({image.shape[1]}×{image.shape[0]}) to estimate its "
                               f"noise level; give --sigma.")
    model = None
    if params.sigma is not None:
        sigma = params.sigma / 255.0
        model = None if params.recipe else _given_level(image, sigma, jpeg)
    elif params.recipe:
        sigma = estimate_sigma(image)
    else:
        model = estimate_noise(image, jpeg=jpeg)
        sigma = model.sigma
    if sigma <= 0:
        raise EngineInputError("The image shows no noise to remove (estimated σ is 0).")
    return sigma, model


def _held_to_patches(image: NDArray[np.float32], params: RestoreParams, noise: NoiseModel | None,
                     jpeg: bool) -> NoiseModel | None:
    """The noise model read from an image (no σ given, our configuration, not saved as JPEG:
    ``jpeg``) held under what its own patches allow
    (:func:`.noise_estimate.held_to_patch_variance`); ``noise`` itself otherwise, or where
    nothing was held."""
    if params.sigma is not None or noise is None or jpeg:
        return noise
    return held_to_patch_variance(image, noise)


def _texture_caution(read: NoiseModel | None, held: NoiseModel | None) -> str | None:
    """A warning when a colour image's noise model had its chroma held under what the image's
    patches allow (:func:`_held_to_patches`) and its luminance not: the chroma was read (or
    lent) at the luminance's level, and the patches say it holds far less, so the luminance's
    reading is most likely the texture's own fine detail as well (the tune split's skin and the
    held-out fabric, stone and star-field crops under white σ 1–3 read 6–13 there, and came out
    up to 17 dB under the input), which a bound on variance cannot tell from noise. Or the
    noise is the luminance's alone (monochrome grain; a raw converter's chroma noise reduction):
    then the luminance's reading is right and the result shows it, so the warning names both and
    suggests a lower σ only if the result looks smeared. None otherwise."""
    if read is None or held is None or held is read or read.channels < 3:
        return None
    read_levels = read.variances.clamp_min(0).sqrt() * 255.0
    held_levels = held.variances.clamp_min(0).sqrt() * 255.0
    if float(held_levels[0]) < float(read_levels[0]):
        return None
    luma, chroma = float(read_levels[0]), float(held_levels[1:].max())
    return (f"This image's colour channels hold far less noise than its brightness reads (at most "
            f"σ {chroma:.1f}, against σ {luma:.1f}): either the noise is in the brightness alone "
            f"(monochrome grain, a raw converter's colour noise reduction), or part of what reads as "
            f"noise is the texture's own fine detail. If the result looks smeared, run again with a "
            f"lower --sigma, down to --sigma {max(chroma, 1.0):.0f}.")


def _grey_grain_caution(image: NDArray[np.float32], params: RestoreParams,
                        noise: NoiseModel | None) -> str | None:
    """A warning when the noise was estimated on a grey image and read as correlated grain:
    there its level cannot be told from a busy texture's own fine detail, which adds to it
    (one or two channels: no chroma to check it against, as :mod:`.noise_estimate` does for
    colour; a grey saved as RGB is restored as one channel, :func:`_grey_in_colour`). On the
    benchmark's grey crops under correlated noise of σ 15 (``bench/texture_set.py``) the
    spectrum read 13–17 on brick, moon, brushed metal and a photo, but 19.5–20 on gravel and
    24–26 on coins and grass (which came out 2.6–3.5 dB below the noisy input). The level is
    now held under what the bands' kurtoses allow (:func:`.noise_estimate._held_to_kurtosis`):
    11.7–15.8 on grass and gravel, 19.7–22.1 on coins, but that is a bound, not a measurement, so the
    warning stays. None otherwise, and under :data:`GRAIN_CAUTION_FROM` (a clean brushed-metal
    crop read as grain of σ 0.1; a level that low takes little detail with it). A grey white
    level held under its kurtoses (:func:`.noise_estimate._grey_white`) is not warned of: it is
    only ever lowered, so what it risks is noise left in, which shows, not detail smoothed away."""
    if params.sigma is not None or noise is None or noise.is_white or image.shape[2] >= 3:
        return None
    level = noise.sigma * 255.0
    if level < GRAIN_CAUTION_FROM:
        return None
    return (f"The noise was read as correlated grain of σ {level:.1f} on a grey image. On a busy texture "
            f"(grass, gravel, engraved metal) fine detail can be read as grain and smoothed away with it. "
            f"If the result looks smeared, run again with a lower --sigma, e.g. --sigma {0.6 * level:.0f}; "
            f"if it still looks grainy, with a higher one.")


def _looks_jpeg(image: NDArray[np.float32], params: RestoreParams) -> bool:
    """Whether the noise of an image to denoise is read as a JPEG's: it looks saved as JPEG
    (:func:`.noise_estimate.looks_jpeg_compressed`). Found once per run, for the reading or the
    shape of a given σ (:func:`_noise_level`), the photon-noise branch it bars
    (:func:`_stabilised`) and the warning when σ is read (:func:`_jpeg_caution`)."""
    if params.operation != "denoise":
        return False
    return looks_jpeg_compressed(image_tensor(image))


def _jpeg_caution(sigma: float | None) -> str | None:
    """The warning for a noise level ``sigma`` read (not given) on an image that looks saved
    as JPEG (:func:`_looks_jpeg`); None without a level. JPEG removes much of the fine
    noise the reading relies on, unevenly: it is read white from the PCA level and the JPEG's
    quantisation step, or as a camera's low-passed noise from the kurtoses of its lowest bands
    (:func:`.noise_estimate._channel_powers`). On the benchmark's held-out crops white σ 20 at
    q85 reads 20–30 and σ 10 at q75 7–19 (the denoiser does best a little above the noise's
    level there); σ 5 at q90 reads 5–14, a busy grey texture's own detail read as noise (grass
    13–14 and a camera crop 12.5, 1.9–2.5 dB below the input: a clean grass crop reads 13);
    demosaic-like σ 15 at q85 reads 15–18 where the kurtoses find it (the coins
    and camera crops and three colour ones; grass reads 16–17 at its white level), 14.5–14.8
    on two scanned-albedo crops whose chroma's lowest bands show it
    (:func:`.noise_estimate._chroma_camera_level`; 4.6–4.8 dB over CBM3D given σ 15, from
    2.6–2.8 under), 15.8 on the third, whose luma's lowest bands show it as a Gaussian low-pass
    (:func:`.noise_estimate.jpeg_gaussian_spectrum`; 5.0 dB over CBM3D, from 2.65 under), and
    5–12 on the other colour crops, which come back lightly denoised (up to 1.6 dB under CBM3D).
    With the level given, those crops come back 0.2–1.6 dB over CBM3D
    (:func:`.noise_estimate.model_for_level_on_jpeg`)."""
    if sigma is None:
        return None
    return (f"The image looks saved as JPEG (its 8×8 blocks show JPEG's quantisation), and the noise level "
            f"read from it, σ {sigma * 255.0:.1f}, can be far off: JPEG removes much of the fine noise the "
            f"reading relies on. If the result still looks noisy, or looks smeared, run again with --sigma "
            f"set to the level you judge (8-bit levels: e.g. --sigma 10 for light grain, 20 for heavy).")


def _given_level(image: NDArray[np.float32], sigma: float, jpeg: bool = False) -> NoiseModel:
    """The noise model for a σ the user gave: the image's own noise spectrum (correlated
    noise stays correlated) scaled to that per-pixel level; white when the image is too
    small to read a spectrum from, or (not a JPEG) shows none. On an image that looks saved as
    JPEG (``jpeg``) the shape is read as a JPEG's, a camera's low-pass where the level given is
    far over what its fine bands read (or they read none), and the level raised by its
    quantisation step (:func:`.noise_estimate.model_for_level_on_jpeg`)."""
    if min(image.shape[:2]) < 2 * MIN_SIDE_FOR_SIGMA:
        return NoiseModel.white(sigma, image.shape[2])
    if jpeg:
        return model_for_level_on_jpeg(image, sigma)
    shape = estimate_noise(image, jpeg=False)
    if shape.is_white or shape.sigma <= 0:
        return NoiseModel.white(sigma, image.shape[2])
    return shape.scaled((sigma / shape.sigma) ** 2)


@dataclass(frozen=True)
class _Job:
    """What every tile of one :func:`restore` shares."""

    params: RestoreParams
    config: NetConfig
    sigma: float | None
    device: torch.device
    noise: NoiseModel | None = None  # denoising with our configuration: the noise model
    real: tuple[int, int] | None = None  # the image's size before padding (see classical_denoise)
    photon_noise: bool = False  # the image was stabilised (see restore): its σ was not given by the user
    level_read: bool = False  # its noise level was read, not given (or stabilised), on an image not a JPEG

    @property
    def guided_denoise(self) -> bool:
        """Denoising with our configuration: the classical estimate (:mod:`.denoise`), and a
        guided fit only when the user gives it iterations or time."""
        return self.params.operation == "denoise" and not self.params.recipe

    @property
    def guided_inpaint(self) -> bool:
        """Inpainting with our configuration: a sparse fill guides the fit (:mod:`.guide_check`)."""
        return self.params.operation == "inpaint" and not self.params.recipe

    @property
    def guided_upscale(self) -> bool:
        """Upscaling with our configuration: sparse back-projection guides the fit."""
        return self.params.operation == "upscale" and not self.params.recipe


@dataclass(frozen=True, eq=False)
class _TilePixels:
    """One tile's pixels (h, w, C), its holes (h, w; 1 = hole) and flash photo when given."""

    piece: NDArray[np.float32]
    holes: NDArray[np.float32] | None
    flash: NDArray[np.float32] | None
    circular: bool


@dataclass(frozen=True, eq=False)
class _Tile:
    """Where one tile lies: its first row and column and the (wrapping) rows and columns it covers."""

    index: int
    y0: int
    x0: int
    rows: NDArray[np.int_]
    cols: NDArray[np.int_]
    circular: bool  # the tile is the whole seamless image: the generator pads circularly

    def cut(self, image: NDArray[np.float32], mask: NDArray[np.float32] | None,
            guide: NDArray[np.float32] | None) -> _TilePixels:
        where = np.ix_(self.rows, self.cols)
        return _TilePixels(image[where], None if mask is None else mask[where],
                           None if guide is None else guide[where], self.circular)


def _tiles(height: int, width: int, params: RestoreParams) -> list[_Tile]:
    """The overlapping tiles over an image, row by row (they wrap around when seamless).

    Sizes are in input pixels: when upscaling, ``params.tile`` and ``params.overlap``
    bound the high-resolution side of a tile, so a ×8 job's input tiles are tile/8
    and memory is bounded for any factor. Balanced (:func:`.tiles.tile_layout`): as many
    tiles as ``params.tile`` needs, each as small as covers the image in that many, never
    under the generator's smallest side (:func:`min_side`).
    """
    wrap, factor = params.seamless, params.output_factor
    tile, overlap = params.tile // factor, params.overlap // factor
    least = min_side(params)
    row_starts, th = tile_layout(height, tile, overlap, wrap, least)
    col_starts, tw = tile_layout(width, tile, overlap, wrap, least)
    circular = wrap and th == height and tw == width
    starts = itertools.product(row_starts, col_starts)
    return [_Tile(index, y0, x0, np.arange(y0, y0 + th) % height, np.arange(x0, x0 + tw) % width, circular)
            for index, (y0, x0) in enumerate(starts)]


def min_side(params: RestoreParams) -> int:
    """The fewest input pixels a side may have for the generator: each of its levels
    halves the image, and the deepest must still be 2×2 (smaller images are padded)."""
    levels = len(choose_config(params).down)
    return int(-(-(2 ** (levels + 1)) // params.output_factor))


@dataclass(frozen=True, eq=False)
class _Padded:
    """An image too small for the generator, padded (mirrored, or repeated when seamless)
    to :func:`min_side`; ``height`` and ``width`` are the original size."""

    image: NDArray[np.float32]
    mask: NDArray[np.float32] | None
    guide: NDArray[np.float32] | None
    height: int
    width: int

    @classmethod
    def of(cls, image: NDArray[np.float32], mask: NDArray[np.float32] | None,
           guide: NDArray[np.float32] | None, params: RestoreParams) -> _Padded:
        height, width = image.shape[:2]
        least = min_side(params)
        if params.seamless:  # whole periods, so the padded image still wraps around
            pad_y = (-(-least // height) - 1) * height if height < least else 0
            pad_x = (-(-least // width) - 1) * width if width < least else 0
        else:
            pad_y, pad_x = max(least - height, 0), max(least - width, 0)

        def pad(array: NDArray[np.float32] | None) -> NDArray[np.float32] | None:
            if array is None or (pad_y == 0 and pad_x == 0):
                return array
            widths = [(0, int(pad_y)), (0, int(pad_x))] + [(0, 0)] * (array.ndim - 2)
            if params.seamless:
                return np.asarray(np.pad(array, widths, mode="wrap"), np.float32)
            return np.asarray(np.pad(array, widths, mode="symmetric"), np.float32)

        padded = pad(image)
        assert padded is not None
        return cls(padded, pad(mask), pad(guide), height, width)

    def crop(self, restored: NDArray[np.float32], factor: int) -> NDArray[np.float32]:
        return np.ascontiguousarray(restored[: self.height * factor, : self.width * factor])


def _guide_plan(job: _Job, target: torch.Tensor, known: torch.Tensor | None, tile: _TilePixels,
                seed: int, progress: ProgressCallback) -> GuidePlan | None:
    """The classical guide of a guided inpainting or upscaling tile and its held-out bar
    (see :mod:`.guide_check`); None for the other operations. Reports progress (stage
    'guide') after every step of the guide, so a cancel is heard within one step."""
    holdout = HOLDOUT.get(job.params.operation, 0.0)
    report = Reporter(progress)

    def tick() -> None:
        report("guide", 0.0, "classical guide")

    guided = (job.guided_inpaint and known is not None) or job.guided_upscale
    if guided and not job.params.fit_asked:  # no fit asked for: the guide from every known pixel
        return guide_only(target, known, job.params.output_factor, seed, tile.circular, tick)
    if job.guided_inpaint and known is not None:
        return inpaint_plan(target, known, seed, holdout, tile.circular, tick)
    if job.guided_upscale:
        return upscale_plan(target, job.params.output_factor, seed, holdout, tile.circular, tick)
    return None


def _generator_input(job: _Job, target: torch.Tensor, plan: GuidePlan | None, tile: _TilePixels,
                     seed: int) -> torch.Tensor | None:
    """What the generator is fed: a classical guide (guided inpainting or upscaling), else the
    flash photo, else None (noise); guided denoising feeds its own (:func:`_denoise_tile`)."""
    if plan is not None:
        return guided_input(plan.fed, job.config, seed)
    return None if tile.flash is None else image_tensor(tile.flash)


def _default_cap(params: RestoreParams, tile: _TilePixels) -> float | None:
    """The seconds a tile's fit may take when the user set no limit (None when they did):
    :data:`DEFAULT_CAP_SECONDS` per :data:`DEFAULT_CAP_PIXELS` output pixels, at least that."""
    if params.time_budget is not None or params.max_iterations is not None:
        return None
    height, width = tile.piece.shape[:2]
    pixels = height * width * params.output_factor**2
    return float(DEFAULT_CAP_SECONDS * max(pixels / DEFAULT_CAP_PIXELS, 1.0))


def _what_to_try(job: _Job) -> str:
    """What a user can do about a fit that did not converge."""
    limits = "--time-budget or --max-iterations to set the limit yourself"
    if job.params.operation != "denoise" or job.sigma is None:
        return f"give {limits}"
    if job.photon_noise:  # the σ is the stabilised image's, not one the user gave
        return f"give --sigma to filter it as white noise of one level instead of photon noise, or {limits}"
    if job.params.sigma is None:
        return (f"give --sigma (the estimate read {job.sigma * 255.0:.1f}; correlated noise can read low, "
                f"and a busy grey texture high), "
                f"or {limits}")
    return f"check --sigma ({job.params.sigma:g} given), or give {limits}"


def _not_converged(job: _Job, result: FitResult, index: int, total: int, cap: float | None) -> str | None:
    """One sentence when a tile's fit stopped without converging (the configuration's
    iteration cap or the default time cap), None otherwise; a limit the user gave
    (--max-iterations, --time-budget) that is reached is what they asked for, and a tile
    that kept its classical guide (see :mod:`.guide_check`) does not depend on the fit."""
    if result.stats.get("kept") == "guide":  # the result is the classical guide, complete as it is
        return None
    iterations = f"{result.iterations} iteration{'' if result.iterations == 1 else 's'}"
    if result.stop_reason == "iterations" and job.params.max_iterations is None:
        what = f"did not converge in {iterations}"
    elif result.stop_reason == TimeCap.reason and cap is not None:
        what = f"did not converge within its {cap:g} s time cap ({iterations})"
    else:
        return None
    fit_of = "The fit" if total == 1 else f"Tile {index + 1} of {total}"
    return f"{fit_of} {what}; {_what_to_try(job)}."


# The stop reason of a denoising tile that ran no fit: the SURE-checked classical estimate.
CLASSICAL_DENOISE_REASON = "classical estimate"


def _as_array(image: torch.Tensor) -> NDArray[np.float32]:
    """(1, C, h, w) tensor → (h, w, C) array."""
    return np.ascontiguousarray(image[0].numpy().transpose(1, 2, 0), dtype=np.float32)


def _denoise_tile(job: _Job, tile: _TilePixels, seed: int, budget: float | None, cap: float | None,
                  progress: ProgressCallback) -> tuple[NDArray[np.float32], FitResult, NDArray[np.float32]]:
    """One denoising tile with our configuration: the classical estimate (:mod:`.denoise`),
    then, when the user gave iterations or time, a fit guided by it whose Wiener-filtered
    output replaces it only where SURE rates it better. Returns the tile, how it went and its guide."""
    assert job.noise is not None
    target = image_tensor(tile.piece)
    classical: Denoised = classical_denoise(target, job.noise, tile.circular, seed, job.real,
                                            rated=job.params.fit_asked, stabilised=job.photon_noise,
                                            level_read=job.level_read)
    guide = _as_array(classical.guide)
    if not job.params.fit_asked:
        return _as_array(classical.image), FitResult(_as_array(classical.image).transpose(2, 0, 1), 0, 0.0,
                                                     CLASSICAL_DENOISE_REASON), guide
    task = FitTask(operation="denoise", sigma=job.sigma, circular=tile.circular,
                   guide=guided_input(classical.image, job.config, seed))
    options = FitOptions(seed=seed, device=job.device, time_budget=budget, time_cap=cap,
                         max_iterations=job.params.max_iterations)
    result = fit(target, job.config, task=task, options=options, progress=progress)
    pilot = torch.from_numpy(np.ascontiguousarray(result.image))[None]
    chosen, _ = choose_with_fit(target, classical, pilot, job.noise, tile.circular)
    return _as_array(chosen), result, guide


def _restore_tile(job: _Job, tile: _TilePixels, seed: int, budget: float | None, cap: float | None,
                  progress: ProgressCallback) -> tuple[NDArray[np.float32], FitResult]:
    """One tile: guide → fit → known pixels kept as they were (denoising: :func:`_denoise_tile`).

    ``budget``: this tile's share of the user's time budget; ``cap``: the default time cap.
    Returns the restored (h·f, w·f, C) tile and how its fit went.
    """
    target = image_tensor(tile.piece)
    known = None
    if tile.holes is not None:
        known = torch.from_numpy(1.0 - (tile.holes > 0).astype(np.float32))[None, None]
    params = job.params
    plan = _guide_plan(job, target, known, tile, seed, progress)
    if plan is not None and plan.error is None:  # no fit asked for, or nothing to check one by: the guide
        guide = plan.final()
        return _kept(tile, guide), FitResult(guide[0].numpy(), 0, 0.0, plan.reason)
    if plan is not None and cap is not None:
        cap *= GUIDED_CAP_SHARE
    task = FitTask(operation=params.operation, mask=known, factor=params.output_factor, sigma=job.sigma,
                   guide=_generator_input(job, target, plan, tile, seed), circular=tile.circular)
    options = FitOptions(seed=seed, device=job.device, time_budget=budget, time_cap=cap,
                         max_iterations=params.max_iterations, holdout=HOLDOUT.get(params.operation, 0.0),
                         holdout_patience=GUIDED_PATIENCE if plan is not None else 300,
                         guide_error=None if plan is None else plan.error)
    result = fit(target, job.config, task=task, options=options, progress=progress)
    result.stats["time_cap"] = cap  # the cap this tile's fit had (shorter when guided)
    restored = result.image.transpose(1, 2, 0)
    if plan is not None:
        kept = plan.keeps_guide(result.stats.get("held_out_error"))
        result.stats["kept"] = "guide" if kept else "network"
        if kept:
            restored = plan.final()[0].numpy().transpose(1, 2, 0)
    return _kept(tile, restored), result


def _kept(tile: _TilePixels, restored: NDArray[np.float32] | torch.Tensor) -> NDArray[np.float32]:
    """A restored (h·f, w·f, C) tile (or (1, C, h·f, w·f) tensor) with every known pixel
    exactly as it was."""
    if isinstance(restored, torch.Tensor):
        restored = restored.clamp(0, 1)[0].numpy().transpose(1, 2, 0)
    if tile.holes is not None:
        restored = np.where((tile.holes <= 0)[..., None], tile.piece, restored)
    return np.ascontiguousarray(restored, dtype=np.float32)


# The stop reason of a tile that started after the job's time budget was spent: it gets
# the classical estimate instead of a fit, so a job of many long tiles overruns its
# budget by at most one iteration of one tile.
CLASSICAL_REASON = "time budget (classical estimate)"


def _classical_tile(job: _Job, tile: _TilePixels) -> NDArray[np.float32]:
    """A tile's classical estimate, with no fit and cheap (the budget is spent): the DCT
    estimate (denoise), the biharmonic fill (inpaint), bicubic interpolation on the
    downsampler's grid (upscale) or the no-flash photo (flash)."""
    target = image_tensor(tile.piece)
    params = job.params
    with torch.no_grad():
        if params.operation == "denoise":
            assert job.sigma is not None
            noise = job.noise or NoiseModel.white(job.sigma, target.shape[1])
            estimate = classical_denoise(target, noise, tile.circular, real=job.real,
                                         stabilised=job.photon_noise, level_read=job.level_read).image
        elif params.operation == "inpaint" and tile.holes is not None:
            known = torch.from_numpy(1.0 - (tile.holes > 0).astype(np.float32))[None, None]
            estimate = biharmonic_fill(target, known, circular=tile.circular)
        elif params.operation == "upscale":
            estimate = aligned_bicubic(target, params.output_factor, tile.circular)
        else:
            estimate = target
    return _kept(tile, estimate)


class _Canvas:
    """The output being assembled: tiles added with feathered weights, normalised at the end."""

    def __init__(self, height: int, width: int, channels: int, factor: int, overlap: int) -> None:
        self.height, self.width = height * factor, width * factor
        self.factor = factor
        self.overlap = overlap * factor  # the blending ramp, in output pixels
        self.sum = np.zeros((self.height, self.width, channels), np.float32)
        self.weights = np.zeros((self.height, self.width, 1), np.float32)

    def add(self, tile: _Tile, restored: NDArray[np.float32]) -> None:
        f = self.factor
        weight = feather(len(tile.rows) * f, len(tile.cols) * f, self.overlap)
        rows = np.arange(tile.y0 * f, (tile.y0 + len(tile.rows)) * f) % self.height
        cols = np.arange(tile.x0 * f, (tile.x0 + len(tile.cols)) * f) % self.width
        self.sum[np.ix_(rows, cols)] += restored * weight[..., None]
        self.weights[np.ix_(rows, cols)] += weight[..., None]

    def image(self) -> NDArray[np.float32]:
        return (self.sum / np.maximum(self.weights, 1e-12)).astype(np.float32)


def _add_counts(counts: dict[str, int], more: dict[str, int]) -> None:
    """Add stop-reason counts into ``counts`` (new reasons after the known ones)."""
    for reason, count in more.items():
        counts[reason] = counts.get(reason, 0) + count


def _tile_budget(time_budget: float | None, start: float, tiles_left: int) -> float | None:
    """This tile's share of what is left of the job's time budget."""
    if time_budget is None:
        return None
    left = max(time_budget - (time.perf_counter() - start), 0.001)
    return left / tiles_left


def _budget_spent(time_budget: float | None, start: float) -> bool:
    """The job's time budget is spent (never, without one)."""
    return time_budget is not None and time.perf_counter() - start >= time_budget


def _tile_progress(report: Reporter, index: int, total: int) -> ProgressCallback:
    def tile_progress(p: Progress) -> None:
        report(p.stage, (index + p.fraction) / total, f"tile {index + 1}/{total} {p.message}", **p.values)
    return tile_progress


def restore(
    image: NDArray[np.float32],
    params: RestoreParams,
    mask: NDArray[np.float32] | None = None,
    guide: NDArray[np.float32] | None = None,
    progress: ProgressCallback | None = None,
) -> RestoreResult:
    """Run one operation over an image in 0..1, tile by tile.

    Args:
        image: (H, W, C) in 0..1.
        mask: (H, W), 1 for the holes to fill (inpaint).
        guide: (H, W, C') the flash photo (flash operation).

    Returns:
        The restored (H·f, W·f, C) image and statistics (iterations, seconds, stop
        reasons, the σ used, and ``warnings``: a sentence for each tile whose fit did not
        converge, see :func:`_not_converged`, and one for a noise level worth checking, see
        :func:`_grey_grain_caution`, :func:`_jpeg_caution` and :func:`_texture_caution`).

    A grey image saved as three equal channels is restored as one channel and repeated
    (:func:`_grey_in_colour`): about half the time, and its noise read as a grey image's.

    An image smaller than the generator needs (:func:`min_side`) is padded (mirrored,
    or repeated when seamless) and the result cropped back.

    Cost: each tile is one fit (see :func:`.fitting.fit`); a tile's output side is at
    most ``params.tile``, so memory is bounded for any factor; ``params.time_budget``
    caps the whole job (a fit stops before an iteration that would overrun it); with
    neither it nor ``params.max_iterations``, each tile's fit stops at a default time cap
    (:data:`DEFAULT_CAP_SECONDS` per 128² output pixels).

    Denoising with nothing given, the noise model read is held under what the image's own
    patches allow (:func:`_held_to_patches`). Noise whose variance grows with the signal (photon
    noise, :mod:`.signal_noise`) is made white first (the generalised Anscombe transform)
    and the result mapped back; the statistics then hold ``signal_noise``.
    """
    params.check()
    check_arrays(image, mask, guide)
    check_mask(mask)
    if _grey_in_colour(image, params):
        grey = restore(np.ascontiguousarray(image[..., :1]), params, mask, guide, progress)
        guide_image = None if grey.guide is None else np.repeat(grey.guide, 3, axis=2)
        return RestoreResult(np.repeat(grey.image, 3, axis=2), grey.stats, guide_image)
    device = pick_device(params.device)
    threads = pick_threads(params.threads)
    if device.type == "cpu":
        torch.set_num_threads(threads)
    jpeg = _looks_jpeg(image, params)
    sigma, read = _noise_level(image, params, jpeg)  # may refuse the image: before any other work
    noise = _held_to_patches(image, params, read, jpeg)
    if noise is not read and noise is not None:
        sigma = noise.sigma
    real = (image.shape[0], image.shape[1])
    stabilised = None if jpeg else _stabilised(image, params, noise)
    if stabilised is None:
        job = _Job(params, choose_config(params), sigma, device, noise, real,
                   level_read=params.sigma is None and not jpeg)
        result = _restore_image(image, job, threads, mask, guide, progress)
        jpeg_read = jpeg and params.sigma is None
        cautions = (_grey_grain_caution(image, params, noise), _jpeg_caution(sigma) if jpeg_read else None,
                    _texture_caution(read, noise))
        for caution in cautions:
            if caution is not None:
                result.stats["warnings"].insert(0, caution)
        return result
    given_sigma = stabilised.sigma * 255.0  # in 8-bit levels, as a user gives --sigma
    given = replace(params, sigma=given_sigma)
    level = given_sigma / 255.0
    job = _Job(given, choose_config(given), level, device, NoiseModel.white(level, image.shape[2]), real,
               photon_noise=True, level_read=True)
    inner = _restore_image(stabilised.image, job, threads, mask, guide, progress)
    signal = stabilised.noise
    stats = {**inner.stats, "sigma": signal.sigma_at(float(np.mean(image))) * 255.0,
             "signal_noise": {"photons_at_white": 1.0 / signal.gain, "read_sigma": signal.floor**0.5 * 255.0}}
    guide_image = None if inner.guide is None else stabilised.restore(inner.guide)
    return RestoreResult(stabilised.restore(inner.image), stats, guide_image)


def _grey_in_colour(image: NDArray[np.float32], params: RestoreParams) -> bool:
    """Whether an (H, W, 3) image is one grey channel three times (a grey texture saved as
    RGB), to restore as one channel: not a normal map, not with a flash photo. As colour
    its noise was read through a chroma with no noise of its own (σ 15 grain on grass read
    39.8 against 23.0 as grey, and 13.8 since the grey reading is held under its kurtoses) and
    the grey-only passes (:func:`.denoise.gcv_strength`) did not run."""
    return (image.shape[2] == 3 and params.operation != "flash" and not params.normal_map
            and np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]))


def _stabilised(image: NDArray[np.float32], params: RestoreParams,
                noise: NoiseModel | None) -> Stabilised | None:
    """The image made white (:func:`.signal_noise.stabilise`) where its noise is
    signal-dependent: denoising with our configuration and no σ given, the noise model read
    from the image (``noise``, :func:`_noise_level`) is white and measured (correlated noise
    is read from its spectrum instead: its upper bands hold little noise, so texture there
    would read as a signal-dependence), and the stabilised level is one the engine accepts.
    None otherwise. The stabilised image is then denoised as white noise of its level (as
    with that σ given, without reading its noise again).

    :func:`restore` does not call it on an image that looks saved as JPEG (:func:`_looks_jpeg`):
    its signal-dependence would be read from the upper bands JPEG zeroes. A grey JPEG, read
    white, went this way in 3 of 88 cases (σ 5–20, q60–95) and came back as noisy as it was
    (coins σ 20 q75: 21.42 dB for an input of 21.41; 28.87 without it)."""
    if params.sigma is not None or noise is None or not (noise.is_white and noise.measured):
        return None
    signal = estimate_signal_noise(image)
    if signal is None:
        return None
    stabilised = stabilise(image, signal)
    return stabilised if stabilised.sigma * 255.0 <= MAX_SIGMA else None


def _restore_image(image: NDArray[np.float32], job: _Job, threads: int, mask: NDArray[np.float32] | None,
                   guide: NDArray[np.float32] | None, progress: ProgressCallback | None) -> RestoreResult:
    """:func:`restore`'s tiles for a job whose noise level (when denoising) is settled: the
    image's own, or its stabilised copy's (``job.photon_noise``)."""
    params, device = job.params, job.device
    padded = _Padded.of(image, mask, guide, params)
    height, width, channels = padded.image.shape
    tiles = _tiles(height, width, params)
    factor = params.output_factor
    overlap = params.overlap // factor if len(tiles) > 1 else 0
    canvas = _Canvas(height, width, channels, factor, overlap)
    guides = _Canvas(height, width, channels, factor, overlap) if job.guided_denoise else None
    report = Reporter(progress)
    start = time.perf_counter()
    stats: dict[str, Any] = {"tiles": len(tiles), "iterations": 0, "stop_reasons": {},
                             "sigma": None if job.sigma is None else job.sigma * 255.0,
                             "device": device.type, "threads": threads, "warnings": []}
    for tile in tiles:
        budget = _tile_budget(params.time_budget, start, len(tiles) - tile.index)
        pixels = tile.cut(padded.image, padded.mask, padded.guide)
        if tile.index > 0 and _budget_spent(params.time_budget, start):
            restored = _classical_tile(job, pixels)
            canvas.add(tile, restored)
            if guides is not None:
                guides.add(tile, restored)
            _add_counts(stats["stop_reasons"], {CLASSICAL_REASON: 1})
            continue
        cap = _default_cap(params, pixels)
        tile_progress = _tile_progress(report, tile.index, len(tiles))
        if guides is not None:
            restored, result, tile_guide = _denoise_tile(job, pixels, params.seed + tile.index, budget, cap,
                                                         tile_progress)
            guides.add(tile, tile_guide)
        else:
            restored, result = _restore_tile(job, pixels, params.seed + tile.index, budget, cap,
                                             tile_progress)
        canvas.add(tile, restored)
        tile_cap = result.stats.get("time_cap", cap)
        if (warning := _not_converged(job, result, tile.index, len(tiles), tile_cap)) is not None:
            stats["warnings"].append(warning)
        stats["iterations"] += result.iterations
        _add_counts(stats["stop_reasons"], {result.stop_reason: 1})
    stats["seconds"] = time.perf_counter() - start
    report("done", 1.0, f"{len(tiles)} tile(s)")
    guide_image = None if guides is None else padded.crop(guides.image(), factor)
    return RestoreResult(padded.crop(canvas.image(), factor), stats, guide_image)


def _file_progress(progress: ProgressCallback | None, number: int, count: int) -> ProgressCallback:
    def file_progress(p: Progress) -> None:
        if progress is not None:
            progress(Progress(p.stage, (number + p.fraction) / count, p.message, p.elapsed, p.eta, p.values))
    return file_progress


def _with_other_channels(restored: NDArray[np.float32], image: Image, colour: list[int],
                         params: RestoreParams) -> NDArray[np.float32]:
    """The restored colour channels back among all the file's channels; alpha passes
    through untouched (repeated ×factor when upscaling) unless it was restored too."""
    full = np.zeros((restored.shape[0], restored.shape[1], image.pixels.shape[2]), np.float32)
    full[..., colour] = restored
    alpha = kept_alpha(image, params)
    if alpha >= 0:
        factor = params.output_factor
        a = image.pixels[..., alpha]
        full[..., alpha] = np.kron(a, np.ones((factor, factor), np.float32)) if factor > 1 else a
    return full


def _restore_pixels(item: InputFile, params: RestoreParams,
                    progress: ProgressCallback) -> tuple[NDArray[np.float32], RestoreResult]:
    """Restore one read file's pixels: values mapped to 0..1 and back (see
    :mod:`.value_range`), normals renormalised, known pixels and alpha copied from the
    file bit for bit. Returns every channel, in the file's own values."""
    image = item.image
    colour = colour_channels(image, params)
    pixels = image.pixels[..., colour]
    mapping = ValueMap.for_pixels(pixels, image.is_float, image.is_signed)
    guide_unit = None if item.flash is None else np.clip(item.flash[..., :3], 0.0, 1.0).astype(np.float32)
    result = restore(mapping.to_unit(pixels), params, item.holes, guide_unit, progress)
    restored = mapping.to_file(result.image)
    if params.normal_map:
        restored = renormalise_normals(restored)
    if item.holes is not None:  # known pixels: the file's own values, not the round trip
        restored = np.where((item.holes <= 0)[..., None], pixels, restored)
    return _with_other_channels(restored, image, colour, params), result


def _add_to_summary(summary: dict[str, Any], written: Path, stats: dict[str, Any], tile: str = "") -> None:
    """Add one file's statistics; its warnings are named by its UDIM tile in a set."""
    summary["files"].append(str(written))
    summary["warnings"].extend(f"UDIM {tile}: {w}" if tile else w for w in stats["warnings"])
    summary["iterations"] += stats["iterations"]
    summary["tiles"] = summary.get("tiles", 0) + stats["tiles"]
    summary["seconds"] += stats["seconds"]
    summary.setdefault("sigma", stats["sigma"])
    if "signal_noise" in stats:  # photon noise, made white first (see restore)
        summary.setdefault("signal_noise", stats["signal_noise"])
    _add_counts(summary.setdefault("stop_reasons", {}), stats["stop_reasons"])
    summary["device"] = stats["device"]
    summary["threads"] = stats["threads"]


def restore_file(
    source: str,
    output: str,
    params: RestoreParams,
    mask: str | None = None,
    guide: str | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Restore an image file (or a UDIM set) into ``output``; returns a summary.

    The summary's ``warnings`` holds each file's warnings (see :func:`restore`), named by
    their UDIM tile in a set.
    Every input and output is checked before any work starts; the outputs (every
    tile of a UDIM set) are written under temporary names and renamed into place
    together at the end, so a failure leaves none of them.
    """
    params.check()
    loaded = read_inputs(source, output, params, mask, guide)
    summary: dict[str, Any] = {"files": [], "iterations": 0, "seconds": 0.0, "warnings": []}
    targets = [output_for(output, item.tile) for item in loaded]
    with publish_together(targets) as temporaries:
        for number, (item, temporary) in enumerate(zip(loaded, temporaries, strict=True)):
            full, result = _restore_pixels(item, params, _file_progress(progress, number, len(loaded)))
            image = item.image
            write_image_to(temporary, full, image.format, image.channel_names, image.alpha_channel)
            _add_to_summary(summary, targets[number], result.stats, item.tile)
    return summary
