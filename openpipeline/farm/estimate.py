"""Expected time and memory of each task, for the farm's timeouts and memory requests.

Textures: each tile's classical result (seconds per megapixel measured per operation, scaled
by the calibration's ``classical`` factor: this machine against the one they were measured
on), plus, when the job runs the network's fit (``RestoreParams.fits``: flash, the recipe, or
iterations or a time budget given), the texture engine's runtime model (seconds per
iteration as a power law of a tile's pixels,
:class:`~openpipeline.engine.texture.RuntimeModel`) times the iterations the job may
take, and the inpainting or upscaling guide made again when it beats the network. The
model is this machine's calibration when one is cached, else :func:`default_model` (a
planning figure for one CPU core); a submit never starts a calibration unless asked
(``--calibrate``). Scatter: the scatter engine's own
budget (:func:`openpipeline.engine.scatter.budget.estimate`).

A timeout is :data:`TIMEOUT_FACTOR` times the estimate and at least
:data:`MIN_TIMEOUT` seconds, so a slow machine is not killed for being slow.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine (torch) is imported when an estimate is made, not with the farm
    from openpipeline.engine.texture.duration_model import RuntimeModel

# s/it = 0.4 · MP^1.0 on one CPU core: about what the calibration gives on a 2020s laptop core.
DEFAULT_A, DEFAULT_B = 0.4, 1.0
TIMEOUT_FACTOR = 3.0
MIN_TIMEOUT = 300
BASE_MEMORY = 512 * 2**20       # the interpreter and torch
BYTES_PER_TILE_PIXEL = 6000     # the generator's activations and gradients (512 px tile: about 2 GB)
# Without a fit: the classical steps' batches and sums. Measured peaks (one thread, RSS, with
# the interpreter): 512² colour tiles 0.42–0.60 GB (denoise, inpaint, ×4 upscale), a 128²
# ×4 upscale 0.51 GB (its patch back-projection; a 256² one 0.52–0.70 GB), a 2048² colour
# denoise 0.99 GB.
CLASSICAL_BYTES_PER_TILE_PIXEL = 1500
# a hole filling a 512² tile: the direct biharmonic solve, 1.6 GB; the patch fill of a 512²
# colour tile with half its pixels missing (texture-14): 1.5 GB peak with the interpreter
INPAINT_BYTES_PER_TILE_PIXEL = 6000
CLASSICAL_MIN_BYTES = 512 * 2**20
IMAGE_BYTES_PER_PIXEL = 100     # the image, its result and their working copies, per output pixel


def default_model() -> RuntimeModel:
    """The model used when this machine has no calibration: ``s/it = 0.4 · MP``."""
    from openpipeline.engine.texture.duration_model import RuntimeModel

    return RuntimeModel("cpu", 1, "default", DEFAULT_A, DEFAULT_B)


def runtime_model(operation: str, device: str = "cpu", threads: int = 1, calibrate: bool = False
                  ) -> RuntimeModel:
    """The cached calibration for ``device``/``threads``/``operation``, a new one when ``calibrate``,
    else :func:`default_model`. Cost: one small file read (a calibration: a few seconds)."""
    from openpipeline.engine.texture.duration_model import RuntimeModel, cache_path, load_or_calibrate

    if calibrate:
        return load_or_calibrate(device, threads, operation)
    try:
        cached = RuntimeModel.parse(cache_path(device, threads, operation).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        cached = None
    return cached or default_model()


def image_size(path: str) -> tuple[int, int] | None:
    """Width and height from the file's header (None when it cannot be read). Cost: a header read."""
    import OpenImageIO as oiio

    image = oiio.ImageInput.open(path)
    if image is None:
        return None
    try:
        spec = image.spec()
        return int(spec.width), int(spec.height)
    finally:
        image.close()


def texture_estimate(sizes: list[tuple[int, int]], params: Any, model: RuntimeModel
                     ) -> tuple[float, int]:
    """Seconds and peak bytes of restoring images of ``sizes`` with ``params`` (RestoreParams)."""
    factor = params.output_factor
    seconds = 0.0
    tile_pixels = image_pixels = 0
    for width, height in sizes:
        classical, fit = model.parts(width, height, params.operation, factor, params.tile, params.overlap,
                                     params.max_iterations)
        fit = fit if params.fits else 0.0
        if params.time_budget is not None:  # the budget bounds the fit; later tiles still get their
            fit = min(fit, float(params.time_budget))  # classical result (and each file has its own)
        seconds += classical + fit
        side_x, side_y = min(params.tile, width * factor), min(params.tile, height * factor)
        tile_pixels = max(tile_pixels, side_x * side_y)
        image_pixels = max(image_pixels, width * height * factor * factor)
    if params.fits:
        working = BYTES_PER_TILE_PIXEL * tile_pixels
    else:
        inpaint = params.operation == "inpaint"
        rate = INPAINT_BYTES_PER_TILE_PIXEL if inpaint else CLASSICAL_BYTES_PER_TILE_PIXEL
        working = max(rate * tile_pixels, CLASSICAL_MIN_BYTES)
    return seconds, BASE_MEMORY + working + IMAGE_BYTES_PER_PIXEL * image_pixels


def timeout_seconds(seconds: float | None) -> int:
    """The timeout a farm gets for a task estimated at ``seconds``.

    >>> timeout_seconds(10.0), timeout_seconds(1000.0), timeout_seconds(None)
    (300, 3000, 86400)
    """
    if seconds is None:
        return 24 * 3600
    return max(MIN_TIMEOUT, math.ceil(TIMEOUT_FACTOR * seconds))


def memory_megabytes(memory: int | None) -> int:
    """A memory request in MiB, rounded up (OpenCue, Deadline); 2 GiB without an estimate.

    >>> memory_megabytes(3 * 2**20 + 1), memory_megabytes(None)
    (4, 2048)
    """
    return 2048 if memory is None else math.ceil(memory / 2**20)
