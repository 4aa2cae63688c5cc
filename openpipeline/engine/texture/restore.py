"""Texture restoration as artists have textures: files, alpha, HDR, tiles, UDIMs.

:func:`restore` takes a float image (H, W, C) and runs one Deep Image Prior
operation over it in overlapping tiles with feathered blending, so memory stays
bounded whatever the image size (a 4096² texture runs in well under 4 GB).
:func:`restore_file` adds file handling: reading through OpenImageIO, alpha that
passes through untouched, float/HDR data mapped into the generator's 0..1 range
and back without clipping, normal maps renormalised, the output written in the
input's bit depth under a temporary name and renamed into place. UDIM sets
(``name.<UDIM>.ext``: every ``name.1001.ext``, ``name.1002.ext``... on disk) are
processed as one job.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from openpipeline.engine.devices import pick_device, pick_threads
from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.images import Image, read_image, write_image
from openpipeline.engine.progress import Progress, ProgressCallback, Reporter
from openpipeline.engine.texture.dct_filters import dct_denoise, dct_wiener
from openpipeline.engine.texture.fitting import OPERATIONS, FitOptions, FitResult, FitTask, fit
from openpipeline.engine.texture.harmonic_fill import harmonic_fill
from openpipeline.engine.texture.network import (
    RECIPE,
    RECIPE_INPAINT,
    RECIPE_UPSCALE,
    NetConfig,
    fast_config,
    guided_input,
)
from openpipeline.engine.texture.noise_level import estimate_sigma
from openpipeline.engine.texture.tiles import feather, tile_starts
from openpipeline.engine.texture.udim import UDIM_TOKEN, output_for, udim_paths

FACTORS = (2, 4, 8)
# Fraction of pixels held out as a validation set, by operation (see fitting.fit). Denoising
# stops on the noise level instead: on noisy pixels the held-out error is too flat.
HOLDOUT = {"inpaint": 0.05, "upscale": 0.05, "flash": 0.05}


@dataclass(frozen=True)
class RestoreParams:
    """One restoration job.

    ``sigma`` is in 8-bit levels (25 means 25/255) and estimated when None.
    ``time_budget`` caps the whole job in seconds.
    """

    operation: str = "denoise"
    sigma: float | None = None
    factor: int = 2
    seed: int = 0
    time_budget: float | None = None
    device: str = "auto"
    threads: int | None = None
    seamless: bool = False
    tile: int = 512
    overlap: int = 32
    normal_map: bool = False
    process_alpha: bool = False
    max_iterations: int | None = None
    recipe: bool = False  # the published configuration instead of ours

    @property
    def output_factor(self) -> int:
        """How many times larger the output is than the input: ``factor`` when upscaling, else 1."""
        return self.factor if self.operation == "upscale" else 1

    def check(self) -> None:
        if self.operation not in OPERATIONS:
            raise EngineInputError(f"Operation '{self.operation}' is not known; use {', '.join(OPERATIONS)}.")
        if self.operation == "upscale" and self.factor not in FACTORS:
            raise EngineInputError(f"Upscale factor {self.factor} is not allowed; use 2, 4 or 8.")
        for name in ("sigma", "time_budget"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value <= 0):
                raise EngineInputError(f"--{name.replace('_', '-')} must be a positive number, not {value}.")
        if self.tile < 32 or self.overlap < 0 or self.overlap * 2 >= self.tile:
            raise EngineInputError("Tiles must be at least 32 px with an overlap under half a tile.")
        if self.max_iterations is not None and self.max_iterations < 1:
            raise EngineInputError("--max-iterations must be at least 1.")


@dataclass
class RestoreResult:
    image: NDArray[np.float32]
    stats: dict[str, Any] = field(default_factory=dict)


# -- value ranges --------------------------------------------------------------------
def to_unit(values: NDArray[np.float32], hdr: bool) -> tuple[NDArray[np.float32], float]:
    """Map data into the generator's 0..1 range: HDR through x/(1+x) (no clipping)."""
    if not hdr:
        return np.clip(values, 0.0, 1.0).astype(np.float32), 0.0
    offset = float(min(values.min(), 0.0))
    shifted = values - offset
    return (shifted / (1.0 + shifted)).astype(np.float32), offset


