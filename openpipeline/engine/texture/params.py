"""What a texture restoration is asked to do: :class:`RestoreParams` and its limits.

Imports no torch, so the CLI's cache look-up, the Maya node's logic and the farm's job
model describe and check a job without loading the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from openpipeline.engine.errors import EngineInputError

OPERATIONS = ("denoise", "inpaint", "upscale", "flash")
FACTORS = (2, 4, 8)
# σ is given in 8-bit levels: above 255 it is larger than the whole value range.
MAX_SIGMA = 255.0
# Seeds torch accepts once the per-tile and per-purpose offsets are added.
SEED_RANGE = (-(2**63), 2**63 - 1)
# The σ estimate needs this many pixels on each side (its filter is 3×3, and below
# this its reading is mostly chance).
MIN_SIDE_FOR_SIGMA = 8


@dataclass(frozen=True)
class RestoreParams:
    """One restoration job.

    ``sigma`` is in 8-bit levels (25 means 25/255) and estimated when None.
    ``time_budget`` caps the whole job in seconds.
    """

    operation: str = "denoise"
    sigma: float | None = None
    factor: int = 2
    seed: int = 0
    time_budget: float | None = None
    device: str = "auto"
    threads: int | None = None
    seamless: bool = False
    tile: int = 512
    overlap: int = 32
    normal_map: bool = False
    process_alpha: bool = False
    max_iterations: int | None = None
    recipe: bool = False  # the published configuration instead of ours
    allow_lossy: bool = False  # write to a format that cannot hold the input's pixels

    @property
    def output_factor(self) -> int:
        """How many times larger the output is than the input: ``factor`` when upscaling, else 1."""
        return self.factor if self.operation == "upscale" else 1

    @property
    def fit_asked(self) -> bool:
        """The user gave --max-iterations or --time-budget: the Deep Image Prior fit then runs
        after the classical estimate (by default the checked classical result is the output:
        at our speed targets the fit did not pay)."""
        return self.max_iterations is not None or self.time_budget is not None

    @property
    def fits(self) -> bool:
        """Whether the job runs the network's fit: always for the flash operation and the
        published recipe; for denoise, inpaint and upscale only when asked (:attr:`fit_asked`)."""
        return self.recipe or self.operation == "flash" or self.fit_asked

    @property
    def min_tile(self) -> int:
        """The smallest ``tile`` allowed: the overlap on both sides and one pixel more
        (upscaling: in low-resolution pixels, times the factor)."""
        factor = self.output_factor
        return factor * (2 * (self.overlap // factor) + 1)

    def check(self) -> None:
        """Refuse parameters that cannot work, before any work starts.

        Raises:
            EngineInputError: one sentence saying which value is wrong and what to give.
        """
        if self.operation not in OPERATIONS:
            raise EngineInputError(f"Operation '{self.operation}' is not known; use {', '.join(OPERATIONS)}.")
        if self.operation == "upscale" and self.factor not in FACTORS:
            raise EngineInputError(f"Upscale factor {self.factor} is not allowed; use 2, 4 or 8.")
        for name in ("sigma", "time_budget"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value <= 0):
                raise EngineInputError(f"--{name.replace('_', '-')} must be a positive number, not {value}.")
        if self.sigma is not None and self.sigma > MAX_SIGMA:
            raise EngineInputError(f"--sigma is in 8-bit levels and at most {MAX_SIGMA:g}, "
                                   f"not {self.sigma:g}.")
        self._check_counts()

    def _check_counts(self) -> None:
        if self.overlap < 0 or self.tile < self.min_tile:
            raise EngineInputError(f"--tile must be at least {self.min_tile} px (a {self.overlap} px overlap "
                                   f"on each side and more), not {self.tile}.")
        if self.max_iterations is not None and self.max_iterations < 1:
            raise EngineInputError("--max-iterations must be at least 1.")
        if not SEED_RANGE[0] <= self.seed <= SEED_RANGE[1]:
            raise EngineInputError(f"--seed must be between -2**63 and 2**63-1, not {self.seed}.")
