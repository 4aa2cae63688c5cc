"""The scatter engine's neighbour searches: the k-d tree (CPU) against the torch grid on a device.

The three questions that take most of a million-point scatter on the CPU (its profile in
``bench/results_scatter.md``: ``nearest_others`` about 40 %, ``unique_edges`` about 17 %,
the projection's queries): each point's 8 nearest others, the 4 nearest of twice as many
surface samples, and the unique edges of the 8-neighbour table. Points are evenly spread
on the benchmark torus. Each answer is checked against the k-d tree's (the same
distances), timed best of ``--repeats`` after one untimed warm-up, interleaved, and
given as a ratio to the k-d tree in the same run.

    python bench/search_bench.py --device cuda --counts 100000,1000000
    python bench/search_bench.py --device cpu --counts 20000   # the GPU path's code on the CPU

On the CPU the torch grid is much slower than the k-d tree (it is written for a GPU's
thousands of threads); ``--device cpu`` only checks that the path runs and agrees.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpipeline.engine.scatter.mesh import Surface
from openpipeline.engine.scatter.primitives import torus
from openpipeline.engine.scatter.search import KdSearch, Search, TorchSearch


def questions(search: Search, points: np.ndarray, hints: np.ndarray,
              area: float) -> dict[str, Callable[[], Any]]:
    """The three timed questions, asked of ``search``."""
    table = KdSearch().nearest_others(points, 8)
    rows = np.repeat(np.arange(len(points)), 8)
    return {
        "8 nearest others": lambda: search.nearest_others(points, 8, area),
        "4 nearest of 2N samples": lambda: search.index(hints, area).query(points, 4),
        "unique edges of the table": lambda: search.unique_edges(rows, table.ravel(), len(points)),
    }


def best(run: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> tuple[float, Any]:
    """The best time of ``repeats`` runs (after a warm-up), and the last answer."""
    answer = run()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        answer = run()
        sync()
        times.append(time.perf_counter() - start)
    return min(times), answer


def agree(name: str, ours: np.ndarray, theirs: np.ndarray, points: np.ndarray, hints: np.ndarray) -> bool:
    """The same answer: equal edges, or neighbours at the same distances."""
    if name.startswith("unique"):
        return bool(np.array_equal(ours, theirs))
    ref = points if name.startswith("8") else hints
    d_ours = np.linalg.norm(ref[ours] - points[:, None], axis=2)
    d_theirs = np.linalg.norm(ref[theirs] - points[:, None], axis=2)
    return bool(np.allclose(d_ours, d_theirs, rtol=0, atol=1e-9))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the torch device of the grid (cuda, mps, cpu)")
    parser.add_argument("--counts", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    device = torch.device(args.device)
    grid = TorchSearch(device, min_work=0)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    surface = Surface(torus())
    rng = np.random.default_rng(0)
    print(f"| N | question | k-d tree s | {args.device} grid s | ×k-d tree | same answer |")
    print("|---|---|---|---|---|---|")
    for count in [int(c) for c in args.counts.split(",")]:
        points = surface.sample(rng, count, distinct=True).positions
        hints = surface.sample(rng, 2 * count).positions
        kd = questions(KdSearch(), points, hints, surface.area)
        ours = questions(grid, points, hints, surface.area)
        for name in kd:
            kd_s, kd_answer = best(kd[name], args.repeats, lambda: None)
            our_s, our_answer = best(ours[name], args.repeats, sync)
            same = agree(name, our_answer, kd_answer, points, hints)
            print(f"| {count:,} | {name} | {kd_s:.3f} | {our_s:.3f} | {our_s / kd_s:.2f} | {same} |",
                  flush=True)


if __name__ == "__main__":
    main()
