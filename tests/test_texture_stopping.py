"""The fitting loop's policies, each alone: stopping rules, roll-back, averaging, benchmark probe."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from openpipeline.engine.texture.averaging import OutputAverage
from openpipeline.engine.texture.probe import BenchmarkProbe, PsnrCurve
from openpipeline.engine.texture.rollback import CollapseGuard
from openpipeline.engine.texture.stopping import (
    MIN_HELD_OUT,
    FitState,
    HeldOutPixels,
    NoiseLevelReached,
    PowerLawConverged,
    ResidualIsWhite,
    TimeBudget,
    first_reason,
    split_held_out,
)
from tests.helpers.images import pattern


def state(iteration: int, averaged: torch.Tensor | None = None, elapsed: float = 0.0,
          losses: list[float] | None = None) -> FitState:
    return FitState(iteration, elapsed, losses or [], averaged if averaged is not None else torch.zeros(1))


def image_tensor(size: int = 64) -> torch.Tensor:
    return torch.from_numpy(pattern(size).transpose(2, 0, 1).copy())[None]


def test_time_budget_fires_once_its_seconds_are_spent():
    """The time budget stops at its seconds, not before."""
    budget = TimeBudget(2.0)
    assert not budget.should_stop(state(7, elapsed=1.99))
    assert budget.should_stop(state(7, elapsed=2.0))
    assert budget.reason == "time budget"


def test_residual_is_white_fires_on_copied_noise_and_not_on_structure():
    """A residual with image structure left reads 'go on'; one of high-passed noise reads 'stop'."""
    clean = image_tensor()
    noise = 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    target = clean + noise
    blurred_noise = F.avg_pool2d(F.pad(noise, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    rule = ResidualIsWhite(target)
    assert not rule.should_stop(state(10, torch.full_like(clean, 0.5)))  # structure left: positive
    assert not rule.should_stop(state(10, clean))  # exactly white: about 0
    copied = clean + blurred_noise  # the output took the noise's low frequencies
    assert rule.should_stop(state(10, copied))
    assert not rule.should_stop(state(11, copied))  # only every 10 iterations
    assert rule.reason == "residual is white"


def test_noise_level_reached_fires_below_its_fraction_of_sigma_squared():
    """MSE(output, input) at 0.8 σ² or below stops; just above it does not."""
    target = image_tensor(16)
    rule = NoiseLevelReached(target, sigma=0.1)  # stops at MSE ≤ 0.8 · 0.01
    assert rule.should_stop(state(20, target - 0.0894))  # MSE 0.00799
    assert not rule.should_stop(state(20, target - 0.0906))  # MSE 0.00821
    assert not rule.should_stop(state(25, target - 0.0894))  # only every 10 iterations
    assert rule.reason == "noise level reached"


def test_held_out_pixels_stop_once_the_best_is_half_the_run_old_and_keep_the_best():
    """The held-out error's best is kept; the rule fires max(300, best/2) iterations after it."""
    target = torch.zeros((1, 1, 4, 4))
    rule = HeldOutPixels(target, torch.ones_like(target))
    assert not rule.should_stop(state(25, torch.full_like(target, 0.5)))
    best = torch.full_like(target, 0.1)
    assert not rule.should_stop(state(50, best))
    best += 1  # the rule keeps its own copy
    for iteration in range(75, 350, 25):
        assert not rule.should_stop(state(iteration, torch.full_like(target, 0.2)))
    assert not rule.should_stop(state(351, torch.full_like(target, 0.2)))  # only every 25 iterations
    assert rule.should_stop(state(350, torch.full_like(target, 0.2)))  # 300 after the best at 50
    assert rule.best_iteration == 50 and math.isclose(rule.best_error, 0.01, rel_tol=1e-6)
    assert rule.best_output is not None and torch.equal(rule.best_output, torch.full_like(target, 0.1))
    assert rule.reason == "held-out pixels stopped improving"


def test_held_out_pixels_wait_half_the_run_after_a_late_best():
    """A best found at iteration 1000 is given 500 more iterations, not 300."""
    target = torch.zeros((1, 1, 4, 4))
    rule = HeldOutPixels(target, torch.ones_like(target))
    rule.should_stop(state(1000, torch.full_like(target, 0.1)))
    assert not rule.should_stop(state(1475, torch.full_like(target, 0.2)))
    assert rule.should_stop(state(1500, torch.full_like(target, 0.2)))


def test_held_out_pixels_only_watch_when_they_may_not_stop():
    """With stops=False the rule never fires but still keeps the best output."""
    target = torch.zeros((1, 1, 4, 4))
    rule = HeldOutPixels(target, torch.ones_like(target), stops=False)
    rule.should_stop(state(25, torch.full_like(target, 0.1)))
    assert not any(rule.should_stop(state(i, torch.full_like(target, 0.3))) for i in range(50, 5000, 25))
    assert rule.best_output is not None and torch.equal(rule.best_output, torch.full_like(target, 0.1))


def test_held_out_pixels_measure_only_their_pixels_through_the_comparison():
    """The error counts the held-out pixels only, after the comparison operator."""
    target = torch.zeros((1, 2, 2, 2))
    weight = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    rule = HeldOutPixels(target, weight, compare=lambda image: image[..., ::2, ::2])
    output = torch.full((1, 2, 4, 4), 5.0)
    output[..., 0, 0] = 0.5
    assert rule.error(output) == pytest.approx(0.25)