def from_unit(values: NDArray[np.float32], hdr: bool, offset: float) -> NDArray[np.float32]:
    if not hdr:
        return values
    clipped = np.clip(values, 0.0, 1.0 - 1e-6)
    return (clipped / (1.0 - clipped) + offset).astype(np.float32)


def renormalise_normals(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    """Tangent-space normal map (0..1 encoded): make every pixel's vector unit length."""
    vectors = rgb[..., :3] * 2.0 - 1.0
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    vectors = vectors / np.maximum(length, 1e-6)
    out = np.array(rgb, dtype=np.float32)
    out[..., :3] = (vectors + 1.0) / 2.0
    return out


# -- one image, tile by tile ----------------------------------------------------------
def choose_config(params: RestoreParams) -> NetConfig:
    """The generator for a job: ours (:func:`.network.fast_config`), or the published
    recipe with ``params.recipe``."""
    if params.recipe:
        return {"denoise": RECIPE, "inpaint": RECIPE_INPAINT, "flash": RECIPE}.get(
            params.operation) or RECIPE_UPSCALE[params.output_factor]
    return fast_config(params.operation, params.output_factor)


def _noise_level(image: NDArray[np.float32], params: RestoreParams) -> float | None:
    """σ in 0..1 for denoising (``params.sigma`` or estimated from the image); None otherwise."""
    if params.operation != "denoise":
        return None
    sigma = params.sigma / 255.0 if params.sigma is not None else estimate_sigma(image)
    if sigma <= 0:
        raise EngineInputError("The image shows no noise to remove (estimated σ is 0).")
    return sigma


@dataclass(frozen=True)
class _Job:
    """What every tile of one :func:`restore` shares."""

    params: RestoreParams
    config: NetConfig
    sigma: float | None
    device: torch.device

    @property
    def guided_denoise(self) -> bool:
        """Denoising with our configuration: a DCT estimate guides the fit, a Wiener pass ends it."""
        return self.params.operation == "denoise" and not self.params.recipe

    @property
    def guided_inpaint(self) -> bool:
        """Inpainting with our configuration: a harmonic fill guides the fit."""
        return self.params.operation == "inpaint" and not self.params.recipe


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
    """The overlapping tiles over an image, row by row (they wrap around when seamless)."""
    wrap, tile = params.seamless, params.tile
    th, tw = min(tile, height), min(tile, width)
    circular = wrap and th == height and tw == width
    starts = itertools.product(tile_starts(height, tile, params.overlap, wrap),
                               tile_starts(width, tile, params.overlap, wrap))
    return [_Tile(index, y0, x0, np.arange(y0, y0 + th) % height, np.arange(x0, x0 + tw) % width, circular)
            for index, (y0, x0) in enumerate(starts)]


def _as_tensor(pixels: NDArray[np.float32]) -> torch.Tensor:
    """(h, w, C) array → (1, C, h, w) tensor."""
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]


def _generator_input(job: _Job, target: torch.Tensor, known: torch.Tensor | None, tile: _TilePixels,
                     seed: int) -> torch.Tensor | None:
    """What the generator is fed: a classical estimate (guided denoise or inpaint), else the
    flash photo, else None (noise)."""
    if job.guided_denoise:
        assert job.sigma is not None
        estimate = dct_denoise(target, job.sigma, tile.circular)
        return guided_input(estimate, job.config, seed)
    if job.guided_inpaint:
        assert known is not None
        estimate = harmonic_fill(target, known, circular=tile.circular)
        return guided_input(estimate, job.config, seed)
    return None if tile.flash is None else _as_tensor(tile.flash)


