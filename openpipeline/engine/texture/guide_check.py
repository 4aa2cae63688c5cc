"""Guided inpainting and upscaling that are never worse than their classical guide.

The classical guide (:mod:`.sparse_fill`) is made from the training pixels only — the
pixels the fit learns from, without the ones :func:`.stopping.split_held_out` holds out
for the fit's own stop — and fed to the generator. Its error on the held-out pixels is
then a fair bar for the network:
a fit that has not beaten it after :data:`.stopping.GUIDE_GATE` iterations stops
(:class:`.stopping.GuideNotBeaten`), and the tile keeps whichever of the two had the
smaller held-out error (the guide then made again from every known pixel). Neither the
clean image nor any reference is needed.

Upscaling a tile whose low-resolution side has too few pixels to hold some out (under
:data:`.stopping.MIN_HELD_OUT` / the held-out fraction: a 32² input) cannot check a
network against the guide, and the guide is the result (stop reason :data:`TOO_SMALL`);
so does inpainting a tile with too few known pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from openpipeline.engine.texture.network import lanczos_downsampler
from openpipeline.engine.texture.patch_fill import Tick
from openpipeline.engine.texture.sparse_fill import (
    choose_fill,
    inpaint_fill,
    inpaint_guide,
    upscale_guide,
)
from openpipeline.engine.texture.stopping import HeldOutPixels, split_held_out

# The stop reason of a tile whose result is its classical guide because no fit was asked
# for (the default: the fit runs only with --max-iterations or --time-budget; in 40 runs
# on the tuning set it never beat the guide within its 50-iteration gate).
CLASSICAL_GUIDE = "classical guide"
# The stop reason of an upscaled tile too small to check a network against its guide.
TOO_SMALL = "classical guide (too few pixels to check a network against it)"
# A guided fit's patience on its held-out pixels (iterations without improving): the
# guide starts it close to its best, so it needs less than an unguided fit's 300.
GUIDED_PATIENCE = 100
# A guided fit's default time cap is this share of an unguided one's (20 s per 128²):
# with the guide to start from, a fit that has not converged by then is not going to pay.
GUIDED_CAP_SHARE = 1.0 / 3.0


@dataclass(frozen=True, eq=False)
class GuidePlan:
    """A tile's classical guide and its bar.

    ``fed``: the guide made from the training pixels (the generator's input);
    ``error``: its error on the held-out pixels, None when there are none;
    ``final``: makes the guide from every known pixel (the result when the guide wins).
    """

    fed: torch.Tensor
    error: float | None
    final: Callable[[], torch.Tensor]
    reason: str = TOO_SMALL  # the stop reason when the guide is the result with no fit (error None)

    def keeps_guide(self, network_error: float | None) -> bool:
        """Whether the guide is the better result: no held-out check, or the network's
        best held-out error did not beat the guide's."""
        if self.error is None:
            return True
        return network_error is None or network_error >= self.error


def classical_plan(guide: torch.Tensor) -> GuidePlan:
    """A plan whose guide is the result, no fit asked for (stop reason :data:`CLASSICAL_GUIDE`)."""
    return GuidePlan(guide, None, lambda: guide, CLASSICAL_GUIDE)


def guide_only(target: torch.Tensor, known: torch.Tensor | None, factor: int, seed: int, circular: bool,
               tick: Tick) -> GuidePlan:
    """The classical guide made from every known pixel, as the result: the inpainting guide
    when ``known`` is given, else the upscaling guide (×``factor``)."""
    if known is not None:
        return classical_plan(inpaint_guide(target, known, seed, circular, tick))
    return classical_plan(upscale_guide(target, factor, circular, tick=tick))


def inpaint_plan(target: torch.Tensor, known: torch.Tensor, seed: int, holdout: float,
                 circular: bool, tick: Tick) -> GuidePlan:
    """The guide of an inpainting tile ((1, C, h, w), ``known`` (1, 1, h, w)); ``seed`` and
    ``holdout`` are the fit's, so the held-out pixels are the ones its stop uses; ``tick``
    is called after every step of the fills."""
    size = (int(target.shape[2]), int(target.shape[3]))
    split = split_held_out(known, size, holdout, seed)
    if split is None:
        choice = choose_fill(target, known, seed, circular, tick)
        guide = inpaint_fill(target, known, choice, circular, tick)
        return GuidePlan(guide, None, lambda: guide)
    train, check = split
    choice = choose_fill(target, train, seed, circular, tick)
    fed = inpaint_fill(target, train, choice, circular, tick)
    error = HeldOutPixels(target, check).error(fed)
    return GuidePlan(fed, error, lambda: inpaint_fill(target, known, choice, circular, tick))


def upscale_plan(target: torch.Tensor, factor: int, seed: int, holdout: float, circular: bool,
                 tick: Tick) -> GuidePlan:
    """The guide of an upscaling tile ((1, C, h, w) low resolution), as :func:`inpaint_plan`."""
    size = (int(target.shape[2]), int(target.shape[3]))
    every = torch.ones((1, 1, *size), dtype=target.dtype, device=target.device)
    split = split_held_out(every, size, holdout, seed)
    if split is None:
        guide = upscale_guide(target, factor, circular, tick=tick)
        return GuidePlan(guide, None, lambda: guide)
    train, check = split
    fed = upscale_guide(target, factor, circular, weight=train, tick=tick)
    down = lanczos_downsampler(factor, int(target.shape[1]))
    error = HeldOutPixels(target, check, down).error(fed)
    return GuidePlan(fed, error, lambda: upscale_guide(target, factor, circular, tick=tick))
