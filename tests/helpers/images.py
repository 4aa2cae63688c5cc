"""Test images: a smooth colourful pattern, its noisy versions, and PSNR."""

from __future__ import annotations

import math

import numpy as np
import torch


def pattern(size: int = 48, periodic: bool = False) -> np.ndarray:
    """A smooth colourful texture (periodic when asked, so it tiles)."""
    y, x = np.mgrid[0:size, 0:size] / size
    if periodic:
        r = 0.5 + 0.4 * np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y)
        g = 0.5 + 0.4 * np.cos(4 * np.pi * x)
    else:
        r = 0.5 + 0.4 * np.sin(5 * x + 2 * y)
        g = 0.5 + 0.4 * np.cos(3 * y - x)
    b = 0.5 + 0.3 * np.sin(2 * np.pi * (x + y))
    return np.stack([r, g, b], -1).astype(np.float32)


def noisy_version(clean: np.ndarray, sigma: float = 25, seed: int = 0) -> np.ndarray:
    """``clean`` plus white Gaussian noise of σ in 8-bit levels, clipped to 0..1."""
    rng = np.random.default_rng(seed)
    return np.clip(clean + rng.normal(0, sigma / 255, clean.shape), 0, 1).astype(np.float32)


def psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in 0..1 (``a`` clipped to 0..1 first)."""
    if isinstance(a, torch.Tensor):
        a = a.detach().clamp(0, 1).numpy()
    if isinstance(b, torch.Tensor):
        b = b.detach().numpy()
    return -10 * math.log10(float(np.mean((np.clip(a, 0, 1) - b) ** 2)))


def leftovers(folder) -> list[str]:
    """Temporary files an interrupted or refused write left in ``folder`` (there should be none)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp-" in p.name)


def bench_crop(name: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A tune-split crop of the texture bench (``bench/texture_set.py``), clean and under its
    noise ``kind``, seeded as the bench seeds it."""
    import sys
    import zlib

    from tests.helpers.cli import REPO

    sys.path.insert(0, str(REPO / "bench"))
    import texture_set  # bench/ is not a package

    crop = next(c for c in texture_set.crops("tune") if c.name == name)
    noisy, _ = texture_set.add_noise(crop.image, kind, zlib.crc32(f"{name}|{kind}".encode()))
    return np.ascontiguousarray(crop.image), noisy
