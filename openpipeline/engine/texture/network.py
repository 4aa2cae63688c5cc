"""The Deep Image Prior generator: an hourglass "skip" network and its configurations.

Two configurations share the code: :data:`RECIPE` is the published one (Ulyanov,
Vedaldi, Lempitsky, CVPR 2018; the benchmark's baseline), :func:`fast_config` is ours.
Also here: what the generator is fed (:func:`guided_input`) and the Lanczos
downsampler that upscaling compares through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class NetConfig:
    """An hourglass "skip" generator and how it is fitted."""

    input_channels: int = 32
    down: tuple[int, ...] = (128, 128, 128, 128, 128)
    up: tuple[int, ...] = (128, 128, 128, 128, 128)
    skip: tuple[int, ...] = (4, 4, 4, 4, 4)
    upsample: str = "bilinear"
    learning_rate: float = 0.01
    input_scale: float = 0.1
    jitter: float = 1.0 / 30.0
    average: float = 0.99
    max_iterations: int = 3000


RECIPE = NetConfig()
RECIPE_INPAINT = replace(RECIPE, upsample="nearest", max_iterations=6000)
RECIPE_UPSCALE = {2: replace(RECIPE, jitter=0.03, max_iterations=2000),
                  4: replace(RECIPE, jitter=0.03, max_iterations=2000),
                  8: replace(RECIPE, jitter=0.05, max_iterations=4000)}


def fast_config(operation: str, factor: int = 1) -> NetConfig:
    """Our configuration: a quarter of the width, four scales, a higher learning rate.

    Width 32 costs about 1/16 of the recipe's FLOPs per iteration; four scales
    see enough context for 128-256 px tiles; the stopping rules do the rest.
    """
    base = NetConfig(input_channels=32, down=(32, 32, 32, 32), up=(32, 32, 32, 32),
                     skip=(4, 4, 4, 4), learning_rate=0.02, max_iterations=3000)
    if operation == "inpaint":
        return replace(base, upsample="nearest", max_iterations=6000)
    if operation == "upscale":
        return replace(base, jitter=0.03 if factor <= 4 else 0.05, max_iterations=4000)
    return base


# -- the generator -------------------------------------------------------------------
class _Pad(nn.Module):
    def __init__(self, amount: int, circular: bool) -> None:
        super().__init__()
        self.amount = amount
        self.mode = "circular" if circular else "reflect"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.amount == 0:
            return x
        return F.pad(x, (self.amount,) * 4, mode=self.mode)


def _conv(cin: int, cout: int, kernel: int, stride: int, circular: bool) -> list[nn.Module]:
    return [_Pad((kernel - 1) // 2, circular), nn.Conv2d(cin, cout, kernel, stride, bias=True)]


def _unit(cin: int, cout: int, kernel: int, circular: bool, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(*_conv(cin, cout, kernel, stride, circular), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(0.2, inplace=True))


class _Upsample(nn.Module):
    def __init__(self, mode: str, circular: bool) -> None:
        super().__init__()
        self.mode = mode
        self.circular = circular

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.circular:  # wrap the border so the left edge continues the right one
            padded = F.pad(x, (1, 1, 1, 1), mode="circular")
            up = F.interpolate(padded, scale_factor=2, mode="bilinear", align_corners=False)
            return up[..., 2:-2, 2:-2]
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class _Level(nn.Module):
    def __init__(self, cin: int, down: int, up: int, skip: int, deeper: nn.Module | None,
                 deeper_out: int, upsample: str, circular: bool) -> None:
        super().__init__()
        self.skip = _unit(cin, skip, 1, circular) if skip else None
        self.down = nn.Sequential(_unit(cin, down, 3, circular, stride=2), _unit(down, down, 3, circular))
        self.deeper = deeper
        self.upsample = _Upsample(upsample, circular)
        joined = skip + (deeper_out if deeper is not None else down)
        self.norm = nn.BatchNorm2d(joined)
        self.post = nn.Sequential(_unit(joined, up, 3, circular), _unit(up, up, 1, circular))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        deep = self.down(x)
        if self.deeper is not None:
            deep = self.deeper(deep)
        deep = self.upsample(deep)[..., : x.shape[2], : x.shape[3]]
        parts = [deep] if self.skip is None else [self.skip(x), deep]
        joined: torch.Tensor = self.post(self.norm(torch.cat(parts, dim=1)))
        return joined


class SkipNet(nn.Module):
    """Ulyanov et al.'s hourglass with skip connections (their ``skip`` model)."""

    def __init__(self, config: NetConfig, out_channels: int, circular: bool = False,
                 in_channels: int | None = None) -> None:
        super().__init__()
        level: nn.Module | None = None
        deeper_out = 0
        inputs = config.input_channels if in_channels is None else in_channels
        for index in reversed(range(len(config.down))):
            cin = inputs if index == 0 else config.down[index - 1]
            level = _Level(cin, config.down[index], config.up[index], config.skip[index], level,
                           deeper_out, config.upsample, circular)
            deeper_out = config.up[index]
        assert level is not None
        self.body = level
        self.head = nn.Conv2d(config.up[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.body(x)))


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# -- operators --------------------------------------------------------------------------
def lanczos_downsampler(factor: int, channels: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """``d``: Lanczos-2 low-pass then keep every ``factor``-th pixel (as in the paper)."""
    support = 2
    size = 4 * factor + 1 if factor > 1 else 1
    centre = (size - 1) / 2
    x = (np.arange(size) - centre) / factor
    kernel_1d = np.sinc(x) * np.sinc(x / support) * (np.abs(x) < support)
    kernel_1d = kernel_1d / kernel_1d.sum()
    kernel = torch.tensor(np.outer(kernel_1d, kernel_1d), dtype=torch.float32)
    weight = kernel.expand(channels, 1, size, size).contiguous()
    pad = size // 2

    def down(image: torch.Tensor) -> torch.Tensor:
        padded = F.pad(image, (pad, pad, pad, pad), mode="reflect")
        # only the kept pixels are computed (the same values as blurring all, then keeping every factor-th)
        return F.conv2d(padded, weight.to(image.device), groups=channels, stride=factor)

    return down


def guided_input(estimate: torch.Tensor, config: NetConfig, seed: int) -> torch.Tensor:
    """The generator input for a guided fit: a classical estimate of the image plus
    noise channels (the DeepRED idea: a classical estimate steers the prior, so the
    fit reaches its best in a fraction of the iterations). The texture engine uses
    :func:`openpipeline.engine.classic.dct_denoise` for denoising and
    :func:`openpipeline.engine.classic.harmonic_fill` for inpainting."""
    _, channels, height, width = estimate.shape
    extra = max(config.input_channels - channels, 0)
    generator = torch.Generator(device="cpu").manual_seed(seed + 7919)
    noise = torch.rand((1, extra, height, width), generator=generator) * config.input_scale
    return torch.cat([estimate, noise.to(estimate.device)], dim=1)
