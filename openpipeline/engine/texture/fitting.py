"""Deep Image Prior (Ulyanov, Vedaldi, Lempitsky, CVPR 2018) for textures.

A randomly initialised convolutional generator ``x = f_θ(z)`` is fitted to the
corrupted image; its structure fits natural content before noise, so stopping at
the right moment restores the image. Data terms:

* denoise: ``‖f(z) − x0‖²``
* inpaint: ``‖(f(z) − x0) ⊙ m‖²`` (m = known pixels)
* upscale: ``‖d(f(z)) − x0‖²`` with d a Lanczos-2 downsampler
* flash: the generator's input is the flash photo, fitted to the no-flash one

The generator and its configurations are in :mod:`.network`. The fitting loop averages
the outputs (exponential weight 0.99, :mod:`.averaging`) and stops by itself (the rules
are in :mod:`.stopping`): denoising stops once the residual (input − averaged output)
has turned white — its lag-one autocorrelation, positive while image structure is left
in it, goes negative when the generator starts to copy the noise (a σ-free rule;
MSE(output, input) falling well below σ̂² is the safety net for noise that is not
white); inpainting, upscaling and flash hold 5 % of the usable pixels out of the loss
and stop once the averaged output's error on them has not improved for half the run so
far (at least 300 iterations), returning the best output they saw; without a held-out
set a power law ``L(t) = L∞ + A·t^−α`` fitted to the loss stops the fit when the
predicted further gain is negligible. A time budget caps any run, and a loss that jumps
(a collapse) rolls the network back to its last good state (:mod:`.rollback`).
Benchmarks watch a fit against the true image through :mod:`.probe`.

For denoising and inpainting, :mod:`.restoration` feeds the generator a classical
estimate (see :func:`.network.guided_input`); denoising then passes its output
through a last Wiener filter (:mod:`.dct_filters`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from openpipeline.engine.progress import ProgressCallback, Reporter
from openpipeline.engine.texture.averaging import OutputAverage
from openpipeline.engine.texture.network import NetConfig, SkipNet, lanczos_downsampler, parameter_count
from openpipeline.engine.texture.probe import BenchmarkProbe, PsnrCurve
from openpipeline.engine.texture.rollback import CollapseGuard
from openpipeline.engine.texture.stopping import (
    FitState,
    GuideNotBeaten,
    HeldOutPixels,
    NoiseLevelReached,
    PowerLawConverged,
    ResidualIsWhite,
    StoppingRule,
    TimeBudget,
    TimeCap,
    first_reason,
    split_held_out,
)


@dataclass(frozen=True, eq=False, kw_only=True)
class FitTask:
    """What one fit reproduces: the operation's data term and its inputs.

    Args:
        operation: one of :data:`OPERATIONS`.
        mask: (1, 1, h, w), 1 where pixels are known (inpaint).
        factor: upscale factor (the output is factor × larger).
        sigma: noise level in 0..1 units for the denoise stopping rule.
        guide: (1, C', H, W) generator input instead of noise: the flash photo for
            ``flash``, a classical estimate for a guided fit.
        circular: the tile wraps around (a seamless texture): circular padding.
    """

    operation: str = "denoise"
    mask: torch.Tensor | None = None
    factor: int = 1
    sigma: float | None = None
    guide: torch.Tensor | None = None
    circular: bool = False


@dataclass(frozen=True, kw_only=True)
class FitOptions:
    """How one fit runs.

    Args:
        seed: seeds the network's weights, its input noise and the held-out split.
        device: where it runs (the CPU when None).
        max_iterations: cap on iterations (the configuration's own cap when None).
        time_budget: seconds after which it stops, whatever the other rules say.
        time_cap: the default cap on the seconds when no limit was given: stops like
            ``time_budget`` but with the reason ``'time cap'`` (the fit did not converge).
        auto_stop: let the stopping rules end the fit (off: it runs to its cap).
        holdout: fraction of the usable pixels kept out of the loss as a validation
            set. Their error can only fall while the fit generalises, so the fit stops
            once it has not improved for a while, and the best averaged output by that
            measure is returned (self-supervised early stopping; 0 turns it off).
        holdout_patience: the fewest iterations the held-out error may go without
            improving before the fit stops (see :class:`.stopping.HeldOutPixels`).
        guide_error: the held-out error of a classical estimate made without the
            held-out pixels: a fit whose output has not beaten it by
            :data:`.stopping.GUIDE_GATE` iterations stops (see :class:`.stopping.GuideNotBeaten`).
    """

    seed: int = 0
    device: torch.device | None = None
    max_iterations: int | None = None
    time_budget: float | None = None
    time_cap: float | None = None
    auto_stop: bool = True
    holdout: float = 0.0
    holdout_patience: int = 300
    guide_error: float | None = None


@dataclass
class FitResult:
    """The restored image (C, H, W in 0..1) and how the fit went."""

    image: NDArray[np.float32]
    iterations: int
    seconds: float
    stop_reason: str
    losses: list[float] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


# -- the parts of a fit ---------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _DataTerm:
    """The loss: the output (seen through ``down`` when upscaling) against the target,
    over the training pixels (``weight``; every pixel alike when None)."""

    target: torch.Tensor
    down: Callable[[torch.Tensor], torch.Tensor] | None
    weight: torch.Tensor | None

    def loss(self, out: torch.Tensor) -> torch.Tensor:
        prediction = self.down(out) if self.down is not None else out
        if self.weight is None:
            return F.mse_loss(prediction, self.target)
        channels = self.target.shape[1]
        return ((prediction - self.target) ** 2 * self.weight).sum() / (self.weight.sum() * channels)


@dataclass(frozen=True, eq=False)
class _Model:
    """The generator, its fixed input ``z`` and its optimiser; ``draws`` gives the input jitter."""

    net: nn.Module
    z: torch.Tensor
    optimiser: torch.optim.Optimizer
    draws: torch.Generator
    jitter: float
    device: torch.device

    def step(self, data: _DataTerm) -> tuple[torch.Tensor, float]:
        """One gradient step on a jittered input: returns the output and the loss."""
        self.optimiser.zero_grad(set_to_none=True)
        noise = torch.randn(self.z.shape, generator=self.draws).to(self.device) * self.jitter
        out = self.net(self.z + noise if self.jitter > 0 else self.z)
        loss = data.loss(out)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
        self.optimiser.step()
        return out, float(loss.detach())


def _build_model(shape: torch.Size, config: NetConfig, task: FitTask, options: FitOptions) -> _Model:
    """The generator and its input: ``task.guide``, or uniform noise.

    Seeds both sources of randomness with ``options.seed``: torch's global generator
    (the network's initial weights) and the fit's own generator, which draws the
    input noise here and then the jitter of every step.
    """
    device = options.device or torch.device("cpu")
    torch.manual_seed(options.seed)
    draws = torch.Generator(device="cpu").manual_seed(options.seed)
    _, channels, height, width = shape
    if task.guide is not None:
        z = task.guide.to(device)
        net = SkipNet(config, channels, task.circular, in_channels=task.guide.shape[1]).to(device)
    else:
        size = (1, config.input_channels, height * task.factor, width * task.factor)
        z = (torch.rand(size, generator=draws) * config.input_scale).to(device)
        net = SkipNet(config, channels, task.circular).to(device)
    if device.type == "cpu":
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch stubs lack it
        z = z.contiguous(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    return _Model(net, z, optimiser, draws, config.jitter, device)


def _data_term(target: torch.Tensor, task: FitTask, options: FitOptions
               ) -> tuple[_DataTerm, HeldOutPixels | None]:
    """The loss, and the held-out pixels' rule when ``options.holdout`` leaves enough of them."""
    _, channels, height, width = target.shape
    down = lanczos_downsampler(task.factor, channels) if task.operation == "upscale" else None
    known = task.mask.to(target.device) if task.mask is not None else None
    usable = known if known is not None else torch.ones((1, 1, height, width), device=target.device)
    split = split_held_out(usable, (height, width), options.holdout, options.seed)
    if split is None:
        return _DataTerm(target, down, known), None
    train_weight, check_weight = split
    return (_DataTerm(target, down, train_weight),
            HeldOutPixels(target, check_weight, down, stops=options.auto_stop,
                          min_wait=options.holdout_patience))


def _stopping_rules(target: torch.Tensor, task: FitTask, options: FitOptions,
                    held_out: HeldOutPixels | None) -> list[StoppingRule]:
    """The rules a fit asks after every iteration, in order (the time budget first)."""
    rules: list[StoppingRule] = []
    if options.time_budget is not None:
        rules.append(TimeBudget(options.time_budget, ahead=True))
    if options.time_cap is not None:
        rules.append(TimeCap(options.time_cap, ahead=True))
    if held_out is not None:
        rules.append(held_out)  # with a validation set, it decides (and keeps the best output)
        if options.guide_error is not None and options.auto_stop:
            rules.append(GuideNotBeaten(held_out, options.guide_error))
    elif task.operation == "denoise" and options.auto_stop:
        rules.append(ResidualIsWhite(target))
        if task.sigma is not None:
            rules.append(NoiseLevelReached(target, task.sigma))
    elif task.operation != "denoise" and options.auto_stop:
        rules.append(PowerLawConverged())
    return rules


def _final_image(average: OutputAverage, held_out: HeldOutPixels | None) -> NDArray[np.float32]:
    """The averaged output; with a validation set, the best one it saw (also when a budget
    ended the fit). (C, H, W) on the CPU."""
    best = held_out.best_output if held_out is not None else None
    final = best if best is not None else average.value
    image: NDArray[np.float32] = final.detach().cpu().numpy()[0].astype(np.float32)
    return image


def _report(report: Reporter, task: FitTask, iteration: int, limit: int, loss: float) -> None:
    """Progress every 10 iterations; denoising with a known σ adds its predicted PSNR gain."""
    if iteration % 10 != 0:
        return
    gain = None
    if task.sigma is not None and task.operation == "denoise":
        target_mse = task.sigma**2
        gain = 10 * math.log10(target_mse / max(loss - target_mse, target_mse * 1e-3))
    report(task.operation, iteration / limit, f"it {iteration} loss {loss:.5f}",
           iteration=iteration, loss=loss, psnr_gain=gain)


# -- the fitting loop -------------------------------------------------------------------------
def fit(
    target: torch.Tensor,
    config: NetConfig,
    *,
    task: FitTask | None = None,
    options: FitOptions | None = None,
    probe: BenchmarkProbe | None = None,
    progress: ProgressCallback | None = None,
) -> FitResult:
    """Fit one generator to one image (a tile) and return the averaged output.

    Args:
        target: (1, C, h, w) in 0..1: the noisy image, the image with holes, the
            low-resolution image, or the no-flash photo.
        config: the generator and its learning rate, jitter, averaging and cap.
        task: the operation and its inputs (denoise, no mask, when None).
        options: seed, device, limits and stopping (the defaults when None).
        probe: benchmarks only: record PSNR against the clean image, stop past its peak.
        progress: called every 10 iterations; returning False cancels.

    Example:
        >>> from openpipeline.engine.texture.network import fast_config
        >>> noisy = torch.rand((1, 3, 32, 32), generator=torch.Generator().manual_seed(0))
        >>> result = fit(noisy, fast_config("denoise"), options=FitOptions(max_iterations=3))
        >>> result.image.shape, result.iterations, result.stop_reason
        ((3, 32, 32), 3, 'iterations')

    Cost: one forward and backward pass of the generator per iteration.
    """
    task, options = task or FitTask(), options or FitOptions()
    model = _build_model(target.shape, config, task, options)
    target = target.to(model.device)
    data, held_out = _data_term(target, task, options)
    rules = _stopping_rules(target, task, options, held_out)
    limit = options.max_iterations or config.max_iterations
    report = Reporter(progress)
    start = time.perf_counter()
    average = OutputAverage(config.average)
    guard = CollapseGuard(model.net, model.optimiser)
    curve = PsnrCurve(probe, target, task.operation, start) if probe is not None else None
    losses: list[float] = []
    stop_reason, iteration = "iterations", 0
    for iteration in range(1, limit + 1):
        out, loss = model.step(data)
        losses.append(loss)
        if not guard.rolled_back(iteration, loss):
            average.add(out)
            if curve is not None and curve.past_the_peak(iteration, average.value):
                stop_reason = curve.reason
                break
        state = FitState(iteration, time.perf_counter() - start, losses, average.value)
        _report(report, task, iteration, limit, loss)
        reason = first_reason(rules, state)
        if reason is not None:
            stop_reason = reason
            break
    stats = {"curve": curve.rows if curve is not None else [], "parameters": parameter_count(model.net),
             "held_out_error": held_out.best_error if held_out is not None else None}
    return FitResult(_final_image(average, held_out), iteration, time.perf_counter() - start, stop_reason,
                     losses, stats)
