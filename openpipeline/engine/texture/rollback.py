"""Collapse roll-back: when a fit's loss jumps, go back to its last good state, slower.

Deep Image Prior fits now and then collapse (the loss jumps by orders of magnitude
and the output turns to mush); Ulyanov et al. reload the last good weights. The
fit keeps a snapshot every ``every`` good iterations and, on a jump, restores it
and halves the learning rate.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

# A loss over 5× the best so far is a collapse only above this MSE (a fit that was
# near-perfect may wobble by more than 5× without anything going wrong).
COLLAPSE_FLOOR = 1e-4


class CollapseGuard:
    """Watches a fit's losses and rolls the network and its optimiser back on a collapse.

    A collapse is a loss over ``jump`` × the best so far, after ``warm_up``
    iterations and above ``floor``. Cost: a deep copy of the weights and the
    optimiser state every ``every`` good iterations.
    """

    def __init__(self, net: nn.Module, optimiser: torch.optim.Optimizer, *, every: int = 100,
                 warm_up: int = 50, jump: float = 5.0, floor: float = COLLAPSE_FLOOR) -> None:
        self.net = net
        self.optimiser = optimiser
        self.every = every
        self.warm_up = warm_up
        self.jump = jump
        self.floor = floor
        self.best_loss = math.inf
        self.snapshot = self._take()

    def _take(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return copy.deepcopy(self.net.state_dict()), copy.deepcopy(self.optimiser.state_dict())

    def is_collapse(self, iteration: int, loss: float) -> bool:
        return iteration > self.warm_up and loss > self.jump * self.best_loss and loss > self.floor

    def rolled_back(self, iteration: int, loss: float) -> bool:
        """Judge this iteration's loss: on a collapse, roll back, halve the learning rate
        and return True; otherwise remember the best loss (and take the snapshot on
        every ``every``-th iteration) and return False."""
        if self.is_collapse(iteration, loss):
            self.net.load_state_dict(self.snapshot[0])
            self.optimiser.load_state_dict(self.snapshot[1])
            for group in self.optimiser.param_groups:
                group["lr"] *= 0.5
            return True
        self.best_loss = min(self.best_loss, loss)
        if iteration % self.every == 0:
            self.snapshot = self._take()
        return False
