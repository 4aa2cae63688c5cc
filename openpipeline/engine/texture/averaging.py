"""The fit's result is not its last output but an exponential average of all of them.

Averaging the generator's outputs (weight ``decay`` on the past, 0.99 in both
configurations) smooths out the jitter that the input noise adds at each step
(Ulyanov et al. do the same).
"""

from __future__ import annotations

import torch


class OutputAverage:
    """Exponential average of the generator's outputs, corrected for its start at zero.

    Example:
        >>> average = OutputAverage(0.5)
        >>> average.add(torch.tensor([2.0]))
        >>> average.add(torch.tensor([4.0]))
        >>> average.value  # (0.5·2·0.5 + 0.5·4) / (0.5·0.5 + 0.5)
        tensor([3.3333])
    """

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.weight_sum = 0.0
        self._total: torch.Tensor | None = None
        self._value: torch.Tensor | None = None

    def add(self, output: torch.Tensor) -> None:
        """Take one more output into the average (detached: no gradient flows back)."""
        with torch.no_grad():
            current = output.detach()
            self.weight_sum = self.decay * self.weight_sum + (1 - self.decay)
            if self._total is None:
                self._total = current * (1 - self.decay)
            else:
                self._total = self.decay * self._total + (1 - self.decay) * current
            self._value = self._total / self.weight_sum

    @property
    def value(self) -> torch.Tensor:
        """The averaged output so far."""
        if self._value is None:
            raise ValueError("No output has been averaged yet.")
        return self._value
