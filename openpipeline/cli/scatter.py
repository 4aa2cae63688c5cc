"""``openpipeline scatter``: points spread over a mesh, evenly or by a density map.

The engine is imported when the command runs, so other commands start without numpy's
and scipy's import time. Scatters go through the result cache (see :mod:`.cache`): the
same job on the same mesh and density bytes is delivered from it at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from openpipeline.cli.cache import add_cache_option, result_cache
from openpipeline.cli.common import CliError, Commands, emit, whole_number


def register(cli: Commands) -> None:
    """Add the ``scatter`` command."""
    p = cli.command("scatter", cmd_scatter, "distribute points evenly (or by a density map) over a mesh")
    p.add_argument("mesh", help="mesh file: OBJ, PLY, STL, glTF, OFF...")
    p.add_argument("out", help="output: .npz, .json, .usda, .usd or .usdc")
    p.add_argument("--count", type=whole_number("Count"), help="exact number of points")
    p.add_argument("--spacing", type=float, help="hexagonal spacing instead of a count")
    p.add_argument("--density", help="density map image, looked up through the mesh UVs")
    p.add_argument("--density-channel", help="channel name or index (default: R or the mean of RGB)")
    p.add_argument("--seed", type=whole_number("Seed", minimum=0), default=0, help="0 or more (default 0)")
    p.add_argument("--method", default="batch-ng", choices=("batch-ng", "online-ng", "gng"))
    p.add_argument("--max-memory", type=memory_size,
                   help="refuse a job estimated to need more (e.g. 4G; default: the memory available)")
    p.add_argument("--max-points", type=whole_number("The point limit"),
                   help="refuse a job of more points (default 100,000,000)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="where neighbour searches run (default auto: a GPU for 200,000 points or more, "
                        "where there is one)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cache_option(p)


def memory_size(text: str) -> int:
    """An argparse type for a memory size (``4G``, ``512M``); refused with one sentence."""
    from openpipeline.engine.scatter.budget import parse_size

    return parse_size(text)


def cmd_scatter(args: argparse.Namespace) -> None:
    from openpipeline.engine.jobs import deliver_cached
    from openpipeline.engine.progress import text_bar
    from openpipeline.engine.scatter import ScatterJob, ScatterParams, check_output
    from openpipeline.engine.scatter.job import deliver, load_result

    params = ScatterParams(count=args.count, spacing=args.spacing, method=args.method,
                           seed=args.seed, max_memory=args.max_memory, max_points=args.max_points,
                           device=args.device)
    params.check()
    if args.count is None and args.spacing is None:
        raise CliError("Give the number of points with --count N (or a --spacing).")
    if args.count is not None:
        params.resolve_count(1.0)  # refuses a count below 1 before any file is read
    check_output(args.out)  # a folder, a missing or read-only folder: refused before any work
    job = ScatterJob(args.mesh, params, args.density, args.density_channel)
    # the mesh and density map read and checked, a job too big for this machine refused, before any work
    mesh, density = job.load()
    progress = None if args.quiet else text_bar(sys.stderr)
    def use(entry: Any, reused: bool) -> tuple[Any, bool]:
        deliver(entry, args.out)
        return load_result(entry), reused

    result, reused = deliver_cached(job, result_cache(args), use, progress)
    summary = _summary(args, params, result, mesh if density is None else None)
    summary["cached"] = reused
    text = (f"Scattered {result.count} points ({params.method}, seed {params.seed}) in "
            f"{summary['seconds']} s{' (from the cache)' if reused else ''} -> {args.out}")
    if "nqe_estimate" in summary:
        text += f"  (NQE ≈ {summary['nqe_estimate']}× hexagonal optimum)"
    emit(args, summary, text)


def _summary(args: argparse.Namespace, params: Any, result: Any, even_on: Any) -> dict[str, Any]:
    """What the command reports; with ``even_on`` (the mesh of an even scatter) its quality."""
    import numpy as np

    from openpipeline.engine.scatter import quality_summary

    summary: dict[str, Any] = {
        "count": result.count,
        "seconds": round(result.stats["seconds"], 3),
        "method": params.method,
        "seed": params.seed,
        "output": str(Path(args.out).absolute()),
        "edges": 0 if result.edges is None else len(result.edges),
        "density": bool(args.density),
    }
    if even_on is not None:
        quality = quality_summary(even_on, result.positions)
        summary["nqe_estimate"] = round(quality["nqe"], 4)
        if result.count > 1:  # one point has no nearest neighbour
            summary["min_nn"] = round(quality["min_nn"], 3)
    summary["bounds"] = [np.round(result.positions.min(0), 4).tolist(),
                         np.round(result.positions.max(0), 4).tolist()]
    return summary