def test_split_held_out_partitions_the_usable_pixels_and_refuses_too_few():
    """Training and held-out weights add up to the usable pixels; too small a set is no set."""
    usable = torch.ones((1, 1, 100, 100))
    usable[..., :10, :] = 0
    train, held = split_held_out(usable, (100, 100), 0.05, seed=3)
    assert torch.equal(train + held, usable) and torch.equal(train * held, torch.zeros_like(usable))
    assert 0.04 < float(held.sum()) / float(usable.sum()) < 0.06
    again = split_held_out(usable, (100, 100), 0.05, seed=3)
    assert again is not None and torch.equal(again[1], held)
    small = torch.ones((1, 1, 20, 20))
    assert MIN_HELD_OUT > 400 * 0.5 and split_held_out(small, (20, 20), 0.5, seed=0) is None
    assert split_held_out(usable, (100, 100), 0.0, seed=0) is None


def test_power_law_converged_fires_when_little_gain_is_left():
    """A loss flattened at its floor has converged; one still halving with time has not."""
    rule = PowerLawConverged()
    flat = [0.01 + 1e-3 / t for t in range(1, 201)]
    steep = [1.0 / t for t in range(1, 201)]
    assert rule.should_stop(state(200, losses=flat))
    assert not rule.should_stop(state(200, losses=steep))
    assert not rule.should_stop(state(210, losses=[*flat, *flat[:10]]))  # only every 50 iterations
    assert not rule.should_stop(state(150, losses=flat[:150]))  # too few losses to judge
    assert rule.reason == "converged"


def test_first_reason_asks_the_rules_in_order_and_stops_asking_at_the_first():
    """The first rule that fires names the reason; later rules are not asked."""
    asked = []

    class Never:
        reason = "never"

        def should_stop(self, fit_state: FitState) -> bool:
            asked.append("never")
            return False

    rules = [Never(), TimeBudget(1.0), Never()]
    assert first_reason(rules, state(1, elapsed=5.0)) == "time budget"
    assert asked == ["never"]
    assert first_reason(rules, state(1, elapsed=0.0)) is None
    assert asked == ["never"] * 3


def test_collapse_guard_rolls_back_to_the_last_snapshot_and_halves_the_rate():
    """A loss jump restores the weights of the last hundredth iteration and halves the learning rate."""
    net = torch.nn.Linear(2, 1)
    optimiser = torch.optim.Adam(net.parameters(), lr=0.02)
    guard = CollapseGuard(net, optimiser)
    first = {name: value.clone() for name, value in net.state_dict().items()}
    for iteration in range(1, 101):
        with torch.no_grad():
            net.weight += 0.01  # as a training step would
        assert not guard.rolled_back(iteration, 1.0)
    kept = {name: value.clone() for name, value in net.state_dict().items()}
    assert not torch.equal(kept["weight"], first["weight"])
    with torch.no_grad():
        net.weight += 3.0
    assert not guard.rolled_back(101, 4.9)  # under 5× the best: no collapse
    assert guard.rolled_back(102, 5.1)
    assert all(torch.equal(net.state_dict()[name], value) for name, value in kept.items())
    assert optimiser.param_groups[0]["lr"] == pytest.approx(0.01)


def test_collapse_guard_ignores_jumps_early_and_near_zero():
    """No roll-back in the first 50 iterations or below the loss floor."""
    net = torch.nn.Linear(2, 1)
    optimiser = torch.optim.Adam(net.parameters(), lr=0.02)
    guard = CollapseGuard(net, optimiser)
    guard.rolled_back(1, 1e-6)
    assert not guard.rolled_back(50, 1.0)  # still warming up (and 1.0 becomes no best)
    assert guard.best_loss == 1e-6
    assert not guard.rolled_back(51, 9e-5)  # 90× the best, but under the floor
    assert guard.rolled_back(52, 2e-4)
    assert optimiser.param_groups[0]["lr"] == pytest.approx(0.01)


def test_output_average_is_corrected_for_its_start_at_zero():
    """Averaging a constant gives the constant from the first step on; recent outputs weigh more."""
    average = OutputAverage(0.99)
    with pytest.raises(ValueError, match="No output"):
        _ = average.value
    for _ in range(3):
        average.add(torch.full((2,), 0.4))
    assert torch.allclose(average.value, torch.full((2,), 0.4))
    average.add(torch.full((2,), 1.4))
    expected = (0.4 * (1 - 0.99**3) * 0.99 + 1.4 * 0.01) / (1 - 0.99**4)
    assert torch.allclose(average.value, torch.full((2,), expected))


def test_psnr_curve_records_when_due_and_finds_the_peak():
    """The curve records every n iterations and is past the peak after `patience` without a better PSNR."""
    clean = torch.zeros((1, 1, 2, 2))
    curve = PsnrCurve(BenchmarkProbe(clean, record_every=5, patience=10), clean + 1, "denoise", start=0.0)
    assert not curve.past_the_peak(3, clean + 0.5)
    for iteration, error in {5: 0.1, 10: 0.01, 15: 0.02}.items():
        assert not curve.past_the_peak(iteration, clean + error)
    assert curve.past_the_peak(20, clean + 0.05)  # the best, at 10, is 10 iterations old
    assert [row[0] for row in curve.rows] == [5, 10, 15, 20]
    assert curve.rows[1][2] == pytest.approx(40.0) and curve.rows[1][3] == pytest.approx(0.99**2)
    never = PsnrCurve(BenchmarkProbe(clean, record_every=5), clean, "inpaint", start=0.0)
    assert not any(never.past_the_peak(i, clean + 1 / i) for i in range(5, 500, 5))
    assert never.rows[0][3] == 0.0
