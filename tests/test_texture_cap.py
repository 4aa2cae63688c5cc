"""A fit never goes silently to its cap: the default time cap, and the warnings a run
carries (and the CLI prints) when a tile's fit did not converge (issue 13, item 4)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from openpipeline.cli import main
from openpipeline.engine.texture import job as texture_job
from openpipeline.engine.texture import network, restoration
from openpipeline.engine.texture.restoration import RestoreParams, restore
from tests.helpers.images import noisy_version, pattern


@pytest.fixture
def tiny_cap(monkeypatch):
    """A default time cap a fit reaches after an iteration or two."""
    monkeypatch.setattr(restoration, "DEFAULT_CAP_SECONDS", 0.01)


@pytest.fixture
def few_iterations(monkeypatch):
    """The configuration's own iteration cap at 3 (as if 3,000 were reached)."""
    def config(params):
        fast = network.fast_config(params.operation, params.output_factor)
        return dataclasses.replace(fast, max_iterations=3)
    monkeypatch.setattr(restoration, "choose_config", config)


def _tile(side: int) -> restoration._TilePixels:
    return restoration._TilePixels(np.zeros((side, side, 3), np.float32), None, None, False)


def test_the_default_time_cap_is_60_s_per_128_squared_output_pixels():
    """Only without --time-budget and --max-iterations; never under 60 s; upscaling counts output pixels."""
    cap = restoration._default_cap
    assert cap(RestoreParams(), _tile(128)) == 60.0
    assert cap(RestoreParams(), _tile(32)) == 60.0
    assert cap(RestoreParams(), _tile(512)) == 16 * 60.0
    assert cap(RestoreParams(operation="upscale", factor=4), _tile(64)) == 4 * 60.0
    assert cap(RestoreParams(time_budget=5), _tile(128)) is None
    assert cap(RestoreParams(max_iterations=10), _tile(128)) is None


def test_a_fit_stopped_by_the_default_time_cap_warns(tiny_cap):
    """Stop reason 'time cap' and one sentence saying what to try (the published recipe's
    upscale: our configuration runs no fit unless given iterations or time, see the next test)."""
    result = restore(pattern(32), RestoreParams(operation="upscale", factor=2, recipe=True, threads=1))
    assert result.stats["stop_reasons"] == {"time cap": 1}
    [warning] = result.stats["warnings"]
    assert warning.startswith("The fit did not converge within its 0.01 s time cap")
    assert warning.endswith("give --time-budget or --max-iterations to set the limit yourself.")


def test_a_denoising_fit_that_did_not_converge_with_sigma_estimated_says_give_sigma(few_iterations):
    """σ was estimated: the warning says what it read and to give --sigma."""
    result = restore(noisy_version(pattern(32)), RestoreParams(threads=1, time_budget=60))
    assert result.stats["stop_reasons"] == {"iterations": 1}
    [warning] = result.stats["warnings"]
    assert "give --sigma (the estimate read" in warning and warning.endswith(".")


def test_denoising_without_limits_runs_no_fit_and_never_warns(tiny_cap):
    """The default denoiser is the SURE-checked classical estimate: no fit, no cap, no warning."""
    result = restore(noisy_version(pattern(32)), RestoreParams(threads=1))
    assert result.stats["stop_reasons"] == {restoration.CLASSICAL_DENOISE_REASON: 1}
    assert result.stats["iterations"] == 0 and result.stats["warnings"] == []


def test_the_iteration_cap_reached_without_max_iterations_warns(few_iterations):
    """Also under a --time-budget (no time cap then): the configuration's cap is not the user's."""
    result = restore(noisy_version(pattern(32)), RestoreParams(threads=1, sigma=25, time_budget=60))
    assert result.stats["stop_reasons"] == {"iterations": 1}
    assert result.stats["warnings"] == [
        "The fit did not converge in 3 iterations; check --sigma (25 given), "
        "or give --time-budget or --max-iterations to set the limit yourself."]


def test_limits_the_user_gave_are_no_warning(tiny_cap):
    """--max-iterations reached or --time-budget spent: what they asked for, so no warning."""
    noisy = noisy_version(pattern(32))
    asked = restore(noisy, RestoreParams(threads=1, max_iterations=3))
    assert asked.stats["stop_reasons"] == {"iterations": 1} and asked.stats["warnings"] == []
    budget = restore(noisy, RestoreParams(threads=1, time_budget=0.01))
    assert budget.stats["stop_reasons"] == {"time budget": 1} and budget.stats["warnings"] == []


def _write_png(path) -> None:
    import OpenImageIO as oiio

    pixels = noisy_version(pattern(32))
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), oiio.ImageSpec(32, 32, 3, "uint8"))
    assert out.write_image(np.ascontiguousarray(pixels, np.float32))
    out.close()


