"""The classical DCT filters and the whiteness test that stops denoising."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from openpipeline.engine.texture import dct_filters
from openpipeline.engine.texture.harmonic_fill import harmonic_fill
from openpipeline.engine.texture.stopping import residual_correlation
from tests.helpers.images import noisy_version, pattern, psnr


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


def test_transforms_are_orthonormal():
    """White noise stays white with the same σ in the DCT and the colour space."""
    for n in (4, 8):
        dct = dct_filters.dct_matrix(n)
        assert torch.allclose(dct @ dct.T, torch.eye(n), atol=1e-6)
    for channels in (1, 3, 4):
        matrix = dct_filters.colour_matrix(channels)
        assert torch.allclose(matrix @ matrix.T, torch.eye(channels), atol=1e-6)


def test_two_passes_denoise_and_a_better_pilot_helps():
    """Hard threshold < Wiener with it as pilot < Wiener with the clean image as pilot."""
    clean = as_tensor(pattern(64))
    noisy = as_tensor(noisy_version(pattern(64), 25, seed=4))
    sigma = 25 / 255
    hard = dct_filters.dct_hard_threshold(noisy, sigma)
    two_pass = dct_filters.dct_denoise(noisy, sigma)
    oracle = dct_filters.dct_wiener(noisy, clean, sigma)
    assert psnr(noisy, clean) + 6 < psnr(hard, clean) < psnr(two_pass, clean) < psnr(oracle, clean)


def test_overlap_add_is_the_transposed_convolution():
    """Windows summed back by a matrix product and a fold give what conv_transpose2d gives,
    at stride 1 and 2, for several images in a batch: a full 8×8 basis and a one-band box."""
    generator = torch.Generator().manual_seed(2)
    for bands in (64, 1):
        coefficients = torch.randn((3, bands, 9, 13), generator=generator)
        basis = torch.randn((bands, 64), generator=generator)
        for stride in (1, 2):
            expected = F.conv_transpose2d(coefficients, basis.reshape(bands, 1, 8, 8), stride=stride)
            got = dct_filters.overlap_add(coefficients, basis, 8, stride)
            assert got.shape == expected.shape
            assert torch.allclose(got, expected, atol=1e-4)


def test_bands_give_the_same_result_as_one_pass(monkeypatch):
    """Working in bands of rows (bounded memory) changes nothing."""
    noisy = as_tensor(noisy_version(pattern(48), 20, seed=2))
    whole = dct_filters.dct_denoise(noisy, 20 / 255)
    monkeypatch.setattr(dct_filters, "BAND", 5)
    banded = dct_filters.dct_denoise(noisy, 20 / 255)
    assert torch.allclose(whole, banded, atol=1e-5)


@pytest.mark.parametrize("channels", [1, 2, 4])
def test_any_channel_count(channels):
    """Grey, two-channel and RGBA images are filtered channel for channel."""
    image = np.repeat(pattern(40)[..., :1], channels, axis=-1)
    noisy = as_tensor(noisy_version(image, 20, seed=1))
    out = dct_filters.dct_denoise(noisy, 20 / 255)
    assert out.shape == noisy.shape
    assert psnr(out, as_tensor(image)) > psnr(noisy, as_tensor(image)) + 5


def test_circular_mode_wraps_around():
    """Seamless mode: filtering a rolled image equals rolling the filtered image."""
    noisy = as_tensor(noisy_version(pattern(48, periodic=True), 20, seed=3))
    out = dct_filters.dct_denoise(noisy, 20 / 255, circular=True)
    rolled = dct_filters.dct_denoise(torch.roll(noisy, (17, 9), dims=(2, 3)), 20 / 255, circular=True)
    assert torch.allclose(torch.roll(out, (17, 9), dims=(2, 3)), rolled, atol=1e-5)


def test_residual_correlation_tells_structure_from_copied_noise():
    """Structure left in a residual reads positive, white noise ~0, high-passed noise negative."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn((1, 3, 96, 96), generator=generator)
    structure = as_tensor(pattern(96)) - 0.5
    blurred = F.avg_pool2d(F.pad(noise, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    assert residual_correlation(structure + 0.1 * noise) > 0.5
    assert abs(residual_correlation(noise)) < 0.02
    assert residual_correlation(noise - blurred) < -0.1
    assert residual_correlation(torch.zeros((1, 3, 8, 8))) == 0.0


def test_harmonic_fill_keeps_known_pixels_and_fills_holes_smoothly():
    """Known pixels come back bit for bit; holes get close to a smooth truth; no mask → finite."""
    clean = as_tensor(pattern(64))
    known = torch.ones((1, 1, 64, 64))
    known[..., 20:40, 8:56] = 0
    known[..., ::3, ::2] = 0  # and scattered missing pixels
    filled = harmonic_fill(clean * known, known)
    assert torch.equal(filled[known.expand_as(filled) > 0], clean[known.expand_as(clean) > 0])
    holes = known.expand_as(clean) == 0
    assert (filled - clean)[holes].abs().mean() < 0.1 * clean[holes].abs().mean()
    assert torch.isfinite(harmonic_fill(clean, torch.zeros_like(known))).all()
