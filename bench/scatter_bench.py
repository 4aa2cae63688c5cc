"""Scatter benchmark: our batch neural gas against geogram's CVT and Poisson disk.

Run: ``.venv/bin/python bench/scatter_bench.py [--quick] [--markdown bench/results_scatter.md]``
(``make bench-scatter``). On a torus, an icosphere (both closed) and an open terrain patch
with cliffs (:func:`scatter_measures.terrain`: a boundary and sharp creases), for each
count (1k, 10k, 100k, 1M; ``--quick``: 1k and 10k), every method is scored on the same
plain random surface samples:

* NQE relative to the hexagonal optimum 0.16037 (target ≤ 1.02),
* minimum / mean nearest-neighbour distance relative to the hexagonal spacing,
  coverage (largest gap relative to the hexagonal covering radius), exact count, and
  how far the points lie off the surface (geogram returns cell centroids),
* seconds, and the ratio to geogram's seconds (target ≤ 1 at every size on every mesh).

Timing is fair by construction: by default the process runs on ONE core with one
thread for everyone (``OMP_NUM_THREADS``, ``NUMBA_NUM_THREADS``... = 1; ``--threads all``
lifts this), ours and geogram alternate (ours, geogram, ours, geogram...) and each keeps
its best of ``--repeats`` runs (3 up to 10,000 points, then 1). Our runs are checked to
be bit-for-bit repeatable. A small untimed run of each method on each mesh comes first
(compiled kernels are compiled or read from their cache then). The stages of our run
(last column) come from a separate, untimed run under cProfile
(:func:`scatter_measures.profile_stages`). The density table comes first and the evenness
table goes count by count over all meshes; ``--markdown`` and ``--json`` are rewritten
after every row, so a run cut short keeps what it measured.

Baselines, run in the same process: point-cloud-utils ``sample_mesh_lloyd`` (geogram's
centroidal Voronoi) and ``sample_mesh_poisson_disk`` (skipped above ``--poisson-max``,
default 100,000: it takes minutes at 1M). Then density maps: slope and correlation of log
local density against log target density on a smooth 10:1 map over the torus (targets:
slope 1 ± 0.05, correlation ≥ 0.95), by two measures side by side — the k-NN measure of
``quality.density_fit`` and a kernel-matched one that reads 1 on a sample with exactly
the map's density (:func:`scatter_measures.kernel_density_fit`) — for our scatter and for
such a reference sample.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from openpipeline.engine.images import Image
from openpipeline.engine.scatter import DensityMap, Mesh, ScatterParams, quality, scatter
from openpipeline.engine.scatter.mesh import FloatArray
from openpipeline.engine.scatter.primitives import icosphere, torus

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scatter_measures import (  # the bench's own helpers, beside this file
    kernel_density_fit,
    off_surface,
    profile_stages,
    reference_sample,
    terrain,
)

Run = Callable[[], tuple[FloatArray, float]]  # a method to time: (points, seconds)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
OURS, GEOGRAM, POISSON = "batch-ng (ours)", "geogram CVT (pcu lloyd)", "poisson disk (pcu)"
REFERENCE_SEEDS = 5


def ten_to_one_map(width: int = 512, height: int = 256) -> DensityMap:
    """A smooth map from 1 to 10: 10^(0.5 + 0.5 sin(2πu) cos(2πv))."""
    u = (np.arange(width) + 0.5) / width
    v = (np.arange(height) + 0.5) / height
    values = 10 ** (0.5 + 0.5 * np.sin(2 * np.pi * u)[None, :] * np.cos(2 * np.pi * v)[:, None])
    return DensityMap(Image(values[..., None].astype(np.float32), ["Y"], "float"))


def run_ours(mesh: Mesh, count: int, seed: int, device: str = "cpu") -> tuple[FloatArray, float]:
    start = time.perf_counter()
    result = scatter(mesh, ScatterParams(count=count, seed=seed, device=device))
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--counts", default="1000,10000,100000,1000000")
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 points only")
    parser.add_argument("--meshes", default="torus,icosphere,terrain")
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, help="timed runs a method (default: 3 up to 10k, then 1)")
    parser.add_argument("--threads", choices=("one", "all"), default="one")
    parser.add_argument("--device", choices=("cpu", "auto", "cuda", "mps"), default="cpu",
                        help="our device (default cpu; auto or cuda measure the GPU path where there is one)")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--poisson-max", type=int, default=100_000, help="no Poisson disk above this")
    parser.add_argument("--profile-max", type=int, default=1_000_000, help="no profile above this")
    parser.add_argument("--density-max", type=int, default=100_000, help="no density run above this")
    parser.add_argument("--tables", default="evenness,profile,density",
                        help="what to measure (comma-separated; profile: the stages column)")
    parser.add_argument("--json", help="write all figures to this file")
    parser.add_argument("--markdown", help="write the tables, with date and machine, to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.counts = "1000,10000"
    return args


def one_thread(args: argparse.Namespace) -> None:
    """With ``--threads one``: restart with every thread pool at one thread (before NumPy's
    pools start), then keep this process and the threads it starts on one core."""
    if args.threads != "one":
        return
    if any(os.environ.get(name) != "1" for name in THREAD_VARIABLES):
        env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, "1")}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


@dataclass
class Timing:
    """A method's best time over interleaved runs, its last points, and whether they repeat."""

    points: FloatArray
    seconds: float
    repeatable: bool | None = None