@pytest.mark.parametrize("cache", [[], ["--no-cache"]])
def test_the_cli_prints_the_warning_and_exits_0(tmp_path, capsys, few_iterations, cache):
    """Through the cache or not: the warning on stderr, in the JSON summary, exit code 0."""
    _write_png(tmp_path / "in.png")
    code = main(["--json", "texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                 "--quiet", "--threads", "1", "--time-budget", "60", *cache])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["stop_reasons"] == {"iterations": 1} and len(summary["warnings"]) == 1
    assert f"Warning: {summary['warnings'][0]}" in err.splitlines()


def test_the_cli_says_nothing_when_max_iterations_is_reached(tmp_path, capsys):
    _write_png(tmp_path / "in.png")
    code = main(["--json", "texture", "denoise", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                 "--quiet", "--threads", "1", "--max-iterations", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["warnings"] == [] and "Warning" not in err


def test_results_cached_before_the_cap_are_not_reused():
    """Outputs for the same inputs changed (the default cap, the classical denoiser and fills, then the
    denoiser's strength and the non-local patch fill, then the denoiser's search window and the
    colour noise estimate, then NL-Bayes as a prior for dense holes and ×4, then photon noise made
    white before denoising, then photon noise read in fewer bins beside clipped areas, then the
    noise level read after the thread count is set, then fills blended with the biharmonic fill, then
    the upscaler's Wiener step solved in its k×k Gram form, and its patch stages run on outputs up
    to 256², then inpainting tiles over 160² checked on fewer sets: three shifts of a stroke mask instead
    of six, two random draws instead of three, then the patch fill on inpainting tiles up to 512², then
    those tiles' random draws kept to a quarter of their blocks, then the upscaler's plug-and-play
    prior run for 64 rounds instead of 16, then the dense-holes fill's NL-Bayes groups searched once
    instead of at every step, and a grey image saved as RGB restored as one channel, then the noise
    read through clipping where pixels are at 0 or 1, then NL-Bayes' distances summed directly
    instead of as differences of cumulative sums: the same groups up to float rounding, then noise
    saved as JPEG never read as low-passed, then that withdrawn: it read JPEG'd noise at q75 and
    below as almost none, then noise saved as JPEG read white at the PCA and Immerkær level, then
    correlated noise on a grey image held under what its bands' kurtoses allow, then a JPEG
    kept from the photon-noise branch and its luminance from being held to its chroma, then a
    JPEG's level read from its PCA level and its quantisation step, and a camera's noise under
    JPEG from its lowest bands' kurtoses, then a JPEG's step of 2 read through the decoder's
    rounding, and a camera's noise under a colour JPEG read in its chroma, then a level given for a
    JPEG shaped as a JPEG's noise is read, then a camera's noise hiding smooth content under JPEG
    read from its lowest bands' Gaussian low-pass, then that reading's Gaussianity judged without
    the two lowest bands, then a JPEG's white level held near the most its zeros allow, then a
    colour luminance read white taking its chroma's camera blur, then a grey image's white level
    checked against its bands' kurtoses, then colour chroma held measured down to
    CHROMA_FLOOR_UNSAVED, then only where the luminance's kurtoses read texture, then photon noise
    taken only where its rise with the signal is white, then the noise model held under the
    image's own patch variance, then a camera's noise under a colour JPEG read in its chroma also
    where the kurtoses read too little to take, then a grey image's NL-Bayes passes on 7×7
    patches, 64 to a group, then GCV's strength picked on 5×5 patches all the same, then photon
    noise made white filtered at the white strength, not GCV's pick, then GCV's divergence averaged
    over four probes, then GCV stepping down to 0.6 on a light reading it rates clearly better
    there, then a grey low-pass too wide to hold read white where the finest bands' kurtoses
    allow a white level, then one held at the kurtoses' floor over content too, then colour chroma
    held measured at any share where both channels read white noise alike that the luminance's
    kurtoses allow, then a grey light stabilised level judged by GCV as a light reading, then a
    colour low-pass that both chroma read alike taken at its exact band powers, then only where
    that shape fits the chroma's lowest bands, then GCV's strength on an image over 256² rated
    with the image's own chain on its window, as big images' balanced tiles, landed just
    before it without a bump, did, then colour noise mildly low-passed taken at the chroma's
    fitted low-pass, then a grey one so on content whose kurtoses cannot tell, then a 4th
    channel kept out of that chroma rule, then GCV's strength on a colour image whose luminance
    reads far over its chroma), so the cache key's version moved on."""
    assert texture_job.RESULT_VERSION == "texture-54"


def test_a_farm_task_logs_the_warning(tmp_path, capsys, few_iterations):
    """The farm task's log has a warning line, and its last line's object the warnings."""
    from openpipeline.engine.texture.job import TextureJob
    from openpipeline.farm.model import FarmJob, FarmTask
    from openpipeline.farm.task import run_engine_task

    _write_png(tmp_path / "in.png")
    job = TextureJob(str(tmp_path / "in.png"), RestoreParams(threads=1, time_budget=60))
    task = FarmTask("in.png", job.to_dict(), job.key(), str(tmp_path / "out" / "in.png"))
    result = run_engine_task(FarmJob("j", "texture-denoise", (task,)), task, None)
    [warning] = result["warnings"]
    assert f"openpipeline farm task: warning: {warning}" in capsys.readouterr().err.splitlines()
