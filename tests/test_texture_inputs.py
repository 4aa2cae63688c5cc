"""The texture commands on inputs an adversarial trial found: each works or is refused
with one sentence (exit 2, nothing written) before any work, and never a wrong image."""

from __future__ import annotations

import importlib
import json
import math
import os

import numpy as np
import pytest

from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.images import read_image, write_image
from openpipeline.engine.texture.guide_check import TOO_SMALL
from openpipeline.engine.texture.restoration import RestoreParams, renormalise_normals, restore_file
from openpipeline.engine.texture.stopping import FitState, TimeBudget
from tests.helpers.cli import one_sentence, run_cli
from tests.helpers.images import leftovers, noisy_version, pattern

# Each runs the real command in a new process (seconds): 'make check' leaves them out.
pytestmark = pytest.mark.slow

FAST = ["--max-iterations", "3", "--quiet", "--threads", "1"]
# the module (the package's name 'restore' is the function)
restore_module = importlib.import_module("openpipeline.engine.texture.restoration")


def refused(result, *outputs) -> str:
    """Exit 2, one sentence, none of ``outputs`` written, no temporary file left: returns the sentence."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    for output in outputs:
        assert not output.exists(), output
        assert not leftovers(output.parent), leftovers(output.parent)
    return one_sentence(result.stderr)


def hdr_image(size: int = 32) -> np.ndarray:
    """A float image 0..1000 with one pixel far above and one below, and a tiny value."""
    rng = np.random.default_rng(5)
    pixels = (rng.random((size, size, 3)) * 1000).astype(np.float32)
    pixels[5, 5] = [1e7, 5e4, 2]
    pixels[9, 9] = [-500, 0.001, 65000]
    return pixels


def hole_mask(size: int = 32) -> np.ndarray:
    mask = np.zeros((size, size, 1), np.float32)
    mask[12:20, 14:22] = 1
    return mask


# -- 1: known pixels and HDR values --------------------------------------------------------
@pytest.mark.parametrize("pixels", [hdr_image(), pattern(32) * 50])
def test_inpainting_a_float_exr_keeps_every_known_pixel_bit_for_bit(tmp_path, pixels):
    """Inpainting a float EXR (HDR extremes, or plain 0..50) keeps every unmasked pixel exactly."""
    write_image(tmp_path / "in.exr", pixels, "float")
    write_image(tmp_path / "mask.png", hole_mask(), "uint8")
    result = run_cli("texture", "inpaint", str(tmp_path / "in.exr"), str(tmp_path / "mask.png"),
                     str(tmp_path / "out.exr"), *FAST)
    assert result.returncode == 0, result.stderr
    out = read_image(tmp_path / "out.exr")
    known = hole_mask()[..., 0] == 0
    assert out.format == "float"
    assert np.array_equal(out.pixels[known], read_image(tmp_path / "in.exr").pixels[known])


def test_the_hdr_value_map_keeps_range_and_precision():
    """File values → 0..1 → file values keeps 1e7, −500 and 0.001 to 1e-4 relative (x/(1+x) lost them)."""
    from openpipeline.engine.texture.value_range import ValueMap

    pixels = hdr_image()
    mapping = ValueMap.for_pixels(pixels, is_float=True, is_signed=False)
    unit = mapping.to_unit(pixels)
    assert unit.min() >= 0 and unit.max() <= 1
    back = mapping.to_file(unit)
    assert np.allclose(back, pixels, rtol=1e-4, atol=2e-2)
    assert back.max() == pytest.approx(1e7, rel=1e-5) and back.min() == pytest.approx(-500, rel=1e-5)


# -- 2: normal maps -----------------------------------------------------------------------
def test_normal_map_on_one_channel_is_refused(tmp_path):
    """--normal-map on a 1-channel image is refused (it came back as 0s and 1s)."""
    write_image(tmp_path / "height.exr", pattern(32)[..., :1], "float")
    result = run_cli("texture", "denoise", str(tmp_path / "height.exr"), str(tmp_path / "out.exr"),
                     "--normal-map", "--sigma", "5", *FAST)
    assert "--normal-map" in refused(result, tmp_path / "out.exr")


def test_two_channel_normal_maps_keep_short_xy_vectors():
    """An RG (BC5) normal map's xy vectors are only shortened when longer than 1, never forced to 1."""
    encoded = np.array([[[0.6, 0.5], [0.5, 0.8], [1.0, 1.0]]], np.float32)
    vectors = renormalise_normals(encoded) * 2 - 1
    lengths = np.linalg.norm(vectors, axis=-1)[0]
    assert lengths[0] == pytest.approx(0.2, abs=1e-6) and lengths[1] == pytest.approx(0.6, abs=1e-6)
    assert lengths[2] == pytest.approx(1.0, abs=1e-6)