def interleaved(runs: list[tuple[str, Run]], repeats: int) -> dict[str, Timing]:
    """Run the methods in turn (A, B, A, B...) ``repeats`` times; keep each one's best."""
    timings: dict[str, Timing] = {}
    for _ in range(repeats):
        for method, run in runs:
            points, seconds = run()
            before = timings.get(method)
            if before is None:
                timings[method] = Timing(points, seconds)
                continue
            same = bool(np.array_equal(before.points, points))
            before.repeatable = same if before.repeatable is None else before.repeatable and same
            before.seconds = min(before.seconds, seconds)
            before.points = points
    return timings


@dataclass
class Report:
    """The lines printed so far (for ``--markdown``) and every figure (for ``--json``)."""

    markdown: str | None = None
    json: str | None = None
    lines: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def say(self, line: str = "") -> None:
        """Print a line; the markdown file is rewritten at once (a cut run keeps its tables)."""
        print(line, flush=True)
        self.lines.append(line)
        if self.markdown:
            Path(self.markdown).write_text("\n".join(self.lines) + "\n", encoding="utf-8")

    def add(self, row: dict[str, Any]) -> None:
        """Keep a row of figures; the JSON file is rewritten at once."""
        self.rows.append(row)
        if self.json:
            Path(self.json).write_text(json.dumps(self.rows, indent=2, default=float))


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def warm_up(meshes: dict[str, Mesh], args: argparse.Namespace) -> None:
    """One small untimed run of every method on every mesh (and one with the density map):
    compiled kernels are compiled or loaded from their cache, libraries imported."""
    for mesh in meshes.values():
        run_ours(mesh, 200, args.seed, args.device)
        if not args.skip_baselines:
            run_pcu(mesh, 200, "lloyd")
    scatter(torus(), ScatterParams(count=200, seed=args.seed, device=args.device), ten_to_one_map())


