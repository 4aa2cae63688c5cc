"""Texture restoration on real images and files: small sizes, few iterations."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from openpipeline.engine import devices
from openpipeline.engine.errors import Cancelled, EngineInputError
from openpipeline.engine.texture import fitting, network
from openpipeline.engine.texture.duration_model import RuntimeModel, fit_power_law
from openpipeline.engine.texture.noise_level import estimate_sigma
from openpipeline.engine.texture.restoration import RestoreParams, renormalise_normals, restore
from openpipeline.engine.texture.tiles import feather, tile_layout
from openpipeline.engine.texture.udim import udim_paths
from tests.helpers.cli import run_cli
from tests.helpers.images import noisy_version, pattern, psnr

# End-to-end runs of the texture engine: seconds each ('make check' leaves them out).
pytestmark = pytest.mark.slow


def test_the_recipe_network_has_the_published_size():
    """Our implementation of the published skip net has its 2.22 M parameters."""
    assert network.parameter_count(network.SkipNet(network.RECIPE, 3)) == 2_217_831
    assert network.parameter_count(network.SkipNet(network.fast_config("denoise"), 3)) < 200_000


def test_noise_level_is_estimated():
    """The σ estimate is within 10 % on a smooth texture."""
    clean = pattern(96)
    for sigma in (10, 25, 50):
        noisy = clean + np.random.default_rng(1).normal(0, sigma / 255, clean.shape)
        assert abs(estimate_sigma(noisy) * 255 - sigma) < 0.1 * sigma


def test_denoise_improves_and_is_deterministic():
    """Denoising gains several dB, is the SURE-checked classical estimate (no fit without
    iterations or time given), never below its guide here, and repeats bit for bit."""
    clean = pattern(48)
    noisy = noisy_version(clean)
    params = RestoreParams(operation="denoise", seed=3, threads=1)
    first = restore(noisy, params)
    second = restore(noisy, params)
    assert np.array_equal(first.image, second.image)
    assert psnr(first.image, clean) > psnr(noisy, clean) + 4
    assert first.stats["stop_reasons"] == {"classical estimate": 1}
    assert first.guide is not None and first.guide.shape == first.image.shape
    assert psnr(first.image, clean) >= psnr(first.guide, clean) - 0.05
    assert abs(first.stats["sigma"] - 25) < 5


def test_inpaint_fills_holes_and_keeps_known_pixels():
    """Known pixels come back exactly; holes get values close to the truth."""
    clean = pattern(40)
    holes = np.zeros((40, 40), np.float32)
    holes[15:25, 10:30] = 1
    damaged = clean * (1 - holes[..., None])
    result = restore(damaged, RestoreParams(operation="inpaint", max_iterations=300, threads=1), holes)
    known = holes == 0
    assert np.array_equal(result.image[known], damaged[known])
    error_filled = np.abs(result.image[~known] - clean[~known]).mean()
    error_black = np.abs(damaged[~known] - clean[~known]).mean()
    assert error_filled < 0.3 * error_black


def test_upscale_makes_the_image_larger():
    """×2 upscaling doubles both sides; other factors are refused."""
    low = pattern(24)
    result = restore(low, RestoreParams(operation="upscale", factor=2, max_iterations=40, threads=1))
    assert result.image.shape == (48, 48, 3)
    with pytest.raises(EngineInputError, match="factor 3"):
        restore(low, RestoreParams(operation="upscale", factor=3))



def test_arrays_of_the_wrong_shape_are_refused_before_any_work():
    """``restore`` is public API: a grey (H, W) image, a mask or flash photo of another size
    gets an input error that names the shapes, not an IndexError from deep in the engine."""
    image = pattern(40)
    with pytest.raises(EngineInputError, match=r"shape \(40, 40\); an \(H, W, C\) array"):
        restore(image[..., 0], RestoreParams(operation="denoise", threads=1))
    with pytest.raises(EngineInputError, match=r"mask is an array of shape \(40, 39\).*\(40, 40\) mask"):
        restore(image, RestoreParams(operation="inpaint", threads=1), np.zeros((40, 39), np.float32))
    with pytest.raises(EngineInputError, match=r"flash photo is an array of shape \(20, 20, 3\)"):
        restore(image, RestoreParams(operation="flash", threads=1), guide=np.zeros((20, 20, 3), np.float32))

def test_seamless_output_tiles_without_a_seam():
    """With --seamless the wrap-around jump is no larger than the steps inside."""
    clean = pattern(48, periodic=True)
    noisy = noisy_version(clean, 20)
    result = restore(noisy, RestoreParams(operation="denoise", seamless=True, max_iterations=200,
                                          threads=1))
    out = result.image
    interior = np.abs(np.diff(out, axis=1)).mean()
    seam = np.abs(out[:, 0] - out[:, -1]).mean()
    assert seam < 1.5 * interior
    interior_y = np.abs(np.diff(out, axis=0)).mean()
    assert np.abs(out[0] - out[-1]).mean() < 1.5 * interior_y


def test_large_images_run_in_feathered_tiles():
    """An image larger than a tile is processed in overlapping tiles and blended."""
    clean = pattern(80)
    result = restore(noisy_version(clean), RestoreParams(tile=48, overlap=8, max_iterations=30,
                                                         threads=1))
    assert result.stats["tiles"] == 4
    assert result.image.shape == clean.shape and np.isfinite(result.image).all()
    assert tile_layout(80, 48, 8, False) == ([0, 36], 44)  # two tiles, balanced: 44 px, 8 overlapping
    weights = feather(48, 48, 8)
    assert weights[24, 24] == 1 and weights[0, 0] < 0.01


@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("tile,overlap", [(512, 32), (48, 8), (72, 32), (100, 0)])
def test_balanced_tiles_cover_every_pixel_overlap_enough_and_stay_within_the_tile(wrap, tile, overlap):
    """Every length from one pixel to nine tiles: as many tiles as ``tile`` steps need, every
    pixel covered, neighbours (and, wrapping, the last and the first) overlapping by at least
    ``overlap``, no tile over ``tile`` or past the end unless it wraps, none under ``least``;
    a length that fits is one tile of itself. At 1024² and the defaults the nine tiles process
    1.13 times the pixels where tiles of the full 512 px processed 2.25 times."""
    step = tile - overlap
    for length in [*range(1, 3 * tile), 9 * step + overlap, 9 * step + overlap + 1]:
        starts, side = tile_layout(length, tile, overlap, wrap, least=min(40, tile))
        if length <= tile:
            assert (starts, side) == ([0], length)
            continue
        assert min(40, tile) <= side <= tile
        assert len(starts) == (-(-length // step) if wrap else -(-(length - overlap) // step))
        covered = np.zeros(length, int)
        for start in starts:
            assert wrap or start + side <= length
            covered[np.arange(start, start + side) % length] += 1
        assert covered.min() >= 1
        ends = [*starts[1:], starts[0] + length] if wrap else starts[1:]
        assert all(starts[i] + side - ends[i] >= overlap for i in range(len(ends)))
    starts, side = tile_layout(1024, 512, 32, False)
    assert len(starts) ** 2 * side**2 / 1024**2 == pytest.approx(1.13, abs=0.005)


def test_time_budget_and_cancel():
    """A time budget stops the fit; a callback returning False cancels it."""
    noisy = noisy_version(pattern(48))
    result = restore(noisy, RestoreParams(time_budget=0.5, threads=1))
    assert "time budget" in result.stats["stop_reasons"]
    with pytest.raises(Cancelled):
        restore(noisy, RestoreParams(threads=1), progress=lambda p: p.fraction < 0.01)


def test_normal_maps_are_renormalised():
    """Every normal decoded from the output is unit length."""
    rng = np.random.default_rng(0)
    encoded = rng.random((8, 8, 3)).astype(np.float32)
    vectors = renormalise_normals(encoded) * 2 - 1
    assert np.allclose(np.linalg.norm(vectors, axis=-1), 1, atol=1e-5)


def test_runtime_model_fits_a_power_law():
    """The fit recovers a known power law and predicts larger jobs as longer."""
    a, b = fit_power_law([(mp, 0.3 * mp**0.9) for mp in (0.01, 0.05, 0.2)])
    assert abs(a - 0.3) < 1e-6 and abs(b - 0.9) < 1e-6
    model = RuntimeModel("cpu", 1, "denoise", a, b)
    assert model.predict(1024, 1024) > model.predict(256, 256) > 0


def test_the_classical_steps_scale_with_the_machine_and_old_caches_are_measured_again():
    """A calibration's ``classical`` factor scales the classical estimate (not the fit's);
    a cache from before it existed (no ``classical`` field) or with a factor ≤ 0 is refused
    (measured again); the calibration job is a fixed 192² output for each operation, 288² for
    the ×4 upscale: above the tiles whose upscale runs the patch stages, as most tiles are."""
    from openpipeline.engine.texture.duration_model import (
        CALIBRATION_SIDE,
        SMALL_TILE,
        UPSCALE_CALIBRATION_SIDE,
        calibration_job,
        classical_seconds,
    )
    from openpipeline.engine.texture.sparse_fill import UPSCALE_PATCH_MAX_PIXELS

    base = RuntimeModel("cpu", 2, "denoise", 0.4, 1.0)
    slow = RuntimeModel("cpu", 2, "denoise", 0.4, 1.0, classical=3.0)
    assert slow.predict(2048, 2048, fit=False) == pytest.approx(3 * base.predict(2048, 2048, fit=False))
    fit_part = base.predict(2048, 2048, iterations=100) - base.predict(2048, 2048, fit=False)
    slow_fit_part = slow.predict(2048, 2048, iterations=100) - slow.predict(2048, 2048, fit=False)
    assert slow_fit_part == pytest.approx(fit_part)
    old = '{"device": "cpu", "threads": 1, "config": "denoise", "a": 0.4, "b": 1.0}'
    assert RuntimeModel.parse(old) is None
    assert RuntimeModel.parse(old[:-1] + ', "classical": 0}') is None
    parsed = RuntimeModel.parse(old[:-1] + ', "classical": 1.5}')
    assert parsed == RuntimeModel("cpu", 1, "denoise", 0.4, 1.0, 1.5)
    for operation in ("denoise", "inpaint", "upscale"):
        image, holes, factor = calibration_job(operation)
        side = UPSCALE_CALIBRATION_SIDE if operation == "upscale" else CALIBRATION_SIDE
        assert image.shape[0] * factor == side and image.dtype == np.float32
        assert side**2 > (UPSCALE_PATCH_MAX_PIXELS if operation == "upscale" else SMALL_TILE)
        assert (holes is not None) == (operation == "inpaint")
        assert np.array_equal(image, calibration_job(operation)[0])  # the same job every time
    # a 256² upscale tile runs the patch stages (their rate per pixel), a 288² one does not;
    # inpainting's full patch stages stop at 160² (a narrower patch fill runs above)
    per_pixel = {side: classical_seconds("upscale", side * side) / side**2 for side in (160, 256, 288)}
    assert per_pixel[160] == per_pixel[256] > 5 * per_pixel[288]
    assert classical_seconds("inpaint", 256 * 256) / 256**2 < classical_seconds("inpaint", 160 * 160) / 160**2


def test_a_fit_s_estimate_counts_the_guide_made_again_when_it_wins():
    """With a fit, an upscaling tile's guide is made twice (from the training pixels, then from
    every pixel when it wins) and an inpainting tile's fill twice (not its check): the fit's
    part of the estimate holds the network's iterations plus that share of the classical part;
    a denoise's fit part is its iterations alone."""
    from openpipeline.engine.texture.duration_model import GUIDE_REMADE_SHARE, classical_seconds
    from openpipeline.engine.texture.tiles import tile_layout

    model = RuntimeModel("cpu", 1, "denoise", 0.4, 1.0, classical=2.0)
    for operation, factor in (("upscale", 2), ("inpaint", 1), ("denoise", 1)):
        side = 512 // factor  # one 512² output tile
        classical, fitting = model.parts(side, side, operation, factor, iterations=100)
        network = 100 * model.seconds_per_iteration(512, 512)
        assert classical > 0
        assert fitting == pytest.approx(network + GUIDE_REMADE_SHARE[operation] * classical)
        total = model.predict(side, side, operation, factor, iterations=100)
        assert total == pytest.approx(classical + fitting)
    starts, side = tile_layout(1024, 512, 32, False)  # a 1024² inpainting: per tile, then summed
    tiles = len(starts) ** 2
    classical, fitting = model.parts(1024, 1024, "inpaint", iterations=100)
    assert tiles > 1 and side < 512
    assert classical == pytest.approx(tiles * model.classical * classical_seconds("inpaint", side * side))
    assert fitting == pytest.approx(tiles * (100 * model.seconds_per_iteration(side, side)
                                             + GUIDE_REMADE_SHARE["inpaint"] * classical / tiles))
    assert GUIDE_REMADE_SHARE["upscale"] == 1.0 and 0 < GUIDE_REMADE_SHARE["inpaint"] < 1
    assert GUIDE_REMADE_SHARE["denoise"] == 0.0


