"""Scatter benchmark: our batch neural gas against geogram's CVT and Poisson disk.

Run: ``.venv/bin/python bench/scatter_bench.py [--counts 1000,10000,100000,1000000]``
(``make bench-scatter``). On a torus and an icosphere, for each count, every
method is scored on the same 1,000,000 plain random surface samples:

* NQE relative to the hexagonal optimum 0.16037 (target ≤ 1.03),
* minimum / mean nearest-neighbour distance relative to the hexagonal spacing
  (target min ≥ 0.65), coverage (largest gap relative to the hexagonal covering
  radius), seconds (targets: ≤ 3 s at 10k, ≤ 75 s at 1M), exact count.

Baselines, run in the same process: point-cloud-utils ``sample_mesh_lloyd``
(geogram's centroidal Voronoi) and ``sample_mesh_poisson_disk``. Then density
maps: slope and correlation of log local density against log target density on a
smooth 10:1 map over the torus (targets: slope 1 ± 0.05, correlation ≥ 0.95).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from openpipeline.engine.images import Image
from openpipeline.engine.scatter import DensityMap, Mesh, ScatterParams, quality, scatter
from openpipeline.engine.scatter.mesh import FloatArray
from openpipeline.engine.scatter.primitives import icosphere, torus

Run = Callable[[], tuple[FloatArray, float]]  # a method to time: (points, seconds)


def ten_to_one_map(width: int = 512, height: int = 256) -> DensityMap:
    """A smooth map from 1 to 10: 10^(0.5 + 0.5 sin(2πu) cos(2πv))."""
    u = (np.arange(width) + 0.5) / width
    v = (np.arange(height) + 0.5) / height
    values = 10 ** (0.5 + 0.5 * np.sin(2 * np.pi * u)[None, :] * np.cos(2 * np.pi * v)[:, None])
    return DensityMap(Image(values[..., None].astype(np.float32), ["Y"], "float"))


def run_ours(mesh: Mesh, count: int, seed: int) -> tuple[FloatArray, float]:
    start = time.perf_counter()
    result = scatter(mesh, ScatterParams(count=count, seed=seed))
    return result.positions, time.perf_counter() - start


def run_pcu(mesh: Mesh, count: int, kind: str) -> tuple[FloatArray, float]:
    import point_cloud_utils as pcu

    v = mesh.vertices.astype(np.float64)
    f = mesh.faces.astype(np.int32)
    start = time.perf_counter()
    if kind == "lloyd":
        points = pcu.sample_mesh_lloyd(v, f, count)
    else:
        fid, bc = pcu.sample_mesh_poisson_disk(v, f, count)
        points = pcu.interpolate_barycentric_coords(f, fid, bc, v)
    return np.asarray(points, dtype=np.float64), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000,100000,1000000")
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--json", help="write all figures to this file")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    meshes = {"torus": torus(), "icosphere": icosphere(5)}
    rows: list[dict[str, Any]] = []
    print("| mesh | N | method | points | seconds | NQE/hex | min NN | mean NN | coverage |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mesh_name, mesh in meshes.items():
        for count in counts:
            runs: list[tuple[str, Run]] = [("batch-ng (ours)", partial(run_ours, mesh, count, args.seed))]
            if not args.skip_baselines:
                runs += [("geogram CVT (pcu lloyd)", partial(run_pcu, mesh, count, "lloyd")),
                         ("poisson disk (pcu)", partial(run_pcu, mesh, count, "poisson"))]
            for method, run in runs:
                points, seconds = run()
                figures = quality.evenness(mesh, points, samples=args.samples)
                row: dict[str, Any] = {"mesh": mesh_name, "count": count, "method": method,
                                       "points": len(points), "seconds": seconds, **figures}
                rows.append(row)
                print(f"| {mesh_name} | {count} | {method} | {len(points)} | {seconds:.2f} | "
                      f"{figures['nqe']:.4f} | {figures['min_nn']:.3f} | {figures['mean_nn']:.3f} | "
                      f"{figures['coverage']:.3f} |", flush=True)
    print()
    print("| density map 10:1 on the torus | N | seconds | slope | correlation |")
    print("|---|---|---|---|---|")
    density = ten_to_one_map()
    ring = meshes["torus"]
    for count in [c for c in counts if c <= 100_000]:
        start = time.perf_counter()
        result = scatter(ring, ScatterParams(count=count, seed=args.seed), density)
        seconds = time.perf_counter() - start
        assert result.uvs is not None
        fit = quality.density_fit(result.positions, density.lookup(result.uvs))
        rows.append({"mesh": "torus", "count": count, "method": "batch-ng density", "seconds": seconds,
                     **fit})
        print(f"| batch-ng (ours) | {count} | {seconds:.2f} | {fit['slope']:.3f} | "
              f"{fit['correlation']:.3f} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