def test_a_two_channel_normal_map_through_the_command_is_not_flattened(tmp_path):
    """`denoise --normal-map` on an RG map writes 2 channels whose xy vectors are not all unit length."""
    rg = (pattern(32)[..., :2] - 0.5) * 0.5 + 0.5  # xy vectors of length ≤ 0.3
    write_image(tmp_path / "n.png", rg, "uint8")
    result = run_cli("texture", "denoise", str(tmp_path / "n.png"), str(tmp_path / "out.png"),
                     "--normal-map", "--sigma", "3", *FAST)
    assert result.returncode == 0, result.stderr
    out = read_image(tmp_path / "out.png").pixels
    assert out.shape[2] == 2
    lengths = np.linalg.norm(out * 2 - 1, axis=-1)
    assert lengths.max() < 0.6


# -- 3: silent exit-0 results ---------------------------------------------------------------
def test_an_all_hole_mask_is_refused(tmp_path):
    """A mask with every pixel a hole is refused (it gave an all-black image)."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    write_image(tmp_path / "mask.png", np.ones((32, 32, 1), np.float32), "uint8")
    result = run_cli("texture", "inpaint", str(tmp_path / "in.png"), str(tmp_path / "mask.png"),
                     str(tmp_path / "out.png"), *FAST)
    assert "every pixel" in refused(result, tmp_path / "out.png")


def test_upscale_factor_zero_is_refused(tmp_path):
    """`upscale --factor 0` is refused (it silently upscaled ×2)."""
    write_image(tmp_path / "in.png", pattern(16), "uint8")
    result = run_cli("texture", "upscale", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                     "--factor", "0", *FAST)
    assert "factor 0" in refused(result, tmp_path / "out.png")


def test_a_signed_16_bit_tiff_keeps_its_negative_values(tmp_path):
    """Inpainting a signed int16 TIFF keeps it int16 and its negative known pixels exactly."""
    signed = pattern(32) * 2 - 1
    write_image(tmp_path / "in.tif", signed, "int16")
    write_image(tmp_path / "mask.png", hole_mask(), "uint8")
    result = run_cli("texture", "inpaint", str(tmp_path / "in.tif"), str(tmp_path / "mask.png"),
                     str(tmp_path / "out.tif"), *FAST)
    assert result.returncode == 0, result.stderr
    before, after = read_image(tmp_path / "in.tif"), read_image(tmp_path / "out.tif")
    known = hole_mask()[..., 0] == 0
    assert after.format == "int16" and before.pixels.min() < -0.5
    assert np.array_equal(after.pixels[known], before.pixels[known])


@pytest.mark.parametrize("source,fmt,channels,output", [
    ("in.exr", "half", 3, "out.png"),
    ("in.exr", "float", 3, "out.jpg"),
    ("in.png", "uint8", 4, "out.jpg"),
    ("in.tif", "uint16", 3, "out.jpg"),
])
def test_a_lossy_output_is_refused_unless_allowed(tmp_path, source, fmt, channels, output):
    """HDR to PNG/JPEG, alpha to JPEG, 16-bit to JPEG: refused; --allow-lossy writes it."""
    pixels = np.concatenate([pattern(32) * (4 if fmt in ("half", "float") else 1),
                             np.full((32, 32, 1), 0.5, np.float32)], -1)[..., :channels]
    names = ["R", "G", "B", "A"][:channels]
    write_image(tmp_path / source, pixels, fmt, names, 3 if channels == 4 else -1)
    args = ["texture", "denoise", str(tmp_path / source), str(tmp_path / output), "--sigma", "5", *FAST]
    assert "--allow-lossy" in refused(run_cli(*args), tmp_path / output)
    allowed = run_cli(*args, "--allow-lossy")
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / output).is_file()


def test_sigma_above_255_levels_is_refused(tmp_path):
    """`--sigma 1e9` is refused (σ above the whole 8-bit range means nothing)."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    result = run_cli("texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                     "--sigma", "1e9", *FAST)
    assert "255" in refused(result, tmp_path / "out.png")