# -- files, through the CLI --------------------------------------------------------------
def _write(path, pixels, fmt, channels=None):
    import OpenImageIO as oiio

    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], fmt)
    if channels:
        spec.channelnames = tuple(channels)
        if "A" in channels:
            spec.alpha_channel = channels.index("A")
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec)
    assert out.write_image(np.ascontiguousarray(pixels, np.float32))
    out.close()


def _read(path):
    import OpenImageIO as oiio

    source = oiio.ImageInput.open(str(path))
    spec = source.spec()
    pixels = source.read_image(0, 0, 0, spec.nchannels, "float")
    source.close()
    return pixels, spec


FAST = ["--max-iterations", "15", "--quiet", "--threads", "1"]


def test_png_with_alpha_keeps_alpha_untouched(tmp_path):
    """8-bit RGBA PNG: colour restored, alpha byte for byte, still 8-bit RGBA."""
    rgb = noisy_version(pattern(32))
    alpha = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32, 1)
    _write(tmp_path / "in.png", np.concatenate([rgb, alpha], -1), "uint8", ["R", "G", "B", "A"])
    result = run_cli("--json", "texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                     *FAST)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["iterations"] == 15 and summary["files"] == [str(tmp_path / "out.png")]
    before, _ = _read(tmp_path / "in.png")
    after, spec = _read(tmp_path / "out.png")
    assert str(spec.format) == "uint8" and spec.nchannels == 4
    assert np.array_equal(before[..., 3], after[..., 3])


def test_16_bit_tiff_stays_16_bit(tmp_path):
    """A 16-bit TIFF comes back as a 16-bit TIFF."""
    _write(tmp_path / "in.tif", noisy_version(pattern(32)), "uint16")
    result = run_cli("texture", "denoise", str(tmp_path / "in.tif"), str(tmp_path / "out.tif"), *FAST)
    assert result.returncode == 0, result.stderr
    _, spec = _read(tmp_path / "out.tif")
    assert str(spec.format) == "uint16"


def test_float_exr_keeps_hdr_values_and_channel_names(tmp_path):
    """Float EXR with values above 1 and alpha: no clipping, names and alpha kept."""
    rgb = pattern(32) * 6.0
    alpha = np.full((32, 32, 1), 0.5, np.float32)
    _write(tmp_path / "in.exr", np.concatenate([rgb, alpha], -1), "half", ["R", "G", "B", "A"])
    result = run_cli("texture", "denoise", str(tmp_path / "in.exr"), str(tmp_path / "out.exr"),
                     "--sigma", "5", *FAST)
    assert result.returncode == 0, result.stderr
    after, spec = _read(tmp_path / "out.exr")
    assert list(spec.channelnames) == ["R", "G", "B", "A"] and str(spec.format) == "half"
    assert after[..., :3].max() > 2.0
    assert np.allclose(after[..., 3], 0.5)


def test_udim_set_is_one_job(tmp_path):
    """name.<UDIM>.png processes every tile on disk into matching outputs."""
    for tile in ("1001", "1002"):
        _write(tmp_path / f"tex.{tile}.png", noisy_version(pattern(32), seed=int(tile)), "uint8")
    result = run_cli("--json", "texture", "denoise", str(tmp_path / "tex.<UDIM>.png"),
                     str(tmp_path / "out.<UDIM>.png"), *FAST)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.1001.png").is_file() and (tmp_path / "out.1002.png").is_file()
    assert len(json.loads(result.stdout)["files"]) == 2
    assert [tile for tile, _ in udim_paths(str(tmp_path / "tex.<UDIM>.png"))] == ["1001", "1002"]


@pytest.mark.parametrize("command,expected", [
    (["denoise", "{d}/missing.png", "{d}/o.png"], "does not exist"),
    (["denoise", "{d}/corrupt.png", "{d}/o.png"], "Cannot read image"),
    (["inpaint", "{d}/good.png", "{d}/small_mask.png", "{d}/o.png"], "same size"),
    (["upscale", "{d}/good.png", "{d}/o.png", "--factor", "3"], "factor 3"),
    (["denoise", "{d}/good.png", "{d}/o.png", "--sigma", "-4"], "positive number"),
    (["denoise", "{d}/good.png", "{d}/o.png", "--sigma", "nan"], "positive number"),
    (["denoise", "{d}/good.png", "{d}/o.png", "--time-budget", "0"], "positive number"),
    (["denoise", "{d}/good.png", "{d}/nowhere/o.png"], "does not exist"),
    (["denoise", "{d}/tex.<UDIM>.png", "{d}/o.png"], "No UDIM tiles"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, command, expected):
    """Each bad input: exit code 2, one sentence, no output image."""
    _write(tmp_path / "good.png", pattern(32), "uint8")
    _write(tmp_path / "small_mask.png", np.ones((16, 16, 1), np.float32), "uint8")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    args = [a.format(d=tmp_path) for a in command]
    result = run_cli("texture", *args, *FAST)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not (tmp_path / "o.png").exists()
    assert not list(tmp_path.glob(".*tmp*"))


def _machine(monkeypatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


def test_auto_device_takes_cuda_then_mps_then_the_cpu(monkeypatch):
    """auto picks CUDA over MPS over the CPU, whichever the machine has."""
    _machine(monkeypatch, cuda=True, mps=True)
    assert devices.pick_device("auto") == torch.device("cuda")
    _machine(monkeypatch, cuda=False, mps=True)
    assert devices.pick_device("auto") == torch.device("mps")
    _machine(monkeypatch, cuda=False, mps=False)
    assert devices.pick_device("auto") == torch.device("cpu")
    assert devices.pick_device() == torch.device("cpu")


def test_a_named_device_must_exist(monkeypatch):
    """Asking for a device the machine lacks, or an unknown one, is a clear error; the CPU always works."""
    _machine(monkeypatch, cuda=False, mps=False)
    with pytest.raises(EngineInputError, match="no CUDA"):
        devices.pick_device("cuda")
    with pytest.raises(EngineInputError, match="MPS is not available"):
        devices.pick_device("mps")
    with pytest.raises(EngineInputError, match="'tpu' is not known"):
        devices.pick_device("tpu")
    assert devices.pick_device("cpu") == torch.device("cpu")
    _machine(monkeypatch, cuda=True, mps=True)
    assert devices.pick_device("cuda") == torch.device("cuda")
    assert devices.pick_device("mps") == torch.device("mps")


def test_threads_are_the_idle_cores_and_at_least_one(monkeypatch):
    """Unasked, the thread count is the cores minus the load (rounded), at least one; asked, as asked."""
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    for load, threads in ((0.0, 8), (2.6, 5), (2.4, 6), (7.8, 1), (20.0, 1)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, 0.0, 0.0))
        assert devices.pick_threads() == threads, load
    assert devices.pick_threads(3) == 3 and devices.pick_threads(16) == 16
    with pytest.raises(EngineInputError, match="at least 1"):
        devices.pick_threads(0)


def test_threads_without_a_load_average_or_a_core_count(monkeypatch):
    """No load average (Windows, or an error) means every core; no core count means one thread."""
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    monkeypatch.delattr(os, "getloadavg")
    assert devices.pick_threads() == 6

    def unreadable() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", unreadable, raising=False)
    assert devices.pick_threads() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert devices.pick_threads() == 1


def test_flash_no_flash_uses_the_flash_photo_as_input(tmp_path):
    """The flash operation fits the no-flash photo from the flash photo's structure."""
    clean = pattern(32)
    no_flash = noisy_version(clean * 0.5, 10)
    flash = np.clip(clean * 1.4, 0, 1).astype(np.float32)
    _write(tmp_path / "ambient.png", no_flash, "uint8")
    _write(tmp_path / "flash.png", flash, "uint8")
    result = run_cli("texture", "flash", str(tmp_path / "ambient.png"), str(tmp_path / "flash.png"),
                     str(tmp_path / "out.png"), "--max-iterations", "150", "--quiet", "--threads", "1")
    assert result.returncode == 0, result.stderr
    out, _ = _read(tmp_path / "out.png")
    assert np.abs(out - clean * 0.5).mean() < np.abs(flash - clean * 0.5).mean()


def test_predict_calibrates_once_and_estimates_a_job(tmp_path):
    """`texture predict` fits the runtime model, caches it, and scales with the image."""
    _write(tmp_path / "small.png", pattern(64), "uint8")
    _write(tmp_path / "large.png", np.tile(pattern(64), (8, 8, 1)), "uint8")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    small = run_cli("--json", "texture", "predict", str(tmp_path / "small.png"), "--threads", "1", env=env)
    assert small.returncode == 0, small.stderr
    from openpipeline.engine.texture.duration_model import cache_path

    assert (tmp_path / "cache" / "openpipeline" / cache_path("cpu", 1, "denoise").name).is_file()
    large = run_cli("--json", "texture", "predict", str(tmp_path / "large.png"), "--threads", "1", env=env)
    assert json.loads(large.stdout)["seconds"] > 4 * json.loads(small.stdout)["seconds"] > 0
    assert json.loads(large.stdout)["fit"] is False  # a default denoise: the classical result alone
    flash = run_cli("--json", "texture", "predict", str(tmp_path / "large.png"), "--threads", "1",
                    "--operation", "flash", env=env)
    assert json.loads(flash.stdout)["fit"] is True
    assert json.loads(flash.stdout)["seconds"] > json.loads(large.stdout)["seconds"]


def test_a_fit_that_keeps_collapsing_still_honours_its_time_budget(monkeypatch):
    """Roll-backs after loss jumps go through the budget check (they used to skip it)."""
    target = torch.full((1, 3, 8, 8), 0.25)

    class Flaky(torch.nn.Module):
        """Fits the target perfectly for 60 steps, then jumps away on every step."""

        def __init__(self, *args, **kwargs):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            value = target if self.calls <= 60 else 1 - target
            return value + 0 * self.weight

    monkeypatch.setattr(fitting, "SkipNet", Flaky)
    options = fitting.FitOptions(auto_stop=False, time_budget=0.5, max_iterations=200_000)
    result = fitting.fit(target, network.fast_config("denoise"), options=options)
    assert result.stop_reason == "time budget"
    assert result.iterations < 200_000