def _restore_tile(job: _Job, tile: _TilePixels, seed: int, budget: float | None,
                  progress: ProgressCallback) -> tuple[NDArray[np.float32], FitResult]:
    """One tile: guide → fit → (denoise) a last Wiener pass → known pixels kept as they were.

    Returns the restored (h·f, w·f, C) tile and how its fit went.
    """
    target = _as_tensor(tile.piece)
    known = None
    if tile.holes is not None:
        known = torch.from_numpy(1.0 - (tile.holes > 0).astype(np.float32))[None, None]
    params = job.params
    task = FitTask(operation=params.operation, mask=known, factor=params.output_factor, sigma=job.sigma,
                   guide=_generator_input(job, target, known, tile, seed), circular=tile.circular)
    options = FitOptions(seed=seed, device=job.device, time_budget=budget,
                         max_iterations=params.max_iterations, holdout=HOLDOUT.get(params.operation, 0.0))
    result = fit(target, job.config, task=task, options=options, progress=progress)
    restored = result.image.transpose(1, 2, 0)
    if job.guided_denoise:
        # the generator's output is the pilot of a last Wiener pass over the tile
        assert job.sigma is not None
        pilot = torch.from_numpy(np.ascontiguousarray(result.image))[None]
        filtered = dct_wiener(target, pilot, job.sigma, tile.circular).clamp(0, 1)
        restored = filtered[0].numpy().transpose(1, 2, 0)
    if tile.holes is not None:  # keep every known pixel exactly as it was
        restored = np.where((tile.holes <= 0)[..., None], tile.piece, restored)
    return restored, result


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
        reasons, the σ used).

    Cost: each tile is one fit (see :func:`.fitting.fit`); ``params.time_budget``
    caps the whole job.
    """
    params.check()
    device = pick_device(params.device)
    threads = pick_threads(params.threads)
    if device.type == "cpu":
        torch.set_num_threads(threads)
    sigma = _noise_level(image, params)  # may refuse the image: before any other work
    job = _Job(params, choose_config(params), sigma, device)
    height, width, channels = image.shape
    tiles = _tiles(height, width, params)
    canvas = _Canvas(height, width, channels, params.output_factor, params.overlap if len(tiles) > 1 else 0)
    report = Reporter(progress)
    start = time.perf_counter()
    stats: dict[str, Any] = {"tiles": len(tiles), "iterations": 0, "stop_reasons": {},
                             "sigma": None if job.sigma is None else job.sigma * 255.0,
                             "device": device.type, "threads": threads}
    for tile in tiles:
        budget = _tile_budget(params.time_budget, start, len(tiles) - tile.index)
        restored, result = _restore_tile(job, tile.cut(image, mask, guide), params.seed + tile.index, budget,
                                         _tile_progress(report, tile.index, len(tiles)))
        canvas.add(tile, restored)
        stats["iterations"] += result.iterations
        _add_counts(stats["stop_reasons"], {result.stop_reason: 1})
    stats["seconds"] = time.perf_counter() - start
    report("done", 1.0, f"{len(tiles)} tile(s)")
    return RestoreResult(canvas.image(), stats)


# -- files ----------------------------------------------------------------------------
FLOAT_FORMATS = ("half", "float", "double")


@dataclass(frozen=True, eq=False)
class _InputFile:
    """One file of a job, read and checked: its UDIM tile ('' for a plain file), its
    pixels, and its holes (H, W; 1 = hole) and flash photo when the operation has them."""

    tile: str
    image: Image
    holes: NDArray[np.float32] | None
    flash: NDArray[np.float32] | None


def _read_holes(mask: str, tile: str, image: Image, path: Path) -> NDArray[np.float32]:
    mask_pixels = read_image(output_for(mask, tile) if UDIM_TOKEN in mask else Path(mask)).pixels
    pixels = image.pixels
    if mask_pixels.shape[:2] != pixels.shape[:2]:
        raise EngineInputError(
            f"Mask is {mask_pixels.shape[1]}×{mask_pixels.shape[0]} but '{path.name}' is "
            f"{pixels.shape[1]}×{pixels.shape[0]}; give a mask of the same size."
        )
    holes: NDArray[np.float32] = (mask_pixels.max(axis=2) > 0).astype(np.float32)
    return holes


def _read_flash(guide: str, image: Image) -> NDArray[np.float32]:
    flash = read_image(Path(guide)).pixels
    if flash.shape[:2] != image.pixels.shape[:2]:
        raise EngineInputError("The flash photo must be the same size as the no-flash photo.")
    return flash


def read_inputs(source: str, output: str, params: RestoreParams, mask: str | None = None,
                guide: str | None = None) -> list[_InputFile]:
    """Read and check every input of a job (each UDIM tile, its mask, the flash photo)
    before any work starts.

    Raises:
        EngineInputError: a file is missing, unreadable or of the wrong size, the
            output folder does not exist, or an inpaint job has no mask.

    Cost: reads every input file whole.
    """
    inputs = udim_paths(source)
    if UDIM_TOKEN in source and UDIM_TOKEN not in output:
        raise EngineInputError("The output of a UDIM set needs <UDIM> in its name too.")
    folder = Path(output).absolute().parent
    if not folder.is_dir():
        raise EngineInputError(f"Output folder '{folder}' does not exist; create it first.")
    loaded = []
    for tile, path in inputs:
        image = read_image(path)
        if image.pixels.shape[2] < 1:
            raise EngineInputError(f"Image '{path.name}' has no channels.")
        holes = None if mask is None else _read_holes(mask, tile, image, path)
        flash = None if guide is None else _read_flash(guide, image)
        loaded.append(_InputFile(tile, image, holes, flash))
    if params.operation == "inpaint" and mask is None:
        raise EngineInputError("Inpainting needs a mask image (non-zero pixels are the holes).")
    return loaded


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
    alpha = image.alpha_channel
    if alpha >= 0 and not params.process_alpha:
        factor = params.output_factor
        a = image.pixels[..., alpha]
        full[..., alpha] = np.kron(a, np.ones((factor, factor), np.float32)) if factor > 1 else a
    return full


def _restore_one_file(item: _InputFile, output: str, params: RestoreParams,
                      progress: ProgressCallback) -> tuple[Path, RestoreResult]:
    """Restore one read file into its output: HDR mapped to 0..1 and back, alpha kept,
    normals renormalised, written in the input's format. Returns the path written."""
    image = item.image
    colour = [c for c in range(image.pixels.shape[2]) if c != image.alpha_channel or params.process_alpha]
    pixels = image.pixels[..., colour]
    is_float = image.format in FLOAT_FORMATS
    hdr = is_float and (pixels.max() > 1.0 or pixels.min() < 0.0)
    unit, offset = to_unit(pixels, hdr)
    guide_unit = None if item.flash is None else to_unit(item.flash[..., :3], False)[0]
    result = restore(unit, params, item.holes, guide_unit, progress)
    restored = from_unit(result.image, hdr, offset)
    if params.normal_map:
        restored = renormalise_normals(restored)
    full = _with_other_channels(restored, image, colour, params)
    if not is_float:
        full = np.clip(full, 0.0, 1.0)
    target = output_for(output, item.tile)
    write_image(target, full, image.format, image.channel_names, image.alpha_channel)
    return target, result


def _add_to_summary(summary: dict[str, Any], written: Path, stats: dict[str, Any]) -> None:
    summary["files"].append(str(written))
    summary["iterations"] += stats["iterations"]
    summary["seconds"] += stats["seconds"]
    summary.setdefault("sigma", stats["sigma"])
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

    Every input is read and checked before any work starts; each output file is
    written whole or not at all.
    """
    params.check()
    loaded = read_inputs(source, output, params, mask, guide)
    summary: dict[str, Any] = {"files": [], "iterations": 0, "seconds": 0.0}
    for number, item in enumerate(loaded):
        file_progress = _file_progress(progress, number, len(loaded))
        written, result = _restore_one_file(item, output, params, file_progress)
        _add_to_summary(summary, written, result.stats)
    return summary