# -- 4: upscale memory --------------------------------------------------------------------------
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_upscale_tiles_bound_the_high_resolution_side(factor):
    """Every upscale tile's output side is at most --tile, whatever the factor."""
    params = RestoreParams(operation="upscale", factor=factor, tile=128)
    tiles = restore_module._tiles(128, 128, params)
    assert max(len(t.rows) for t in tiles) * factor <= 128
    assert max(len(t.cols) for t in tiles) * factor <= 128
    covered = np.zeros((128, 128), bool)
    for tile in tiles:
        covered[np.ix_(tile.rows, tile.cols)] = True
    assert covered.all()


def test_a_time_budget_stops_before_an_iteration_that_would_overrun_it():
    """The fit's budget rule stops when one more iteration, as long as the average, would end past it."""
    rule = TimeBudget(3.0, ahead=True)
    assert rule.should_stop(FitState(1, 2.0, [], np.zeros(1)))  # type: ignore[arg-type]
    assert not rule.should_stop(FitState(4, 2.0, [], np.zeros(1)))  # type: ignore[arg-type]


def test_upscale_by_8_runs_in_bounded_tiles(tmp_path):
    """×8 of a 12×8 image with --tile 72 (the least: a 32 px overlap on each side) runs in
    several tiles and writes the 96×64 result (no limit given: each tile is its classical
    guide, no fit). (Eight rows keep it to one row of tiles: each takes seconds.)"""
    write_image(tmp_path / "in.png", pattern(16)[:8, :12], "uint8")
    result = run_cli("--json", "texture", "upscale", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                     "--factor", "8", "--tile", "72", "--quiet", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tiles"] > 1
    assert read_image(tmp_path / "out.png").pixels.shape == (64, 96, 3)


# -- 5: exit 1 on plain user input ----------------------------------------------------------------
def works_or_refuses(result, output, shape) -> None:
    """Exit 0 with an image of ``shape`` at ``output``, or exit 2 with one sentence and nothing written."""
    if result.returncode == 0:
        assert read_image(output).pixels.shape == shape
        assert not leftovers(output.parent)
    else:
        refused(result, output)


@pytest.mark.parametrize("height,width,extra", [
    (1, 1, []), (3, 3, []), (8, 8, []), (16, 16, []), (1, 5000, []), (1, 1, ["--sigma", "10"]),
    (3, 3, ["--sigma", "10"]), (1, 5000, ["--sigma", "10"]), (32, 32, ["--recipe"]),
])
def test_denoise_on_small_images_and_strips(tmp_path, height, width, extra):
    """Denoise on 1×1, 3×3, 8², 16², a 1×5000 strip, and --recipe on 32²: works or exit 2."""
    write_image(tmp_path / "in.png", noisy_version(np.resize(pattern(32), (height, width, 3))), "uint8")
    result = run_cli("texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.png"), *extra, *FAST)
    assert result.returncode != 1, result.stderr
    works_or_refuses(result, tmp_path / "out.png", (height, width, 3))


