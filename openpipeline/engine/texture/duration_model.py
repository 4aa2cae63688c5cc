"""How long a texture job will take, before it starts (for farm planning).

Seconds per iteration grow with the pixels a generator sees as a power law,
``s = a · MP^b``; :func:`calibrate` measures a few sizes on this device and fits
``a`` and ``b`` in log-log space; :class:`RuntimeModel` then predicts a job from
its tiles and a typical iteration count per operation. Calibrations are cached
per device, thread count, configuration and :data:`CALIBRATION_VERSION` in the user's cache
folder.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from openpipeline.atomic import write_bytes
from openpipeline.engine.texture.fitting import FitOptions, fit
from openpipeline.engine.texture.network import fast_config
from openpipeline.engine.texture.patch_fill import PATCH_MAX_PIXELS, UPSCALE_PATCH_MAX_PIXELS
from openpipeline.engine.texture.tiles import tile_layout

# Iterations our stopping rules typically take on 128-256 px tiles (measured by the
# benchmark); the prediction is a planning figure, not a promise.
TYPICAL_ITERATIONS = {"denoise": 500, "inpaint": 2500, "upscale": 2000, "flash": 1500}
# CPU seconds per output megapixel of the classical result on one thread: all of a
# denoise, inpaint or upscale when no fit is asked (the default), the guide before a fit
# otherwise. Measured with RESULT_VERSION texture-14, in one quiet run on the machine the
# calibration references below were measured on (a fresh process per figure, as the command
# line runs: one thread, glibc's allocator set by keep_freed_memory), on the centre of the
# tune split's astronaut (colour): 512² tiles denoised at σ 20 59–68, inpainted with 50 %
# holes 434 (333 measured after it, in texture-15, whose check reads a quarter of the tile) and
# with strokes 300, ×4 upscaled 61–68; tiles up to SMALL_TILE pixels, where the full patch
# stages (the patch fill searching far, NL-Bayes; the upscaler's patch back-projection) also
# run, 128²: denoise 157–159, inpaint holes 1655 and strokes 1067; the ×4 upscale's patch
# stages run up to 256² tiles: 256² 865–897, 1143–1165 since texture-16 (its plug-and-play
# prior runs 64 rounds instead of 16; two runs side by side on the two cores). Inpainting
# plans for holes.
# Rounded up: a planning figure. (Until texture-14 the rates and the references came from
# different runs, and this machine's estimates ran 1.2–2.4× over its real times.)
CLASSICAL_SECONDS_PER_MP = {"denoise": 70.0, "inpaint": 340.0, "upscale": 70.0, "flash": 70.0}
SMALL_TILE_SECONDS_PER_MP = {"denoise": 160.0, "inpaint": 1700.0, "upscale": 1200.0, "flash": 160.0}
SMALL_TILE = PATCH_MAX_PIXELS  # up to this the full patch stages run (upscaling: UPSCALE_PATCH_MAX_PIXELS)
# A fit on an inpainting or upscaling tile starts from the guide made from its training pixels;
# when the guide wins (as it mostly does) it is made again from every known pixel. That share of
# the classical seconds comes with a fit: upscaling makes the whole guide again; inpainting only
# its fill, not the check that chose it: 11–24 % of the guide's time on 128² tune tiles (holes
# and strokes), 22–35 % on 512² ones, whose check takes fewer sets since texture-13, and about
# 28 % since texture-14 (a 512² colour tile with strokes: fill 26 s of the guide's 94). Rounded up.
GUIDE_REMADE_SHARE = {"denoise": 0.0, "inpaint": 0.4, "upscale": 1.0, "flash": 0.0}
THREAD_SCALING = 0.75  # n threads run the classical steps n**0.75 times as fast (2: 1.7×, measured)
CALIBRATION_SIDE = 192  # output side of the classical job a calibration times (above SMALL_TILE)
UPSCALE_CALIBRATION_SIDE = 288  # the ×4 one's (above UPSCALE_PATCH_MAX_PIXELS, as most tiles are)
# Its seconds on the machine the rates above were measured on, in the same run (one thread, a
# fresh process that first ran calibrate()'s network timings, as the cache's calibration does;
# the median of three; the ×4 upscale from 72²): calibrate() divides this machine's time by
# them to scale the rates. Measured 5.0–5.3, 8.5–9.2 and 5.2–5.6 s.
REFERENCE_CALIBRATION_SECONDS = {"denoise": 5.2, "inpaint": 8.6, "upscale": 5.3}
# In the cache file's name: a calibration cached against other references (before texture-14's
# re-measurement: version 1, unnamed) is measured again rather than read with these rates.
CALIBRATION_VERSION = 2


@dataclass(frozen=True)
class RuntimeModel:
    """``seconds_per_iteration = a · megapixels^b`` on one device, and ``classical``: this
    machine's time for the classical steps over the reference machine's (see
    :data:`REFERENCE_CALIBRATION_SECONDS`)."""

    device: str
    threads: int
    config: str
    a: float
    b: float
    classical: float = 1.0

    @classmethod
    def parse(cls, text: str) -> RuntimeModel | None:
        """A cached calibration, or None when it is damaged (not JSON, wrong fields or
        types, ``a`` not a positive finite number or ``b`` not finite)."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        fields = {"device": str, "threads": int, "config": str, "a": float, "b": float, "classical": float}
        if not isinstance(data, dict) or set(data) != set(fields):
            return None
        for name, kind in fields.items():
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
                return None
        if not (math.isfinite(data["a"]) and data["a"] > 0 and math.isfinite(data["b"])):
            return None
        if not (math.isfinite(data["classical"]) and data["classical"] > 0):
            return None
        return cls(data["device"], data["threads"], data["config"], float(data["a"]), float(data["b"]),
                   float(data["classical"]))

    def seconds_per_iteration(self, width: int, height: int) -> float:
        return float(self.a * (width * height / 1e6) ** self.b)

    def predict(self, width: int, height: int, operation: str = "denoise", factor: int = 1,
                tile: int = 512, overlap: int = 32, iterations: int | None = None,
                fit: bool = True) -> float:
        """Predicted seconds for a whole image processed in tiles: :meth:`parts`, the fit's
        only with ``fit``."""
        classical, fitting = self.parts(width, height, operation, factor, tile, overlap, iterations)
        return classical + fitting if fit else classical

    def parts(self, width: int, height: int, operation: str = "denoise", factor: int = 1,
              tile: int = 512, overlap: int = 32, iterations: int | None = None) -> tuple[float, float]:
        """Predicted seconds for a whole image processed in tiles (``tile`` and ``overlap``
        bound a tile's output side, as in :func:`.restore.restore`): every tile's classical
        result (:func:`classical_seconds`), and what a fit adds to every tile: ``iterations``
        (else a typical count) of the network, and the guide made again when it wins
        (:data:`GUIDE_REMADE_SHARE`)."""
        tile_in, overlap_in = tile // factor, overlap // factor
        starts_y, side_y = tile_layout(height, tile_in, overlap_in, False)
        starts_x, side_x = tile_layout(width, tile_in, overlap_in, False)
        tiles_y, tiles_x = len(starts_y), len(starts_x)
        th, tw = side_y * factor, side_x * factor
        classical = self.classical * classical_seconds(operation, tw * th, self.threads)
        fitting = (iterations or TYPICAL_ITERATIONS[operation]) * self.seconds_per_iteration(tw, th)
        fitting += GUIDE_REMADE_SHARE[operation] * classical
        return tiles_y * tiles_x * classical, tiles_y * tiles_x * fitting


