"""Property tests of the texture engine's promises over many image shapes, channel counts,
pixel formats, value ranges and masks (Hypothesis, derandomized: the same examples every
run). Each example runs :func:`restore_file` with two iterations and checks: it writes a
correct result or refuses in one sentence; known pixels and alpha are kept bit for bit;
bit depth and channel names are kept; nothing is left behind on a refusal."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.images import HOLDS, Image, read_image, write_image
from openpipeline.engine.texture.restoration import RestoreParams, restore_file
from tests.helpers.images import leftovers

pytestmark = pytest.mark.slow  # a couple of minutes: every example is a real (short) fit

PROFILE = settings(derandomize=True, database=None, deadline=None, max_examples=40,
                   suppress_health_check=[HealthCheck.too_slow])
SIDES = st.sampled_from([1, 2, 3, 5, 8, 16, 17, 31, 33, 64, 70])
FORMATS = {"uint8": ".png", "uint16": ".tif", "half": ".exr", "float": ".exr"}


@dataclass(frozen=True)
class Case:
    """One generated job: the input image, its mask, the operation and the output suffix."""

    pixels: np.ndarray
    fmt: str
    alpha: int
    operation: str
    holes: np.ndarray | None
    suffix: str

    @property
    def names(self) -> list[str]:
        names = ["R", "G", "B", "X", "Y"][: self.pixels.shape[2]]
        if self.alpha >= 0:
            names[self.alpha] = "A"
        return names


@st.composite
def cases(draw: st.DrawFn) -> Case:
    height, width = draw(SIDES), draw(SIDES)
    channels = draw(st.integers(1, 5))
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    pixels = rng.random((height, width, channels)).astype(np.float32)
    if fmt in ("half", "float"):
        pixels = pixels * draw(st.sampled_from([1.0, 50.0, 6e4])) - draw(st.sampled_from([0.0, 0.5, 300.0]))
    alpha = channels - 1 if channels >= 2 and draw(st.booleans()) else -1
    operation = draw(st.sampled_from(["denoise", "inpaint", "upscale"]))
    holes = None
    if operation == "inpaint":
        holes = (rng.random((height, width)) < draw(st.sampled_from([0.0, 0.2, 0.7, 1.0]))).astype(np.float32)
    suffix = draw(st.sampled_from([FORMATS[fmt], FORMATS[fmt], ".tif", ".png", ".jpg"]))
    return Case(pixels, fmt, alpha, operation, holes, suffix)


def _run(case: Case, folder: Path) -> tuple[Image, Image | None, str | None]:
    """Write the case's files, run it; returns (input as read, output or None, refusal or None)."""
    suffix = FORMATS[case.fmt] if case.pixels.shape[2] <= 4 else ".tif"  # PNG holds at most 4
    source = folder / f"in{suffix}"
    write_image(source, case.pixels, case.fmt, case.names, case.alpha)
    mask = None
    if case.holes is not None:
        mask = str(folder / "mask.png")
        write_image(mask, case.holes[..., None], "uint8")
    output = folder / f"out{case.suffix}"
    params = RestoreParams(operation=case.operation, sigma=10, factor=2, max_iterations=2, threads=1)
    try:
        restore_file(str(source), str(output), params, mask=mask)
    except EngineInputError as exc:
        return read_image(source), None, str(exc)
    return read_image(source), read_image(output), None


def _check_refusal(message: str, folder: Path, case: Case) -> None:
    assert "\n" not in message and message.endswith((".", ")")), message
    assert not (folder / f"out{case.suffix}").exists() and not leftovers(folder)


def _by_name(before: Image, after: Image) -> np.ndarray:
    """The output's channels in the input's order, matched by name (EXR stores channels by
    name and reads R, G, B, A first, whatever order they were written in)."""
    assert sorted(after.channel_names) == sorted(before.channel_names)
    return after.pixels[..., [after.channel_names.index(name) for name in before.channel_names]]


def _check_result(before: Image, after: Image, case: Case) -> None:
    """The promises of a written result, against the input as read (a 4-channel PNG reads
    as RGBA, whatever the names it was written with)."""
    factor = 2 if case.operation == "upscale" else 1
    height, width, channels = before.pixels.shape
    assert after.pixels.shape == (height * factor, width * factor, channels)
    assert after.format in HOLDS[before.format] and np.isfinite(after.pixels).all()
    if case.suffix == ".jpg":  # JPEG compresses with loss by nature: only its shape and depth are promised
        return
    pixels = _by_name(before, after)
    if before.alpha_channel >= 0:
        alpha = np.kron(before.pixels[..., before.alpha_channel], np.ones((factor, factor), np.float32))
        assert np.array_equal(pixels[..., before.alpha_channel], alpha)
    if case.holes is not None:
        known = case.holes == 0
        assert np.array_equal(pixels[known], before.pixels[known])


@PROFILE
@given(cases())
def test_every_job_writes_a_correct_result_or_refuses_in_one_sentence(case: Case) -> None:
    """Any shape, channel count, format, range and mask: a correct image, or one sentence and no file."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        before, after, refusal = _run(case, folder)
        if refusal is not None:
            _check_refusal(refusal, folder, case)
        else:
            assert after is not None
            _check_result(before, after, case)