def test_small_images_with_a_sigma_are_denoised(tmp_path):
    """A 3×3 image with --sigma is restored (padded for the generator), not refused."""
    write_image(tmp_path / "in.png", noisy_version(np.resize(pattern(8), (3, 3, 3))), "uint8")
    result = run_cli("texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                     "--sigma", "10", *FAST)
    assert result.returncode == 0, result.stderr
    assert read_image(tmp_path / "out.png").pixels.shape == (3, 3, 3)


@pytest.mark.parametrize("command,shape", [
    (["upscale", "{d}/in.png", "{d}/out.png", "--factor", "2"], (16, 16, 3)),
    (["upscale", "{d}/in.png", "{d}/out.png", "--factor", "8"], (64, 64, 3)),
    (["inpaint", "{d}/in.png", "{d}/mask.png", "{d}/out.png"], (8, 8, 3)),
    (["flash", "{d}/in.png", "{d}/in.png", "{d}/out.png"], (8, 8, 3)),
])
def test_other_operations_on_an_8_pixel_image(tmp_path, command, shape):
    """Upscale, inpaint and flash on an 8×8 image give an image of the right size."""
    write_image(tmp_path / "in.png", pattern(8), "uint8")
    mask = np.zeros((8, 8, 1), np.float32)
    mask[2:4, 2:4] = 1
    write_image(tmp_path / "mask.png", mask, "uint8")
    result = run_cli("texture", *[a.format(d=tmp_path) for a in command], *FAST)
    assert result.returncode == 0, result.stderr
    assert read_image(tmp_path / "out.png").pixels.shape == shape


def test_a_gif_is_read_with_its_alpha(tmp_path):
    """A 4-channel GIF (OpenImageIO reports alpha index 4) is restored with its alpha kept."""
    rgba = np.concatenate([pattern(32), np.ones((32, 32, 1), np.float32)], -1)
    write_image(tmp_path / "in.gif", rgba, "uint8", ["R", "G", "B", "A"], 3)
    result = run_cli("texture", "denoise", str(tmp_path / "in.gif"), str(tmp_path / "out.png"),
                     "--sigma", "5", *FAST)
    assert result.returncode == 0, result.stderr
    out = read_image(tmp_path / "out.png")
    assert out.pixels.shape == (32, 32, 4) and out.alpha_channel == 3
    assert np.array_equal(out.pixels[..., 3], read_image(tmp_path / "in.gif").pixels[..., 3])


@pytest.mark.parametrize("seed", [str(2**64), str(-(2**63) - 1)])
def test_a_seed_out_of_range_is_refused(tmp_path, seed):
    """A seed torch cannot take (2**64, below −2**63) is refused in one sentence."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    result = run_cli("texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                     "--seed", seed, *FAST)
    assert "--seed" in refused(result, tmp_path / "out.png")


@pytest.mark.parametrize("tile", ["0", "-5", "40"])
def test_predict_refuses_a_tile_the_real_run_refuses(tmp_path, tile):
    """`texture predict --tile` 0, −5 or 40 is refused, as the real run refuses it."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    result = run_cli("texture", "predict", str(tmp_path / "in.png"), "--tile", tile, "--threads", "1",
                     env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert "--tile" in refused(result)


def test_predict_an_upscale_needs_its_factor(tmp_path):
    """`texture predict --operation upscale` without --factor is refused (it predicted ×1)."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    result = run_cli("texture", "predict", str(tmp_path / "in.png"), "--operation", "upscale",
                     "--threads", "1", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert "--factor" in refused(result)


@pytest.mark.parametrize("cache", ['{"device": "cpu", "threads": 1, "config": "denoise", "a": "x", "b": 1}',
                                   '{"device": "cpu", "threads": 1, "config": "denoise", "a": NaN, "b": 1}',
                                   '[1, 2]', '{"a": 1}'])
def test_a_damaged_calibration_cache_is_recalibrated(tmp_path, cache):
    """A corrupt or NaN calibration cache is measured again, and the prediction is a real number."""
    from openpipeline.engine.texture.duration_model import CALIBRATION_VERSION

    folder = tmp_path / "cache" / "openpipeline"
    folder.mkdir(parents=True)
    (folder / f"dip-runtime-v{CALIBRATION_VERSION}-cpu-1t-denoise.json").write_text(cache)
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    result = run_cli("--json", "texture", "predict", str(tmp_path / "in.png"), "--threads", "1",
                     "--device", "cpu", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    seconds = json.loads(result.stdout)["seconds"]
    assert math.isfinite(seconds) and seconds > 0


# -- 6: outputs checked before any work -----------------------------------------------------------
def _no_work(progress_calls: list[object]):
    def progress(p: object) -> bool:
        progress_calls.append(p)
        return True
    return progress


@pytest.mark.parametrize("name", ["out.xyz", "out", "folder"])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path, name):
    """An unknown extension, no extension or a folder as the output is refused before the fit starts."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    (tmp_path / "folder").mkdir()
    calls: list[object] = []
    with pytest.raises(EngineInputError):
        restore_file(str(tmp_path / "in.png"), str(tmp_path / name),
                     RestoreParams(sigma=5, max_iterations=3, threads=1), progress=_no_work(calls))
    assert calls == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "in.png"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused_before_any_work(tmp_path):
    """A read-only output folder is refused before the fit starts."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked").chmod(0o555)
    calls: list[object] = []
    with pytest.raises(EngineInputError, match="Cannot write"):
        restore_file(str(tmp_path / "in.png"), str(tmp_path / "locked" / "out.png"),
                     RestoreParams(sigma=5, max_iterations=3, threads=1), progress=_no_work(calls))
    assert calls == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc (Linux)")
def test_an_output_folder_nobody_can_write_is_refused_before_any_work(tmp_path):
    """A folder no one can create files in (/proc, even for root) is refused before the fit starts."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    calls: list[object] = []
    with pytest.raises(EngineInputError, match="Cannot write into"):
        restore_file(str(tmp_path / "in.png"), "/proc/out.png",
                     RestoreParams(sigma=5, max_iterations=3, threads=1), progress=_no_work(calls))
    assert calls == []


def test_an_output_folder_in_place_of_the_file_exits_2(tmp_path):
    """An output that is an existing folder: exit 2 in one sentence (it was exit 1 after the fit)."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    (tmp_path / "out.png").mkdir()
    result = run_cli("texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.png"), *FAST)
    assert "folder" in refused(result)
    assert not leftovers(tmp_path)


# -- 7: UDIM sets whole or not at all --------------------------------------------------------------
def _udim_set(tmp_path, tiles=("1001", "1002", "1003", "1004")) -> None:
    for tile in tiles:
        write_image(tmp_path / f"tex.{tile}.png", noisy_version(pattern(32), seed=int(tile)), "uint8")


def test_a_udim_set_whose_last_output_is_blocked_writes_nothing(tmp_path):
    """When tile 1004's output cannot be written, no tile is written (1001-1003 were left behind)."""
    _udim_set(tmp_path)
    (tmp_path / "out.1004.png").mkdir()
    result = run_cli("texture", "denoise", str(tmp_path / "tex.<UDIM>.png"), str(tmp_path / "out.<UDIM>.png"),
                     *FAST)
    refused(result, *(tmp_path / f"out.{tile}.png" for tile in ("1001", "1002", "1003")))


def test_a_udim_set_that_fails_while_writing_leaves_nothing(tmp_path, monkeypatch):
    """A write failure on tile 1004 leaves no tile of the set and no temporary file."""
    _udim_set(tmp_path)
    real = restore_module.write_image_to

    def failing(path, *args, **kwargs):
        if ".1004" in str(path) or "out.1004" in str(path):
            raise OSError("disk full")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(restore_module, "write_image_to", failing)
    with pytest.raises(OSError, match="disk full"):
        restore_file(str(tmp_path / "tex.<UDIM>.png"), str(tmp_path / "out.<UDIM>.png"),
                     RestoreParams(sigma=5, max_iterations=2, threads=1))
    assert not list(tmp_path.glob("out.*")) and not leftovers(tmp_path)


# -- 8, 9: one sentence; the smaller findings -------------------------------------------------------
def test_the_size_limit_refusal_is_one_sentence(tmp_path):
    """OpenImageIO's three-line size-limit refusal comes out as one sentence."""
    write_image(tmp_path / "big.exr", np.zeros((600, 600, 3), np.float32), "half")
    result = run_cli("texture", "denoise", str(tmp_path / "big.exr"), str(tmp_path / "out.exr"), *FAST,
                     env={"OPENIMAGEIO_OPTIONS": "limits:imagesize_MB=1"})
    assert "limit" in refused(result, tmp_path / "out.exr")


@pytest.mark.parametrize("command,word", [
    (["inpaint", "{d}/in.png", "{d}/mask.png", "{d}/out.png"], "Inpainted"),
    (["flash", "{d}/in.png", "{d}/in.png", "{d}/out.png"], "Flash-restored"),
])
def test_the_summary_speaks_english(tmp_path, command, word):
    """The summary line says 'Inpainted' and 'Flash-restored', not 'Inpaintd' and 'Flashd'."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    write_image(tmp_path / "mask.png", hole_mask(), "uint8")
    result = run_cli("texture", *[a.format(d=tmp_path) for a in command], *FAST)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(word)


def test_the_tile_error_names_the_real_minimum(tmp_path):
    """`--tile 40` is refused naming 65 px, the real minimum with the 32 px overlap."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    result = run_cli("texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                     "--tile", "40", *FAST)
    assert "65" in refused(result, tmp_path / "out.png")
    ok = run_cli("texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                 "--tile", "65", "--sigma", "5", *FAST)
    assert ok.returncode == 0, ok.stderr


def test_a_udim_output_for_a_single_input_is_refused(tmp_path):
    """A single image with an output named x.<UDIM>.png is refused (it wrote a file of that name)."""
    write_image(tmp_path / "in.png", pattern(32), "uint8")
    result = run_cli("texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "x.<UDIM>.png"), *FAST)
    refused(result, tmp_path / "x.<UDIM>.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_tx_output_is_a_tiled_mipmapped_texture(tmp_path):
    """Writing .tx makes a tiled, mip-mapped texture in the input's bit depth."""
    import OpenImageIO as oiio

    write_image(tmp_path / "in.png", pattern(64), "uint8")
    result = run_cli("texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.tx"),
                     "--sigma", "5", *FAST)
    assert result.returncode == 0, result.stderr
    source = oiio.ImageInput.open(str(tmp_path / "out.tx"))
    spec = source.spec()
    levels = 1
    while source.seek_subimage(0, levels):
        levels += 1
    source.close()
    assert spec.tile_width > 0 and levels > 1 and str(spec.format) == "uint8"


def test_tiles_after_the_budget_is_spent_take_the_classical_estimate():
    """Once the job's budget is spent, later tiles get the classical estimate instead of a fit
    (×8 of 128² with a 3 s budget ran 9 one-iteration fits, 40 s). The first tile (12² of
    input: too few pixels to check a network by) keeps its classical guide with no fit."""
    low = pattern(40)
    params = RestoreParams(operation="upscale", factor=8, tile=96, time_budget=0.01, threads=1)
    result = restore_module.restore(low, params)
    assert result.stats["tiles"] > 1 and result.stats["iterations"] == 0
    assert result.stats["stop_reasons"][restore_module.CLASSICAL_REASON] == result.stats["tiles"] - 1
    assert result.stats["stop_reasons"][TOO_SMALL] == 1
    assert result.image.shape == (320, 320, 3) and np.isfinite(result.image).all()
    error = np.abs(result.image[::8, ::8] - low).mean()
    assert error < 0.1


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "mask", "guide"])
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, how):
    from openpipeline.engine.texture.inputs import read_inputs

    source, mask = tmp_path / "in.png", tmp_path / "mask.png"
    write_image(source, pattern(16))
    write_image(mask, np.zeros((16, 16, 3), np.float32) + np.eye(16, dtype=np.float32)[..., None])
    before = source.read_bytes()
    output = {"same": source, "mask": mask, "guide": mask, "symlink": tmp_path / "link.png",
              "hardlink": tmp_path / "hard.png"}[how]
    if how == "symlink":
        output.symlink_to(source)
    if how == "hardlink":
        os.link(source, output)
    operation = {"mask": "inpaint", "guide": "flash"}.get(how, "denoise")
    params = RestoreParams(operation=operation)
    with pytest.raises(EngineInputError, match="would overwrite it") as caught:
        read_inputs(str(source), str(output), params, mask=str(mask) if how == "mask" else None,
                    guide=str(mask) if how == "guide" else None)
    assert one_sentence(f"openpipeline: {caught.value}")
    assert source.read_bytes() == before