def classical_seconds(operation: str, tile_pixels: int, threads: int = 1) -> float:
    """Seconds of one tile's classical result (see :data:`CLASSICAL_SECONDS_PER_MP`) on
    ``threads`` CPU threads; a planning figure for a 2020s server core."""
    small = UPSCALE_PATCH_MAX_PIXELS if operation == "upscale" else SMALL_TILE
    rates = SMALL_TILE_SECONDS_PER_MP if tile_pixels <= small else CLASSICAL_SECONDS_PER_MP
    return float(rates[operation] * tile_pixels / 1e6 / max(threads, 1) ** THREAD_SCALING)


def fit_power_law(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares of log(seconds) on log(megapixels): returns (a, b)."""
    x = np.log([mp for mp, _ in samples])
    y = np.log([s for _, s in samples])
    b, log_a = np.polyfit(x, y, 1)
    return float(math.exp(log_a)), float(b)


def calibrate(device: str = "cpu", threads: int = 1, operation: str = "denoise",
              sizes: tuple[int, ...] = (48, 96, 160), iterations: int = 6) -> RuntimeModel:
    """Time a few iterations at a few sizes and fit the power law (a few seconds)."""
    torch.set_num_threads(threads)
    config = fast_config(operation)
    samples = []
    for size in sizes:
        image = torch.rand(1, 3, size, size)
        fit(image, config, options=FitOptions(max_iterations=2, auto_stop=False, device=torch.device(device)))
        start = time.perf_counter()
        fit(image, config, options=FitOptions(max_iterations=iterations, auto_stop=False,
                                               device=torch.device(device)))
        samples.append((size * size / 1e6, (time.perf_counter() - start) / iterations))
    a, b = fit_power_law(samples)
    return RuntimeModel(device, threads, operation, a, b, classical_scale(device, threads, operation))


def calibration_job(operation: str) -> tuple[np.ndarray, np.ndarray | None, int]:
    """The classical job a calibration times: a (h, w, 3) image in 0..1, its holes (inpaint)
    and the upscale factor, for a :data:`CALIBRATION_SIDE`² output
    (:data:`UPSCALE_CALIBRATION_SIDE`² when upscaling). Fixed seeds: the same
    job on every machine."""
    rng = np.random.default_rng(0)
    side = UPSCALE_CALIBRATION_SIDE if operation == "upscale" else CALIBRATION_SIDE
    y, x = np.mgrid[0:side, 0:side] / side
    clean = np.stack([0.5 + 0.3 * np.sin(12 * x + 5 * y), 0.5 + 0.3 * np.cos(9 * y), 0.4 + 0.2 * x], -1)
    clean = np.clip(clean + 0.1 * rng.random((side, side, 3)), 0, 1).astype(np.float32)
    if operation == "upscale":
        return np.ascontiguousarray(clean[::4, ::4]), None, 4
    if operation == "inpaint":
        holes = np.zeros((side, side), np.float32)
        holes[side // 8::side // 6, :] = 1.0  # thin strokes across the image
        holes[:, side // 5::side // 4] = 1.0
        return clean, holes, 1
    noisy = np.clip(clean + rng.normal(0, 20 / 255, clean.shape), 0, 1).astype(np.float32)
    return noisy, None, 1


def classical_scale(device: str, threads: int, operation: str) -> float:
    """This machine's seconds for :func:`calibration_job` over the reference machine's (1.0
    where no reference was measured: the flash operation always fits); 5–10 seconds on a 2020s core."""
    from openpipeline.engine.texture.params import RestoreParams
    from openpipeline.engine.texture.restoration import restore

    reference = REFERENCE_CALIBRATION_SECONDS.get(operation, 0.0)
    if reference <= 0:
        return 1.0
    image, holes, factor = calibration_job(operation)
    params = RestoreParams(operation=operation, factor=max(factor, 2), device=device, threads=threads)
    start = time.perf_counter()
    restore(image, params, holes)
    measured = (time.perf_counter() - start) * max(threads, 1) ** THREAD_SCALING
    return float(min(max(measured / reference, 0.05), 20.0))


def cache_path(device: str, threads: int, operation: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    name = f"dip-runtime-v{CALIBRATION_VERSION}-{device}-{threads}t-{operation}.json"
    return Path(base) / "openpipeline" / name


def load_or_calibrate(device: str, threads: int, operation: str) -> RuntimeModel:
    """The cached calibration for this device, or a new one (then cached)."""
    path = cache_path(device, threads, operation)
    try:
        cached = RuntimeModel.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        cached = None
    if cached is not None:
        return cached
    model = calibrate(device, threads, operation)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, json.dumps(asdict(model)).encode("utf-8"))
    except OSError:
        pass  # a read-only home still gets a prediction
    return model
