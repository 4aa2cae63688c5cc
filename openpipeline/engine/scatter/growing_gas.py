"""Growing neural gas (Fritzke 1995), the ``gng`` method.

Fritzke's published parameters (ε_b 0.2, ε_n 0.006, age_max 50, λ 100, α 0.5,
d 0.995): the gas grows node by node until the count (or the spacing) is
reached, and learns a neighbour graph by competitive Hebbian learning.
Sequential, so meant for up to a few thousand points.
"""

from __future__ import annotations

import numpy as np

from openpipeline.engine.progress import Reporter
from openpipeline.engine.scatter.mesh import FloatArray, IntArray, Samples, Surface


def growing_neural_gas(
    surface: Surface, count: int, rng: np.random.Generator,
    report: Reporter, power: float,
) -> tuple[FloatArray, IntArray, Samples]:
    """Fritzke's growing neural gas until ``count`` nodes, then a settling phase."""
    eps_b, eps_n, age_max, lam, alpha, decay = 0.2, 0.006, 50, 100, 0.5, 0.995
    capacity = max(count, 2)
    nodes = np.zeros((capacity, 3))
    error = np.zeros(capacity)
    first = surface.sample(rng, 2, power).positions
    nodes[:2] = first
    size = 2
    age: dict[tuple[int, int], int] = {(0, 1): 0}
    neighbours: dict[int, set[int]] = {0: {1}, 1: {0}}
    settle = 20 * lam
    total_steps = lam * max(count - 2, 0) + settle
    chunk = 4096

    def fresh() -> FloatArray:
        # systematic samples run along a space-filling curve: shuffle them for online use
        return surface.sample(rng, chunk, power).positions[rng.permutation(chunk)]

    buffer = fresh()
    used = 0
    step = 0
    while True:
        if used == chunk:
            buffer = fresh()
            used = 0
        x = buffer[used]
        used += 1
        step += 1
        d = np.einsum("nc,nc->n", nodes[:size] - x, nodes[:size] - x)
        s1, s2 = (int(i) for i in np.argpartition(d, 1)[:2]) if size > 2 else (0, 1)
        if d[s2] < d[s1]:
            s1, s2 = s2, s1
        error[s1] += d[s1]
        nodes[s1] += eps_b * (x - nodes[s1])
        for n in neighbours[s1]:
            nodes[n] += eps_n * (x - nodes[n])
            key = (min(s1, n), max(s1, n))
            age[key] += 1
        key = (min(s1, s2), max(s1, s2))
        age[key] = 0
        neighbours[s1].add(s2)
        neighbours[s2].add(s1)
        for old in [(min(s1, n), max(s1, n)) for n in neighbours[s1]
                    if age[(min(s1, n), max(s1, n))] > age_max]:
            a, b = old
            del age[old]
            neighbours[a].discard(b)
            neighbours[b].discard(a)
        if step % lam == 0 and size < count:
            q = int(np.argmax(error[:size]))
            if neighbours[q]:
                f = max(neighbours[q], key=lambda n: error[n])
                r = size
                size += 1
                nodes[r] = 0.5 * (nodes[q] + nodes[f])
                for a, b in ((q, f),):
                    del age[(min(a, b), max(a, b))]
                    neighbours[a].discard(b)
                    neighbours[b].discard(a)
                neighbours[r] = {q, f}
                neighbours[q].add(r)
                neighbours[f].add(r)
                age[(min(q, r), max(q, r))] = 0
                age[(min(f, r), max(f, r))] = 0
                error[q] *= alpha
                error[f] *= alpha
                error[r] = error[q]
            else:  # an isolated node: put the new one at a fresh sample
                r = size
                size += 1
                nodes[r] = surface.sample(rng, 1, power).positions[0]
                neighbours[r] = set()
        error[:size] *= decay
        if step % 2000 == 0:
            report("growing gas", 0.95 * min(step / total_steps, 1.0), f"{size}/{count} nodes")
        if size >= count and step >= total_steps:
            break
    points = nodes[:count]
    edges = np.array(sorted(age), dtype=np.int64).reshape(-1, 2)
    edges = edges[(edges < count).all(axis=1)]
    hints = surface.sample(rng, 8 * count, power)
    return points, edges, hints
