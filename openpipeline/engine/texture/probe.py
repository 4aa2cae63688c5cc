"""Benchmark-only probes of a fit: its PSNR curve against the true image, and its peak.

A user never has the clean image; ``bench/dip_bench.py`` has, and uses it to find
the published recipe's best moment (its baseline).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F


@dataclass(frozen=True, eq=False)
class BenchmarkProbe:
    """What a benchmark measures during a fit.

    Args:
        clean: the true image (1, C, H, W), as the fit's output.
        record_every: record the averaged output's PSNR every n iterations (0: never).
        patience: stop once the recorded PSNR has not improved for this many
            iterations (0: never; the benchmark uses it to find a baseline's peak).
    """

    clean: torch.Tensor
    record_every: int = 25
    patience: int = 0


# One row of the curve: iteration, seconds since the fit started, PSNR (dB) of the
# averaged output against the clean image, MSE against the input (denoise; else 0).
CurveRow = tuple[int, float, float, float]


class PsnrCurve:
    """Records a :class:`BenchmarkProbe`'s curve during one fit and tells when it is past its peak."""

    reason: ClassVar[str] = "past the peak"

    def __init__(self, probe: BenchmarkProbe, target: torch.Tensor, operation: str, start: float) -> None:
        self.probe = probe
        self.clean = probe.clean.to(target.device)
        self.target = target
        self.operation = operation
        self.start = start
        self.rows: list[CurveRow] = []

    def past_the_peak(self, iteration: int, averaged: torch.Tensor) -> bool:
        """Record this iteration when it is due; True once the best PSNR is ``patience`` old."""
        every = self.probe.record_every
        if not every or iteration % every != 0:
            return False
        with torch.no_grad():
            mse = float(F.mse_loss(averaged, self.clean))
            fit_mse = float(F.mse_loss(averaged, self.target)) if self.operation == "denoise" else 0.0
        self.rows.append((iteration, time.perf_counter() - self.start, -10 * math.log10(max(mse, 1e-12)),
                          fit_mse))
        peak = max(self.rows, key=lambda row: row[2])
        return bool(self.probe.patience) and iteration - peak[0] >= self.probe.patience
