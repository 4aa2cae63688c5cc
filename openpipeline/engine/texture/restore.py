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
from openpipeline.engine.images import read_image, write_image
from openpipeline.engine.progress import Progress, ProgressCallback, Reporter
from openpipeline.engine.texture.dct_filters import dct_denoise, dct_wiener
from openpipeline.engine.texture.fitting import OPERATIONS, FitOptions, FitTask, fit
from openpipeline.engine.texture.harmonic_fill import harmonic_fill
from openpipeline.engine.texture.network import (
    RECIPE,
    RECIPE_INPAINT,
    RECIPE_UPSCALE,
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
    """
    params.check()
    device = pick_device(params.device)
    threads = pick_threads(params.threads)
    if device.type == "cpu":
        torch.set_num_threads(threads)
    factor = params.factor if params.operation == "upscale" else 1
    height, width, channels = image.shape
    sigma = None
    if params.operation == "denoise":
        sigma = params.sigma / 255.0 if params.sigma is not None else estimate_sigma(image)
        if sigma <= 0:
            raise EngineInputError("The image shows no noise to remove (estimated σ is 0).")
    if params.recipe:
        config = {"denoise": RECIPE, "inpaint": RECIPE_INPAINT, "flash": RECIPE}.get(
            params.operation) or RECIPE_UPSCALE[factor]
    else:
        config = fast_config(params.operation, factor)
    wrap = params.seamless
    guided_denoise = params.operation == "denoise" and not params.recipe
    tile = params.tile
    ys = tile_starts(height, tile, params.overlap, wrap)
    xs = tile_starts(width, tile, params.overlap, wrap)
    total_tiles = len(ys) * len(xs)
    out = np.zeros((height * factor, width * factor, channels), np.float32)
    weights = np.zeros((height * factor, width * factor, 1), np.float32)
    report = Reporter(progress)
    start = time.perf_counter()
    stats: dict[str, Any] = {"tiles": total_tiles, "iterations": 0, "stop_reasons": {},
                             "sigma": None if sigma is None else sigma * 255.0,
                             "device": device.type, "threads": threads}
    index = 0
    for y0 in ys:
        for x0 in xs:
            th, tw = min(tile, height), min(tile, width)
            rows = np.arange(y0, y0 + th) % height
            cols = np.arange(x0, x0 + tw) % width
            piece = image[np.ix_(rows, cols)]
            budget = None
            if params.time_budget is not None:
                left = max(params.time_budget - (time.perf_counter() - start), 0.001)
                budget = left / (total_tiles - index)

            def tile_progress(p: Progress, i: int = index) -> None:
                report(p.stage, (i + p.fraction) / total_tiles,
                       f"tile {i + 1}/{total_tiles} {p.message}", **p.values)

            target = torch.from_numpy(np.ascontiguousarray(piece.transpose(2, 0, 1)))[None]
            tile_mask = None
            if mask is not None:
                known = 1.0 - (mask[np.ix_(rows, cols)] > 0).astype(np.float32)
                tile_mask = torch.from_numpy(known)[None, None]
            tile_guide = None
            if guide is not None:
                tile_guide = torch.from_numpy(np.ascontiguousarray(
                    guide[np.ix_(rows, cols)].transpose(2, 0, 1)))[None]
            circular = wrap and th == height and tw == width
            if guided_denoise:
                assert sigma is not None
                estimate = dct_denoise(target, sigma, circular)
                tile_guide = guided_input(estimate, config, params.seed + index)
            elif params.operation == "inpaint" and not params.recipe:
                assert tile_mask is not None
                estimate = harmonic_fill(target, tile_mask, circular=circular)
                tile_guide = guided_input(estimate, config, params.seed + index)
            task = FitTask(operation=params.operation, mask=tile_mask, factor=factor, sigma=sigma,
                           guide=tile_guide, circular=circular)
            options = FitOptions(seed=params.seed + index, device=device, time_budget=budget,
                                 max_iterations=params.max_iterations,
                                 holdout=HOLDOUT.get(params.operation, 0.0))
            result = fit(target, config, task=task, options=options, progress=tile_progress)
            restored = result.image.transpose(1, 2, 0)
            if guided_denoise:
                # the generator's output is the pilot of a last Wiener pass over the tile
                assert sigma is not None
                pilot = torch.from_numpy(np.ascontiguousarray(result.image))[None]
                filtered = dct_wiener(target, pilot, sigma, circular).clamp(0, 1)
                restored = filtered[0].numpy().transpose(1, 2, 0)
            if mask is not None:  # keep every known pixel exactly as it was
                known3 = (mask[np.ix_(rows, cols)] <= 0)[..., None]
                restored = np.where(known3, piece, restored)
            w = feather(th * factor, tw * factor, params.overlap * factor if total_tiles > 1 else 0)
            out_rows = (np.arange(y0 * factor, (y0 + th) * factor)) % (height * factor)
            out_cols = (np.arange(x0 * factor, (x0 + tw) * factor)) % (width * factor)
            out[np.ix_(out_rows, out_cols)] += restored * w[..., None]
            weights[np.ix_(out_rows, out_cols)] += w[..., None]
            stats["iterations"] += result.iterations
            stats["stop_reasons"][result.stop_reason] = stats["stop_reasons"].get(result.stop_reason, 0) + 1
            index += 1
    stats["seconds"] = time.perf_counter() - start
    report("done", 1.0, f"{total_tiles} tile(s)")
    return RestoreResult((out / np.maximum(weights, 1e-12)).astype(np.float32), stats)


# -- files ----------------------------------------------------------------------------
def _read(path: Path) -> tuple[NDArray[np.float32], Any]:
    image = read_image(path)
    return image.pixels, image.spec


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
    inputs = udim_paths(source)
    if UDIM_TOKEN in source and UDIM_TOKEN not in output:
        raise EngineInputError("The output of a UDIM set needs <UDIM> in its name too.")
    folder = Path(output).absolute().parent
    if not folder.is_dir():
        raise EngineInputError(f"Output folder '{folder}' does not exist; create it first.")
    loaded = []
    for tile_name, path in inputs:
        pixels, spec = _read(path)
        if spec.nchannels < 1:
            raise EngineInputError(f"Image '{path.name}' has no channels.")
        hole = None
        if mask is not None:
            mask_pixels, _ = _read(output_for(mask, tile_name) if UDIM_TOKEN in mask else Path(mask))
            if mask_pixels.shape[:2] != pixels.shape[:2]:
                raise EngineInputError(
                    f"Mask is {mask_pixels.shape[1]}×{mask_pixels.shape[0]} but '{path.name}' is "
                    f"{pixels.shape[1]}×{pixels.shape[0]}; give a mask of the same size."
                )
            hole = (mask_pixels.max(axis=2) > 0).astype(np.float32)
        flash = None
        if guide is not None:
            flash, _ = _read(Path(guide))
            if flash.shape[:2] != pixels.shape[:2]:
                raise EngineInputError("The flash photo must be the same size as the no-flash photo.")
        loaded.append((tile_name, path, pixels, spec, hole, flash))
    if params.operation == "inpaint" and mask is None:
        raise EngineInputError("Inpainting needs a mask image (non-zero pixels are the holes).")
    summary: dict[str, Any] = {"files": [], "iterations": 0, "seconds": 0.0}
    for number, (tile_name, _path, pixels, spec, hole, flash) in enumerate(loaded):
        alpha = spec.alpha_channel if spec.alpha_channel >= 0 else None
        colour_idx = [c for c in range(spec.nchannels) if c != alpha or params.process_alpha]
        colour = pixels[..., colour_idx]
        hdr = str(spec.format) in ("half", "float", "double") and (colour.max() > 1.0 or colour.min() < 0.0)
        unit, offset = to_unit(colour, hdr)
        guide_unit = None if flash is None else to_unit(flash[..., :3], False)[0]

        def file_progress(p: Progress, n: int = number) -> None:
            if progress is not None:
                progress(Progress(p.stage, (n + p.fraction) / len(loaded), p.message, p.elapsed, p.eta,
                                  p.values))

        result = restore(unit, params, hole, guide_unit, file_progress)
        restored = from_unit(result.image, hdr, offset)
        if params.normal_map:
            restored = renormalise_normals(restored)
        factor = params.factor if params.operation == "upscale" else 1
        full = np.zeros((restored.shape[0], restored.shape[1], spec.nchannels), np.float32)
        full[..., colour_idx] = restored
        if alpha is not None and not params.process_alpha:
            a = pixels[..., alpha]
            full[..., alpha] = np.kron(a, np.ones((factor, factor), np.float32)) if factor > 1 else a
        if str(spec.format) not in ("half", "float", "double"):
            full = np.clip(full, 0.0, 1.0)
        target = output_for(output, tile_name)
        write_image(target, full, str(spec.format), list(spec.channelnames), spec.alpha_channel)
        summary["files"].append(str(target))
        summary["iterations"] += result.stats["iterations"]
        summary["seconds"] += result.stats["seconds"]
        summary.setdefault("sigma", result.stats["sigma"])
        summary.setdefault("stop_reasons", {})
        for reason, count in result.stats["stop_reasons"].items():
            summary["stop_reasons"][reason] = summary["stop_reasons"].get(reason, 0) + count
        summary["device"] = result.stats["device"]
        summary["threads"] = result.stats["threads"]
    return summary