def test_the_cli_refuses_to_denoise_an_image_onto_itself(tmp_path):
    source = tmp_path / "same.png"
    write_image(source, pattern(16))
    before = source.read_bytes()
    result = run_cli("texture", "denoise", str(source), str(source), *FAST)
    assert result.returncode == 2 and "would overwrite it" in result.stderr
    assert source.read_bytes() == before


def test_a_read_only_array_is_restored_without_a_torch_warning():
    """An image handed over read-only (a memory-mapped file, a buffer from the host application)
    (and its mask) is read, never written: the engine copies what it hands to torch, so torch's
    warning about non-writable arrays (printed once per process, to an artist's script editor)
    never fires, whether the image is denoised, inpainted or upscaled.
    Run in a fresh process with warnings as errors: the warning is shown once per process."""
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from openpipeline.engine.texture import RestoreParams, restore\n"
        "for channels in (1, 3):\n"
        "    image = np.random.default_rng(0).random((48, 48, channels), dtype=np.float32)\n"
        "    image.flags.writeable = False\n"
        "    restore(image, RestoreParams(operation='denoise', threads=1))\n"
        "    mask = np.zeros((48, 48), np.float32)\n"
        "    mask[20:28, 10:40] = 1.0\n"
        "    mask.flags.writeable = False\n"
        "    restore(image, RestoreParams(operation='inpaint', threads=1), mask=mask)\n"
        "    restore(image[:24, :24], RestoreParams(operation='upscale', factor=2, threads=1))\n"
    )
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", script],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