def evenness_table(report: Report, meshes: dict[str, Mesh], counts: list[int],
                   args: argparse.Namespace) -> None:
    """Every method on every mesh at every count (all meshes at a count before the next count):
    quality, seconds, ratio to geogram, and our run's top stages from a separate profiled run."""
    report.say("| mesh | N | method | points | seconds | ×geogram | NQE/hex | NQE on surface | min NN "
               "| mean NN | coverage | off surface | repeatable | top stages (separate profiled run) |")
    report.say("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for count in counts:
        for mesh_name, mesh in meshes.items():
            runs: list[tuple[str, Run]] = [(OURS, partial(run_ours, mesh, count, args.seed, args.device))]
            if not args.skip_baselines:
                runs.append((GEOGRAM, partial(run_pcu, mesh, count, "lloyd")))
            repeats = args.repeats or (3 if count <= 10_000 else 1)
            timings = interleaved(runs, repeats)
            if not args.skip_baselines and count <= args.poisson_max:
                timings.update(interleaved([(POISSON, partial(run_pcu, mesh, count, "poisson"))], 1))
            stages = profile(mesh, count, args)
            geogram = timings.get(GEOGRAM)
            for method, timing in timings.items():
                row = Row(mesh_name, mesh, count, method)
                _evenness_row(report, row, timing, geogram, args.samples, stages if method == OURS else "—")


def profile(mesh: Mesh, count: int, args: argparse.Namespace) -> str:
    """Our run's top five stages (a separate run under cProfile, untimed), as a table cell."""
    if "profile" not in args.tables.split(",") or count > args.profile_max:
        return "—"
    seconds, stages = profile_stages(partial(run_ours, mesh, count, args.seed, args.device))
    return f"{seconds:.2f} s: " + ", ".join(f"{name} {share:.0%}" for name, share in stages)


@dataclass
class Row:
    """What a row of the evenness table is about."""

    mesh_name: str
    mesh: Mesh
    count: int
    method: str


def _evenness_row(report: Report, row: Row, timing: Timing, geogram: Timing | None, samples: int,
                  stages: str) -> None:
    mesh, count, method = row.mesh, row.count, row.method
    figures = quality.evenness(mesh, timing.points, samples=samples)
    ratio = timing.seconds / geogram.seconds if geogram is not None else None
    snapped = off_surface(mesh, timing.points)
    off = None if snapped is None else snapped[0]
    on_surface = figures["nqe"]  # points off the surface are scored again once moved onto it
    if snapped is not None and snapped[0] > 1e-6:
        on_surface = quality.evenness(mesh, snapped[1], samples=samples)["nqe"]
    report.add({"mesh": row.mesh_name, "count": count, "method": method, "points": len(timing.points),
                "seconds": timing.seconds, "ratio_to_geogram": ratio, "off_surface": off,
                "nqe_on_surface": on_surface, "repeatable": timing.repeatable, "stages": stages, **figures})
    repeat = {None: "—", True: "yes", False: "NO"}[timing.repeatable]
    report.say(f"| {row.mesh_name} | {count} | {method} | {len(timing.points)} | {timing.seconds:.2f} | "
               f"{_fmt(ratio, 2)} | {figures['nqe']:.4f} | {on_surface:.4f} | {figures['min_nn']:.3f} | "
               f"{figures['mean_nn']:.3f} | {figures['coverage']:.3f} | {_fmt(off)} | {repeat} | {stages} |")


def density_table(report: Report, ring: Mesh, counts: list[int], args: argparse.Namespace) -> None:
    """The 10:1 map on the torus: our scatter and a sample with exactly the map's density,
    each by the old (k-NN) and the new (kernel-matched) measure."""
    density = ten_to_one_map()
    report.say("| density map 10:1 on the torus | N | seconds | slope (k-NN) | correlation (k-NN) "
               "| slope (kernel) | correlation (kernel) |")
    report.say("|---|---|---|---|---|---|---|")
    for count in [c for c in counts if c <= args.density_max]:
        start = time.perf_counter()
        result = scatter(ring, ScatterParams(count=count, seed=args.seed, device=args.device), density)
        seconds = time.perf_counter() - start
        assert result.uvs is not None
        old = quality.density_fit(result.positions, density.lookup(result.uvs))
        new = kernel_density_fit(ring, density, result.positions)
        report.add({"mesh": "torus", "count": count, "method": "batch-ng density",
                            "seconds": seconds, **old, "kernel_slope": new["slope"],
                            "kernel_correlation": new["correlation"]})
        report.say(f"| {OURS} | {count} | {seconds:.2f} | {old['slope']:.3f} | {old['correlation']:.3f} "
                   f"| {new['slope']:.3f} | {new['correlation']:.3f} |")
        _reference_row(report, ring, density, count)


def _reference_row(report: Report, ring: Mesh, density: DensityMap, count: int) -> None:
    """Independent points with exactly the map's density, over a few seeds: what each
    measure reads when the density is right (mean ± seed-to-seed deviation)."""
    figures = []
    seeds = REFERENCE_SEEDS if count <= 10_000 else 2  # the spread shrinks as the count grows
    for seed in range(seeds):
        points, values = reference_sample(ring, density, count, 100 + seed)
        old = quality.density_fit(points, values)
        new = kernel_density_fit(ring, density, points)
        figures.append([old["slope"], old["correlation"], new["slope"], new["correlation"]])
    mean, spread = np.mean(figures, 0), np.std(figures, 0)
    report.add({"mesh": "torus", "count": count, "method": "reference (exact density)",
                        "slope": mean[0], "correlation": mean[1], "kernel_slope": mean[2],
                        "kernel_correlation": mean[3]})
    cells = " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(mean, spread, strict=True))
    report.say(f"| reference: exact density, {seeds} seeds | {count} | — | {cells} |")


def met_lines(report: Report) -> None:
    """One line per target of issue 14: met, or not met with the cases that miss."""
    ours = [r for r in report.rows if r["method"] == OURS]
    slow = [f"{r['mesh']} {r['count']} {r['ratio_to_geogram']:.2f}×" for r in ours
            if r["ratio_to_geogram"] is not None and r["ratio_to_geogram"] > 1]
    rough = [f"{r['mesh']} {r['count']} {r['nqe']:.4f}" for r in ours if r["nqe"] > 1.02]
    inexact = [f"{r['mesh']} {r['count']}" for r in ours
               if r["points"] != r["count"] or r["repeatable"] is False]
    dens = [r for r in report.rows if r["method"] == "batch-ng density"]
    off = [f"{r['count']}: slope {r['kernel_slope']:.3f}, correlation {r['kernel_correlation']:.3f}"
           for r in dens if abs(r["kernel_slope"] - 1) > 0.05 or r["kernel_correlation"] < 0.95]
    timed = any(r["ratio_to_geogram"] is not None for r in ours)
    checks = [("time ≤ geogram's at every size on every mesh", slow if timed else ["not measured"]),
              ("NQE ≤ 1.02 at every size on every mesh", rough),
              ("exact N, bit-for-bit repeatable", inexact),
              ("density slope 1 ± 0.05 and correlation ≥ 0.95 (kernel measure)", off if dens else
               ["not measured"])]
    for target, misses in checks:
        verdict = "**not met** (" + "; ".join(misses) + ")" if misses else "**met**"
        report.say(f"- {target}: " + ("not measured" if misses == ["not measured"] else verdict))


def header(argv: list[str], args: argparse.Namespace) -> list[str]:
    """The date, machine, thread mode and commit the tables were measured on."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                         model)
    except OSError:
        pass
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                            check=False).stdout.strip() or "unknown"
    threads = ("one core, one thread each (OMP/NUMBA/OPENBLAS_NUM_THREADS=1)" if args.threads == "one"
               else f"all {os.cpu_count()} cores")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [f"Measured {when} on {model} ({os.cpu_count()} cores, shared with other work; run on "
            f"{threads}; ours on device {args.device}), commit {commit}, "
            f"by `bench/scatter_bench.py {' '.join(argv)}`.", "", *LEGEND, ""]


LEGEND = [
    "Meshes: torus and icosphere (closed), terrain (open 2 × 2 patch, 73,728 faces, with a 9:1 cliff "
    "and a ledge: a boundary and sharp creases). Seconds: best of the interleaved runs (3 up to 10k, "
    "then 1); ×geogram: our seconds over geogram's in the same run. Off surface: the largest distance "
    "from a point to the mesh over the hexagonal spacing (geogram returns restricted-Voronoi "
    "centroids, which leave a curved surface); NQE on surface: the NQE of those points moved onto "
    "the mesh (the same figure for points already on it). Repeatable: the same bits on a second run with the "
    "same seed. Top stages: a separate run under cProfile; a stage is a function of "
    "openpipeline.engine.scatter with the library calls it makes. Density: slope of log local "
    "density against log target, by the k-NN measure (k = 12, the old figure) and by the "
    "kernel-matched measure (balls holding about 20 points where the map is followed, target and "
    "count over the same piece of surface); the reference rows are independent points with exactly "
    "the map's density, so they show what each measure reads when the method is perfect.",
]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    one_thread(args)
    counts = [int(c) for c in args.counts.split(",")]
    makers: dict[str, Callable[[], Mesh]] = {"torus": torus, "icosphere": partial(icosphere, 5),
                                             "terrain": terrain}
    meshes = {name: makers[name]() for name in args.meshes.split(",")}
    report = Report(args.markdown, args.json)
    for line in header(argv, args):
        report.say(line)
    warm_up(meshes, args)
    tables = args.tables.split(",")
    if "density" in tables:  # first: it is short, and a run cut at 1M points keeps it
        density_table(report, torus(), counts, args)
        report.say()
    if "evenness" in tables:
        evenness_table(report, meshes, counts, args)
        report.say()
    met_lines(report)


if __name__ == "__main__":
    main()
