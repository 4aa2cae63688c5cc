"""When a fit stops by itself: one small rule per reason, each testable alone.

After every iteration :func:`.fitting.fit` shows its rules a :class:`FitState` (the
iteration, the seconds spent, the losses so far and the averaged output), in order;
the first rule that fires ends the fit and its ``reason`` becomes the stop reason.

* :class:`TimeBudget`: the seconds are spent (any operation).
* :class:`TimeCap`: the default cap on the seconds is reached (the fit did not converge).
* :class:`ResidualIsWhite`: denoising; the residual (input − averaged output) has
  turned white, so the output holds the image and not yet the noise (σ-free).
* :class:`NoiseLevelReached`: denoising's safety net for noise that is not white;
  the output is as close to the input as the noise level allows.
* :class:`HeldOutPixels`: a validation set of pixels kept out of the loss has not
  improved for half the run; it also keeps the best output it saw.
* :class:`GuideNotBeaten`: a guided fit whose held-out error has not beaten its
  classical guide's after :data:`GUIDE_GATE` iterations (the guide is kept).
* :class:`PowerLawConverged`: a power law fitted to the loss predicts a negligible
  further gain (when there is no validation set).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
import torch

# Denoising stops when the residual (input − averaged output) has turned white: its
# lag-one autocorrelation, positive while image structure is left in it, falls
# below this once the generator starts to copy the noise's low frequencies.
WHITENESS_STOP = -0.015
# Safety net for noise that is not white (no whiteness stop): stop when
# MSE(averaged output, input) falls to this fraction of σ̂².
STOP_FRACTION = 0.8
# Fewest held-out pixels that make a usable validation set.
MIN_HELD_OUT = 300
# A guided fit must have beaten its guide on the held-out pixels by this iteration.
GUIDE_GATE = 50
# The held-out split's random generator is seeded with the fit's seed plus this.
HELD_OUT_SEED_OFFSET = 104729


@dataclass(frozen=True, eq=False)
class FitState:
    """Where a fit stands after one iteration: what the stopping rules look at."""

    iteration: int
    elapsed: float
    losses: Sequence[float]
    averaged: torch.Tensor


class StoppingRule(Protocol):
    """A reason to stop a fit, asked after every iteration."""

    @property
    def reason(self) -> str: ...

    def should_stop(self, state: FitState) -> bool: ...


def first_reason(rules: Sequence[StoppingRule], state: FitState) -> str | None:
    """The reason of the first rule (in order) that fires, or None; later rules are not asked."""
    for rule in rules:
        if rule.should_stop(state):
            return rule.reason
    return None


# -- the rules --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeBudget:
    """Stop once ``seconds`` have been spent; with ``ahead``, also when one more
    iteration (as long as the average so far) would end past them, so a fit whose
    iterations are long overruns its budget by less than one of them."""

    seconds: float
    ahead: bool = False
    reason: ClassVar[str] = "time budget"

    def should_stop(self, state: FitState) -> bool:
        if self.ahead and state.iteration > 0:
            return state.elapsed * (state.iteration + 1) / state.iteration >= self.seconds
        return state.elapsed >= self.seconds


@dataclass(frozen=True)
class TimeCap(TimeBudget):
    """The default cap on a fit's seconds when the user set no limit: a fit it ends did
    not converge (its stop reason is a warning, not a choice)."""

    reason: ClassVar[str] = "time cap"


def residual_correlation(residual: torch.Tensor) -> float:
    """Lag-one spatial autocorrelation of a (1, C, H, W) residual, across and down.

    About 0 for white noise, positive while the residual still holds image
    structure, negative once a fit has taken the noise's low frequencies.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> abs(residual_correlation(torch.randn((1, 3, 64, 64), generator=g))) < 0.02
        True
    """
    centred = residual - residual.mean(dim=(2, 3), keepdim=True)
    across = (centred[..., :, 1:] * centred[..., :, :-1]).sum()
    down = (centred[..., 1:, :] * centred[..., :-1, :]).sum()
    energy = (centred * centred).sum()
    return float((across + down) / (2 * energy)) if float(energy) > 0 else 0.0


@dataclass(frozen=True, eq=False)
class ResidualIsWhite:
    """Denoise: stop once the residual ``target − averaged`` has turned white.

    Checked every ``every`` iterations: the residual's lag-one autocorrelation at or
    below ``threshold`` means the generator has started to copy the noise.
    """

    target: torch.Tensor
    threshold: float = WHITENESS_STOP
    every: int = 10
    reason: ClassVar[str] = "residual is white"

    def should_stop(self, state: FitState) -> bool:
        if state.iteration % self.every != 0:
            return False
        with torch.no_grad():
            return residual_correlation(self.target - state.averaged) <= self.threshold


@dataclass(frozen=True, eq=False)
class NoiseLevelReached:
    """Denoise, with σ known: stop once MSE(averaged, target) ≤ ``fraction`` · σ².

    Below σ² the output copies the noise whatever its colour, so this catches
    noise that never turns the residual white. Checked every ``every`` iterations.
    """

    target: torch.Tensor
    sigma: float
    fraction: float = STOP_FRACTION
    every: int = 10
    reason: ClassVar[str] = "noise level reached"

    def should_stop(self, state: FitState) -> bool:
        if state.iteration % self.every != 0:
            return False
        with torch.no_grad():
            residual = self.target - state.averaged
            return float((residual**2).mean()) <= self.fraction * self.sigma**2


class HeldOutPixels:
    """Stop once the averaged output's error on held-out pixels stopped improving.

    Every ``every`` iterations the error on the pixels of ``weight`` (kept out of
    the loss) is measured, through ``compare`` (the upscale downsampler) when
    given. The fit stops once the best error is ``max(min_wait, best iteration / 2)``
    iterations old. The best output is kept in :attr:`best_output` (it is the fit's
    result) also when ``stops`` is False (the rule then only watches).
    """

    reason: ClassVar[str] = "held-out pixels stopped improving"

    def __init__(self, target: torch.Tensor, weight: torch.Tensor,
                 compare: Callable[[torch.Tensor], torch.Tensor] | None = None, *, stops: bool = True,
                 every: int = 25, min_wait: int = 300) -> None:
        self.target = target
        self.weight = weight
        self.compare = compare
        self.stops = stops
        self.every = every
        self.min_wait = min_wait
        self.best_error = math.inf
        self.best_iteration = 0
        self.best_output: torch.Tensor | None = None

    def error(self, output: torch.Tensor) -> float:
        """Mean squared error of ``output`` on the held-out pixels."""
        seen = self.compare(output) if self.compare is not None else output
        channels = self.target.shape[1]
        return float(((seen - self.target) ** 2 * self.weight).sum() / (self.weight.sum() * channels))

    def should_stop(self, state: FitState) -> bool:
        if state.iteration % self.every != 0:
            return False
        with torch.no_grad():
            error = self.error(state.averaged)
            if error < self.best_error:
                self.best_error, self.best_iteration = error, state.iteration
                self.best_output = state.averaged.clone()
        wait = max(self.min_wait, self.best_iteration // 2)
        return self.stops and state.iteration - self.best_iteration >= wait


class GuideNotBeaten:
    """Stop a guided fit whose held-out error (as ``held_out`` measured it) is still above
    ``guide_error`` (the classical guide's, made without those pixels) at iteration ``after``:
    the network is not going to pay for its time, and the caller keeps the guide."""

    reason: ClassVar[str] = "guide kept (the network did not beat it)"

    def __init__(self, held_out: HeldOutPixels, guide_error: float, after: int = GUIDE_GATE) -> None:
        self.held_out = held_out
        self.guide_error = guide_error
        self.after = after

    def should_stop(self, state: FitState) -> bool:
        if state.iteration < self.after or state.iteration % self.held_out.every != 0:
            return False
        return self.held_out.best_error >= self.guide_error


def split_held_out(usable: torch.Tensor, size: tuple[int, int], fraction: float, seed: int
                   ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Split the usable pixels into (training weight, held-out weight), at random.

    ``None`` when ``fraction`` is 0 or would hold out fewer than :data:`MIN_HELD_OUT`
    pixels (a 32² low-res image: too few to judge by). The draw has its own random
    generator, seeded ``seed + HELD_OUT_SEED_OFFSET``.
    """
    if fraction <= 0 or float(usable.sum()) * fraction < MIN_HELD_OUT:
        return None
    split = torch.Generator(device="cpu").manual_seed(seed + HELD_OUT_SEED_OFFSET)
    held = torch.rand((1, 1, size[0], size[1]), generator=split) < fraction
    held_weight = held.to(device=usable.device, dtype=usable.dtype)
    return usable * (1 - held_weight), usable * held_weight


def power_law_gain(losses: Sequence[float], horizon: int) -> float | None:
    """Predicted relative loss drop over the next ``horizon`` steps (fit L∞ + A t^−α).

    None with fewer than 200 losses. Cost: 50 small least-squares fits.
    """
    if len(losses) < 200:
        return None
    t = np.arange(1, len(losses) + 1, dtype=np.float64)
    y = np.asarray(losses, dtype=np.float64)
    picks = np.unique(np.geomspace(len(y) // 4, len(y), 40).astype(int)) - 1
    t, y = t[picks], np.maximum(y[picks], 1e-12)
    best: tuple[float, float, float, float] | None = None
    for floor_fraction in np.linspace(0.0, 0.98, 50):
        floor = floor_fraction * y.min()
        slope, intercept = np.polyfit(np.log(t), np.log(y - floor), 1)
        residual = float(np.mean((np.log(y - floor) - (intercept + slope * np.log(t))) ** 2))
        if best is None or residual < best[0]:
            best = (residual, floor, math.exp(intercept), -slope)
    assert best is not None
    _, floor, amplitude, alpha = best
    if alpha <= 0:
        return 0.0
    now = len(losses)
    current = floor + amplitude * now ** (-alpha)
    later = floor + amplitude * (now + horizon) ** (-alpha)
    return float((current - later) / max(current, 1e-12))


@dataclass(frozen=True)
class PowerLawConverged:
    """Stop once a power law fitted to the loss predicts a relative gain under
    ``threshold`` if the fit ran as long again. Checked every ``every`` iterations."""

    threshold: float = 0.01
    every: int = 50
    reason: ClassVar[str] = "converged"

    def should_stop(self, state: FitState) -> bool:
        if state.iteration % self.every != 0:
            return False
        predicted = power_law_gain(state.losses, horizon=state.iteration)
        return predicted is not None and predicted < self.threshold
