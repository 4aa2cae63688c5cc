"""Harmonic filling: a smooth first guess of an image's holes, which guides inpainting.

All our own code (torch convolutions).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def harmonic_fill(image: torch.Tensor, known: torch.Tensor, smoothing: int = 100,
                  circular: bool = False) -> torch.Tensor:
    """Fill the unknown pixels of a (1, C, H, W) image smoothly from the known ones.

    ``known`` is (1, 1, H, W), 1 where a pixel is known. Pull-push (Gortler et al.
    1996: average the known pixels down a pyramid, then interpolate back up, at each
    level keeping what is known) gives every hole a value, then Jacobi sweeps of the
    Laplace equation smooth the holes (harmonic inpainting) with the known pixels
    held fixed. Known pixels come back unchanged.

    Example:
        >>> ramp = torch.linspace(0, 1, 32).expand(1, 1, 32, 32).contiguous()
        >>> known = torch.ones((1, 1, 32, 32)); known[..., 10:20, 10:20] = 0
        >>> filled = harmonic_fill(ramp * known, known)
        >>> bool((filled - ramp).abs().max() < 0.02)
        True
    """
    channels = image.shape[1]
    levels = [(image * known, known)]
    while min(levels[-1][0].shape[2:]) > 2:
        values, weights = levels[-1]
        levels.append((F.avg_pool2d(values, 2, ceil_mode=True), F.avg_pool2d(weights, 2, ceil_mode=True)))
    values, weights = levels[-1]
    everywhere = values.sum(dim=(2, 3), keepdim=True) / weights.sum(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    estimate = torch.where(weights > 0, values / weights.clamp_min(1e-8), everywhere.expand_as(values))
    for values, weights in reversed(levels[:-1]):
        coarse = F.interpolate(estimate, size=values.shape[2:], mode="bilinear", align_corners=False)
        share = weights.clamp(max=1.0)
        estimate = share * values / weights.clamp_min(1e-8) + (1 - share) * coarse
    stencil = torch.tensor([[0.0, 0.25, 0.0], [0.25, 0.0, 0.25], [0.0, 0.25, 0.0]]).to(image)
    stencil = stencil.expand(channels, 1, 3, 3)
    mode = "circular" if circular else "replicate"
    for _ in range(smoothing):
        neighbours = F.conv2d(F.pad(estimate, (1, 1, 1, 1), mode=mode), stencil, groups=channels)
        estimate = known * image + (1 - known) * neighbours
    return known * image + (1 - known) * estimate
