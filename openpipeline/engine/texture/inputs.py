"""Reading and checking a restoration's files before any work: every UDIM tile, its
mask, the flash photo, and every output.

Imports no torch, so a refusal (and the CLI's cache look-up) comes without loading
the engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from openpipeline.atomic import publish_problem
from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.images import Image, lossy_problem, read_image, writer_problem
from openpipeline.engine.texture.params import RestoreParams
from openpipeline.engine.texture.udim import UDIM_TOKEN, output_for, udim_paths


def check_arrays(image: NDArray[np.float32], mask: NDArray[np.float32] | None,
                 guide: NDArray[np.float32] | None) -> None:
    """Refuse arrays of the wrong shape before any work, saying which and what was expected:
    the image (H, W, C), the mask (H, W) and the flash photo (H, W, C') of the same H and W."""
    shape = tuple(np.shape(image))
    if len(shape) != 3 or shape[2] < 1 or shape[0] < 1 or shape[1] < 1:
        raise EngineInputError(f"The image is an array of shape {shape}; an (H, W, C) array is expected "
                               "(a grey (H, W) array: add the channel axis, image[..., None]).")
    if mask is not None and tuple(np.shape(mask)) != shape[:2]:
        raise EngineInputError(f"The mask is an array of shape {tuple(np.shape(mask))}; the image is "
                               f"{shape[0]}×{shape[1]}, so an ({shape[0]}, {shape[1]}) mask is expected.")
    if guide is not None and (np.ndim(guide) != 3 or tuple(np.shape(guide))[:2] != shape[:2]):
        raise EngineInputError(f"The flash photo is an array of shape {tuple(np.shape(guide))}; the image is "
                               f"{shape[0]}×{shape[1]}, so a ({shape[0]}, {shape[1]}, C) array is expected.")


def check_mask(holes: NDArray[np.float32] | None, name: str = "The mask") -> None:
    """Refuse a mask with no known pixel: there is nothing to fill the holes from."""
    if holes is not None and holes.size and bool((holes > 0).all()):
        raise EngineInputError(f"{name} marks every pixel as a hole; nothing is known to fill them from.")


# -- files ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class InputFile:
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
    check_mask(holes, f"The mask of '{path.name}'")
    return holes


def _read_flash(guide: str, image: Image) -> NDArray[np.float32]:
    flash = read_image(Path(guide)).pixels
    if flash.shape[:2] != image.pixels.shape[:2]:
        raise EngineInputError("The flash photo must be the same size as the no-flash photo.")
    return flash


def kept_alpha(image: Image, params: RestoreParams) -> int:
    """The alpha channel that passes through untouched, or -1: none with ``process_alpha``,
    and none in a 2-channel normal map (its second channel is y, whatever PNG calls it)."""
    if params.process_alpha or (params.normal_map and image.pixels.shape[2] == 2):
        return -1
    return image.alpha_channel


def colour_channels(image: Image, params: RestoreParams) -> list[int]:
    """The channels the operation restores: all but the alpha that passes through."""
    return [c for c in range(image.pixels.shape[2]) if c != kept_alpha(image, params)]


def _check_image(image: Image, path: Path, params: RestoreParams) -> None:
    """Refuse an image the operation cannot restore (before any work)."""
    colour = colour_channels(image, params)
    if not colour:
        raise EngineInputError(f"Image '{path.name}' has no colour channels to restore; "
                               f"add --process-alpha to restore its alpha.")
    if params.normal_map and len(colour) < 2:
        raise EngineInputError(f"Image '{path.name}' has {len(colour)} colour channel(s) but --normal-map "
                               f"needs an RGB or RG normal map; leave --normal-map out.")


def check_outputs(source: str, output: str, loaded: list[InputFile], params: RestoreParams) -> None:
    """Refuse an output that cannot be written, before any work: a UDIM token that does not
    match the input, an extension OpenImageIO cannot write, a folder that is missing or
    read-only, a folder in the output's place, or (without ``allow_lossy``) a format that
    cannot hold the input's pixels (bit depth, HDR values, alpha, channels).

    Cost: creates and removes one small probe file per output.
    """
    if (UDIM_TOKEN in source) != (UDIM_TOKEN in output):
        raise EngineInputError(f"The input and the output must both name a UDIM set ({UDIM_TOKEN}) "
                               f"or neither; '{output}' does not match '{source}'.")
    for item in loaded:
        target = output_for(output, item.tile)
        problem = publish_problem(target) or writer_problem(target)
        if problem is None and not params.allow_lossy:
            lossy = lossy_problem(target, item.image)
            problem = None if lossy is None else f"{lossy}; write a format that can, or pass --allow-lossy."
        if problem is not None:
            raise EngineInputError(problem)


def _same_file(one: Path, other: Path) -> bool:
    """``one`` and ``other`` are one file (a link or hard link counts); resolved paths when
    either is missing."""
    try:
        return os.path.samefile(one, other)
    except OSError:
        return one.resolve() == other.resolve()


def check_not_an_input(source: str, output: str, tiles: list[str], mask: str | None = None,
                       guide: str | None = None) -> None:
    """Refuse an output that is an input (an image tile, a mask or the flash photo): writing
    it would destroy the input, through a link or hard link too."""
    for tile in tiles:
        target = output_for(output, tile) if tile else Path(output)
        inputs = [output_for(source, tile) if tile else Path(source)]
        if mask is not None:
            inputs.append(output_for(mask, tile) if UDIM_TOKEN in mask else Path(mask))
        if guide is not None:
            inputs.append(Path(guide))
        for path in inputs:
            if _same_file(target, path):
                raise EngineInputError(f"The output '{target}' is the input '{path}' and would overwrite it; "
                                       "write the result to another file.")


def read_inputs(source: str, output: str, params: RestoreParams, mask: str | None = None,
                guide: str | None = None) -> list[InputFile]:
    """Read and check every input of a job (each UDIM tile, its mask, the flash photo)
    and every output before any work starts.

    Raises:
        EngineInputError: a file is missing, unreadable or of the wrong size, a mask
            has no known pixel, an output cannot be written (see :func:`check_outputs`)
            or is one of the inputs,
            or an inpaint job has no mask.

    Cost: reads every input file whole.
    """
    if params.operation == "inpaint" and mask is None:
        raise EngineInputError("Inpainting needs a mask image (non-zero pixels are the holes).")
    inputs = udim_paths(source)
    loaded = []
    for tile, path in inputs:
        image = read_image(path)
        _check_image(image, path, params)
        holes = None if mask is None else _read_holes(mask, tile, image, path)
        flash = None if guide is None else _read_flash(guide, image)
        loaded.append(InputFile(tile, image, holes, flash))
    check_not_an_input(source, output, [tile for tile, _ in inputs], mask, guide)
    check_outputs(source, output, loaded, params)
    return loaded
