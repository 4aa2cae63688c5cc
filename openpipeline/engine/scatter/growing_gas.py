"""Growing neural gas (Fritzke 1995), the ``gng`` method.

With Fritzke's published parameters (ε_b 0.2, ε_n 0.006, age_max 50, λ 100,
α 0.5, d 0.995) the gas grows node by node until the count (or the spacing) is
reached, and learns a neighbour graph by competitive Hebbian learning.
Sequential, so meant for up to a few thousand points.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from openpipeline.engine.progress import Reporter
from openpipeline.engine.scatter.mesh import FloatArray, IntArray, Samples, Surface


@dataclass(frozen=True)
class GrowingGasRates:
    """The constants of growing neural gas; the defaults are Fritzke's."""

    winner_step: float = 0.2  # ε_b: how far the nearest node moves towards a sample
    neighbour_step: float = 0.006  # ε_n: how far the nearest node's neighbours move
    max_age: int = 50  # edges of the nearest node older than this are removed
    insert_every: int = 100  # λ: samples between two insertions
    split_error: float = 0.5  # α: what the two nodes a new one goes between keep of their error
    error_decay: float = 0.995  # d: every node's error is multiplied by this after each sample


FRITZKE = GrowingGasRates()
SETTLE_INSERTIONS = 20  # after the last insertion, the gas settles for this many insertion intervals


def _edge(a: int, b: int) -> tuple[int, int]:
    return (min(a, b), max(a, b))


class GrowingGas:
    """The state of a growing neural gas: nodes, their errors and the aged edges between them.

    Nodes live in arrays allocated for ``capacity`` nodes, of which the first
    ``size`` are in use. Each edge is in ``age`` under (low, high) and in both
    of its nodes' ``neighbours``. A gas starts with two nodes joined by an edge.
    """

    def __init__(self, first_two: FloatArray, capacity: int, rates: GrowingGasRates = FRITZKE) -> None:
        self.rates = rates
        self.nodes: FloatArray = np.zeros((capacity, 3))
        self.error: FloatArray = np.zeros(capacity)
        self.nodes[:2] = first_two
        self.size = 2
        self.age: dict[tuple[int, int], int] = {(0, 1): 0}
        self.neighbours: dict[int, set[int]] = {0: {1}, 1: {0}}

    def learn(self, x: FloatArray) -> None:
        """One sample: the nearest node gathers its error and moves towards it with its
        neighbours; the two nearest are joined by a new edge and the nearest's old edges go."""
        winner, second, distance = self.nearest_two(x)
        self.error[winner] += distance
        self.adapt(x, winner)
        self.connect(winner, second)
        self.prune(winner)

    def nearest_two(self, x: FloatArray) -> tuple[int, int, float]:
        """The nearest and the second-nearest node to ``x``, and the squared distance to the nearest."""
        d = np.einsum("nc,nc->n", self.nodes[:self.size] - x, self.nodes[:self.size] - x)
        s1, s2 = (int(i) for i in np.argpartition(d, 1)[:2]) if self.size > 2 else (0, 1)
        if d[s2] < d[s1]:
            s1, s2 = s2, s1
        return s1, s2, float(d[s1])

    def adapt(self, x: FloatArray, winner: int) -> None:
        """Move ``winner`` and its neighbours towards ``x``; the winner's edges grow one older."""
        self.nodes[winner] += self.rates.winner_step * (x - self.nodes[winner])
        for n in self.neighbours[winner]:
            self.nodes[n] += self.rates.neighbour_step * (x - self.nodes[n])
            self.age[_edge(winner, n)] += 1

    def connect(self, a: int, b: int) -> None:
        """Join ``a`` and ``b`` by an edge of age 0 (a new one, or one made young again)."""
        self.age[_edge(a, b)] = 0
        self.neighbours[a].add(b)
        self.neighbours[b].add(a)

    def disconnect(self, a: int, b: int) -> None:
        del self.age[_edge(a, b)]
        self.neighbours[a].discard(b)
        self.neighbours[b].discard(a)

    def prune(self, node: int) -> None:
        """Remove the edges of ``node`` older than the maximum age (the node itself stays)."""
        old = [_edge(node, n) for n in self.neighbours[node]
               if self.age[_edge(node, n)] > self.rates.max_age]
        for a, b in old:
            self.disconnect(a, b)

    def insert(self) -> int | None:
        """Put a new node halfway between the node of largest error and its neighbour of largest
        error, in place of their edge; the two give up part of their error, which the new node
        takes. Returns the new node's index, or None (and changes nothing) when the node of
        largest error has no neighbour."""
        q = int(np.argmax(self.error[:self.size]))
        if not self.neighbours[q]:
            return None
        f = max(self.neighbours[q], key=lambda n: self.error[n])
        r = self.add_node(0.5 * (self.nodes[q] + self.nodes[f]))
        self.disconnect(q, f)
        self.connect(q, r)
        self.connect(f, r)
        self.error[q] *= self.rates.split_error
        self.error[f] *= self.rates.split_error
        self.error[r] = self.error[q]
        return r

    def add_node(self, position: FloatArray) -> int:
        """A new node without edges at ``position``; returns its index."""
        r = self.size
        self.size += 1
        self.nodes[r] = position
        self.neighbours[r] = set()
        return r

    def decay(self) -> None:
        self.error[:self.size] *= self.rates.error_decay

    def edges(self, count: int) -> IntArray:
        """The edges among the first ``count`` nodes, (E, 2), sorted."""
        edges = np.array(sorted(self.age), dtype=np.int64).reshape(-1, 2)
        return edges[(edges < count).all(axis=1)]


def _shuffled_samples(
    surface: Surface, rng: np.random.Generator, power: float, chunk: int = 4096,
) -> Iterator[FloatArray]:
    """Surface samples one at a time, drawn a chunk at a time when the last one is used up.

    Systematic samples run along a space-filling curve, so each chunk is shuffled for online use.
    """
    while True:
        yield from surface.sample(rng, chunk, power).positions[rng.permutation(chunk)]


def growing_neural_gas(
    surface: Surface, count: int, rng: np.random.Generator,
    report: Reporter, power: float,
) -> tuple[FloatArray, IntArray, Samples]:
    """Fritzke's growing neural gas until ``count`` nodes, then a settling phase."""
    rates = FRITZKE
    gas = GrowingGas(surface.sample(rng, 2, power).positions, max(count, 2), rates)
    samples = _shuffled_samples(surface, rng, power)
    total_steps = rates.insert_every * max(count - 2, 0) + SETTLE_INSERTIONS * rates.insert_every
    for step in itertools.count(1):
        gas.learn(next(samples))
        if step % rates.insert_every == 0 and gas.size < count and gas.insert() is None:
            # the node of largest error is isolated: put the new node at a fresh sample
            gas.add_node(surface.sample(rng, 1, power).positions[0])
        gas.decay()
        if step % 2000 == 0:
            report("growing gas", 0.95 * min(step / total_steps, 1.0), f"{gas.size}/{count} nodes")
        if gas.size >= count and step >= total_steps:
            break
    hints = surface.sample(rng, 8 * count, power)
    return gas.nodes[:count], gas.edges(count), hints
