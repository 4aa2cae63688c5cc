"""Deep Image Prior (Ulyanov, Vedaldi, Lempitsky, CVPR 2018) for textures.

A randomly initialised convolutional generator ``x = f_θ(z)`` is fitted to the
corrupted image; its structure fits natural content before noise, so stopping at
the right moment restores the image. Data terms:

* denoise: ``‖f(z) − x0‖²``
* inpaint: ``‖(f(z) − x0) ⊙ m‖²`` (m = known pixels)
* upscale: ``‖d(f(z)) − x0‖²`` with d a Lanczos-2 downsampler
* flash: the generator's input is the flash photo, fitted to the no-flash one

The generator and its configurations are in :mod:`.network`. The fitting loop averages the
outputs (exponential weight 0.99) and stops by itself: denoising stops once the
residual (input − averaged output) has turned white — its lag-one
autocorrelation, positive while image structure is left in it, goes negative when
the generator starts to copy the noise (a σ-free rule; MSE(output, input) falling
well below σ̂² is the safety net for noise that is not white); inpainting,
upscaling and flash hold 5 % of the usable pixels out of the loss and stop once
the averaged output's error on them has not improved for half the run so far (at
least 300 iterations), returning the best output they saw; without a held-out set
a power law ``L(t) = L∞ + A·t^−α`` fitted to the loss stops the fit when the
predicted further gain is negligible. A time budget caps any run, and a loss that
jumps (a collapse) rolls the network back to its last good state.

For denoising and inpainting, :mod:`.restore` feeds the generator a classical
estimate (see :func:`.network.guided_input`); denoising then passes its output
through a last Wiener filter (:mod:`.dct_filters`).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from openpipeline.engine.progress import ProgressCallback, Reporter
from openpipeline.engine.texture.network import NetConfig, SkipNet, lanczos_downsampler, parameter_count

OPERATIONS = ("denoise", "inpaint", "upscale", "flash")
# Denoising stops when the residual (input − averaged output) has turned white: its
# lag-one autocorrelation, positive while image structure is left in it, falls
# below this once the generator starts to copy the noise's low frequencies.
WHITENESS_STOP = -0.015
# Safety net for noise that is not white (no whiteness stop): stop when
# MSE(averaged output, input) falls to this fraction of σ̂².
STOP_FRACTION = 0.8
# A loss over 5× the best so far is a collapse only above this MSE (a fit that was
# near-perfect may wobble by more than 5× without anything going wrong).
COLLAPSE_FLOOR = 1e-4
# Fewest held-out pixels that make a usable validation set.
MIN_HELD_OUT = 300


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


# -- the fitting loop -------------------------------------------------------------------------
@dataclass
class FitResult:
    """The restored image (C, H, W in 0..1) and how the fit went."""

    image: NDArray[np.float32]
    iterations: int
    seconds: float
    stop_reason: str
    losses: list[float] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def _power_law_gain(losses: list[float], horizon: int) -> float | None:
    """Predicted relative loss drop over the next ``horizon`` steps (fit L∞ + A t^−α)."""
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


def fit(
    target: torch.Tensor,
    config: NetConfig,
    *,
    operation: str = "denoise",
    mask: torch.Tensor | None = None,
    factor: int = 1,
    sigma: float | None = None,
    guide: torch.Tensor | None = None,
    seed: int = 0,
    time_budget: float | None = None,
    max_iterations: int | None = None,
    circular: bool = False,
    device: torch.device | None = None,
    auto_stop: bool = True,
    progress: ProgressCallback | None = None,
    record_every: int = 0,
    clean: torch.Tensor | None = None,
    patience: int = 0,
    holdout: float = 0.0,
) -> FitResult:
    """Fit one generator to one image (a tile) and return the averaged output.

    Args:
        target: (1, C, h, w) in 0..1: the noisy image, the image with holes, the
            low-resolution image, or the no-flash photo.
        mask: (1, 1, h, w), 1 where pixels are known (inpaint).
        factor: upscale factor (the output is factor × larger).
        sigma: noise level in 0..1 units for the denoise stopping rule.
        guide: (1, C', H, W) generator input for ``flash`` (the flash photo).
        clean: the true image, only for benchmarks: PSNR is then recorded.
        record_every: record PSNR of the averaged output every n steps (needs clean).
        patience: with ``clean``, stop once the recorded PSNR has not improved for
            this many iterations (benchmarks use it to find a baseline's peak).
        holdout: fraction of the usable pixels kept out of the loss as a validation
            set. Their error can only fall while the fit generalises, so the fit stops
            once it has not improved for a while, and the best averaged output by that
            measure is returned (self-supervised early stopping; 0 turns it off).

    Cost: one forward and backward pass of the generator per iteration.
    """
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    _, channels, height, width = target.shape
    out_h, out_w = height * factor, width * factor
    target = target.to(device)
    if guide is not None:
        z = guide.to(device)
        net = SkipNet(config, channels, circular, in_channels=guide.shape[1]).to(device)
    else:
        z = (torch.rand((1, config.input_channels, out_h, out_w), generator=generator)
             * config.input_scale).to(device)
        net = SkipNet(config, channels, circular).to(device)
    if device.type == "cpu":
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch stubs lack it
        z = z.contiguous(memory_format=torch.channels_last)
    down = lanczos_downsampler(factor, channels) if operation == "upscale" else None
    known = mask.to(device) if mask is not None else None
    usable = known if known is not None else torch.ones((1, 1, target.shape[2], target.shape[3]),
                                                        device=device)
    train_weight = usable
    check_weight: torch.Tensor | None = None
    if holdout > 0 and float(usable.sum()) * holdout < MIN_HELD_OUT:
        holdout = 0.0  # too few pixels to judge by (a 32² low-res image): use the power law
    if holdout > 0:
        split = torch.Generator(device="cpu").manual_seed(seed + 104729)
        held = (torch.rand((1, 1, target.shape[2], target.shape[3]), generator=split) < holdout)
        held_t = held.to(device=device, dtype=usable.dtype)
        train_weight = usable * (1 - held_t)
        check_weight = usable * held_t
    best_check: tuple[float, int, torch.Tensor | None] = (math.inf, 0, None)  # error, iteration, output
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    limit = max_iterations or config.max_iterations
    report = Reporter(progress)
    start = time.perf_counter()
    average: torch.Tensor | None = None
    weight_sum = 0.0
    losses: list[float] = []
    curve: list[tuple[int, float, float, float]] = []
    snapshot = (copy.deepcopy(net.state_dict()), copy.deepcopy(optimiser.state_dict()))
    best_loss = math.inf
    stop_reason = "iterations"
    iteration = 0
    target_mse = None if sigma is None else sigma**2
    for iteration in range(1, limit + 1):
        optimiser.zero_grad(set_to_none=True)
        noise = torch.randn(z.shape, generator=generator).to(device) * config.jitter
        out = net(z + noise if config.jitter > 0 else z)
        prediction = down(out) if down is not None else out
        if check_weight is None and known is None:
            loss = F.mse_loss(prediction, target)
        else:
            loss = ((prediction - target) ** 2 * train_weight).sum() / (train_weight.sum() * channels)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
        optimiser.step()
        value = float(loss.detach())
        losses.append(value)
        if iteration > 50 and value > 5 * best_loss and value > COLLAPSE_FLOOR:
            # a collapse: roll back and slow down (the budget and progress checks below still run)
            net.load_state_dict(snapshot[0])
            optimiser.load_state_dict(snapshot[1])
            for group in optimiser.param_groups:
                group["lr"] *= 0.5
        else:
            best_loss = min(best_loss, value)
            if iteration % 100 == 0:
                snapshot = (copy.deepcopy(net.state_dict()), copy.deepcopy(optimiser.state_dict()))
            with torch.no_grad():
                current = out.detach()
                weight_sum = config.average * weight_sum + (1 - config.average)
                if average is None:
                    average = current * (1 - config.average)
                else:
                    average = config.average * average + (1 - config.average) * current
                averaged = average / weight_sum
                if record_every and clean is not None and iteration % record_every == 0:
                    mse = float(F.mse_loss(averaged, clean.to(device)))
                    fit_mse = float(F.mse_loss(averaged, target)) if operation == "denoise" else 0.0
                    curve.append((iteration, time.perf_counter() - start,
                                  -10 * math.log10(max(mse, 1e-12)), fit_mse))
                    peak = max(curve, key=lambda row: row[2])
                    if patience and iteration - peak[0] >= patience:
                        stop_reason = "past the peak"
                        break
        elapsed = time.perf_counter() - start
        gain = None
        if target_mse is not None and operation == "denoise":
            gain = 10 * math.log10(target_mse / max(value - target_mse, target_mse * 1e-3))
        if iteration % 10 == 0:
            report(operation, iteration / limit, f"it {iteration} loss {value:.5f}",
                   iteration=iteration, loss=value, psnr_gain=gain)
        if time_budget is not None and elapsed >= time_budget:
            stop_reason = "time budget"
            break
        assert average is not None  # set by the first iteration, which cannot be a collapse
        if check_weight is not None:
            if iteration % 25 != 0:
                continue
            with torch.no_grad():
                averaged = average / weight_sum
                seen = down(averaged) if down is not None else averaged
                check = float(((seen - target) ** 2 * check_weight).sum() / (check_weight.sum() * channels))
            if check < best_check[0]:
                best_check = (check, iteration, averaged.clone())
            wait = max(300, best_check[1] // 2)
            if auto_stop and iteration - best_check[1] >= wait:
                stop_reason = "held-out pixels stopped improving"
                break
        elif operation == "denoise" and auto_stop and iteration % 10 == 0:
            # The residual turns white when the averaged output holds the image and
            # not yet the noise; below σ̂² the output copies the noise whatever its colour.
            with torch.no_grad():
                residual = target - average / weight_sum
                if residual_correlation(residual) <= WHITENESS_STOP:
                    stop_reason = "residual is white"
                    break
                if target_mse is not None and float((residual**2).mean()) <= STOP_FRACTION * target_mse:
                    stop_reason = "noise level reached"
                    break
        elif auto_stop and operation != "denoise" and iteration % 50 == 0:
            predicted = _power_law_gain(losses, horizon=iteration)
            if predicted is not None and predicted < 0.01:
                stop_reason = "converged"
                break
    assert average is not None
    # with a validation set, the best output it saw (also when a budget ended the fit)
    final = best_check[2] if best_check[2] is not None else average / weight_sum
    result = final.detach().cpu().numpy()[0].astype(np.float32)
    return FitResult(result, iteration, time.perf_counter() - start, stop_reason, losses,
                     {"curve": curve, "parameters": parameter_count(net)})
