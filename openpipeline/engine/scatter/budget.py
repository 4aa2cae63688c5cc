"""What a scatter job will cost, worked out before it starts, and the limits it must fit in.

The memory estimate counts the arrays each method holds at its peak (bytes on top of the
process that runs it; N points, F faces). The peak is the largest of these moments:

* *annealing* (``batch-ng``'s coarsest level, n₀ = min(N, ``multigrid_base``) points):
  each of its m·n₀ samples (m = ``samples_per_point``) keeps its k = 14 nearest
  prototypes as distances, indices, weights and weighted coordinates (4 arrays of k
  8-byte values) beside its position: ``n₀ · m · (32 k + 24)``;
* *sampling* the last level's s samples a point (``batch-ng``: m on one level,
  ``fine_samples_per_point`` above it; ``online-ng`` and ``gng``: the 8 hints a point):
  ``N · s · (SAMPLE_BYTES·o + HINT_BYTES)``, the temporaries of drawing each sample
  (o = 1; with a density map o = ``DENSITY_SAMPLE_FACTOR``: 4 candidates a sample and
  their bilinear lookups through the map) and the kept samples with their k-d tree;
* *projecting* the N points onto the surface beside those s hints:
  ``N · (PROJECT_BYTES + s · HINT_BYTES)``, 8 candidate triangles a point with about 64
  float64 of Ericson's closest-point temporaries each (a closed mesh's exact polish keeps
  2 hints a point, not s).

``gng`` adds ``GNG_NODE_BYTES`` a node (its edges in dictionaries and sets). Every method
adds ``MESH_BYTES`` per face (the sampler's arrays, welding, normals), ``FIXED_BYTES``
(allocator slack, k-d tree buffers) and ``SUMMARY_BYTES`` (the command's evenness summary,
200,000 probe samples with their triangles).

Checked against the peak RSS of the command measured in a fresh process (above the
process's own, after a first small job; 2 shared CPU cores), estimate / measured:

=============================  ==============  ================
job                            10,000 points   100,000 points
=============================  ==============  ================
batch-ng, open plane           124 / 63 MB     587 / 444 MB
batch-ng, closed icosphere     128 / 64 MB     503 / 390 MB
batch-ng, plane, density map   215 / 112 MB    1298 / 922 MB
online-ng, open plane          117 / 43 MB     565 / 423 MB
gng, open plane (3,000)        86 / 32 MB
=============================  ==============  ================

``tests/test_scatter_properties.py`` checks the estimate against the measured peak of
every job it generates.

The time estimate is ``SECONDS_PER_POINT`` of the method times N, and for ``gng``
``GNG_SECONDS_PER_POINT_SQUARED`` times N² (two CPU cores, measured).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from openpipeline.engine.errors import EngineInputError

ANNEAL_NEIGHBOURS = 14  # k of batch-NG's first epoch: ceil(2 · ln 1000)
SAMPLE_BYTES = 160  # temporaries of drawing one uniform sample (indices, u, v, positions)
DENSITY_SAMPLE_FACTOR = 7  # with a density map: 4 candidates a sample and their map lookups
HINT_BYTES = 110  # a kept sample (position, face, barycentrics: 56) and its share of a k-d tree
PROJECT_BYTES = 4096  # projecting one point: 8 candidate triangles × 64 float64
GNG_NODE_BYTES = 1200  # a growing-gas node: its edges in two dictionaries and a set
MESH_BYTES = 1200  # per face: the sampler's arrays, welding, vertex normals
FIXED_BYTES = 24 * 2**20  # allocator slack, k-d tree buffers, thread stacks
SUMMARY_BYTES = 200_000 * 200  # the command's evenness summary: 200,000 probe samples
SECONDS_PER_POINT = {"batch-ng": 150e-6, "online-ng": 100e-6}  # two CPU cores
GNG_SECONDS_PER_POINT_SQUARED = 6e-6  # gng finds each sample's nearest node among all of them
DEFAULT_MAX_POINTS = 100_000_000  # about three hours of batch-ng on two cores
COSTED_POINTS = 10**30  # larger counts are costed as this many (no float overflow)

UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


@dataclass(frozen=True)
class Cost:
    """What a job is expected to take: peak memory (bytes) and time (seconds)."""

    memory: float
    seconds: float


def estimate(count: int, method: str, faces: int, density: bool, *, samples_per_point: int = 12,
             fine_samples_per_point: int = 10, coarse: int | None = None, closed: bool = False) -> Cost:
    """The peak memory and the time of scattering ``count`` points (see the module's formula).

    Args:
        coarse: the points of batch-ng's coarsest level (default: all of them).
        closed: a closed mesh. With an even density batch-ng keeps 2 hints a point; open meshes
            and density maps are still counted with the sampled polish's hints (an
            over-estimate since they too are polished exactly, from a larger coarsest level).

    Counts above ``COSTED_POINTS`` are costed as that many (they are refused either way).

    >>> round(estimate(10_000, "batch-ng", 2048, False).memory / 1e6)
    124
    """
    count = min(count, COSTED_POINTS)
    sample = SAMPLE_BYTES * (DENSITY_SAMPLE_FACTOR if density else 1)
    anneal = 0
    if method == "batch-ng":
        n0 = count if coarse is None else min(coarse, count)
        anneal = n0 * samples_per_point * (32 * ANNEAL_NEIGHBOURS + 24)
        per_point = samples_per_point if n0 >= count else fine_samples_per_point
    else:
        per_point = 8
    sampling = count * per_point * (sample + HINT_BYTES)
    kept = 2 if method == "batch-ng" and closed and not density else per_point
    project = count * (PROJECT_BYTES + kept * HINT_BYTES)
    gas = GNG_NODE_BYTES * count if method == "gng" else 0
    fixed = MESH_BYTES * faces + FIXED_BYTES + SUMMARY_BYTES
    memory = float(max(anneal, sampling, project) + gas + fixed)
    if method == "gng":
        return Cost(memory, GNG_SECONDS_PER_POINT_SQUARED * float(count) ** 2)
    return Cost(memory, SECONDS_PER_POINT.get(method, SECONDS_PER_POINT["batch-ng"]) * count)


def available_memory() -> int | None:
    """The memory this machine can give a new job now (MemAvailable), in bytes; None if unknown.

    Cost: reading /proc/meminfo.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def parse_size(text: str) -> int:
    """A memory size such as ``4G``, ``512M``, ``1.5T`` or ``4GiB`` in bytes (binary units).

    >>> parse_size("4G"), parse_size("512MB"), parse_size("1000")
    (4294967296, 536870912, 1000)
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise EngineInputError(f"Memory size '{text}' is not understood; write it like 4G or 512M.")
    size = float(match.group(1)) * UNITS[match.group(2).upper()]
    if not 1 <= size < 2**63:
        raise EngineInputError(f"Memory size '{text}' must be at least 1 byte.")
    return int(size)


def human_bytes(size: float) -> str:
    """``size`` in B, KB... PB, three figures.

    >>> human_bytes(3.2e9), human_bytes(1.5e21)
    ('3.2 GB', '1.5e+06 PB')
    """
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000:
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} PB"


def human_seconds(seconds: float) -> str:
    """A duration in s, minutes, hours or days, two figures.

    >>> human_seconds(90), human_seconds(7200), human_seconds(3e7)
    ('1.5 minutes', '2 hours', '3.5e+02 days')
    """
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 1.5 * size:
            return f"{seconds / size:.2g} {unit}"
    return f"{seconds:.2g} s"


def check_cost(count: int, cost: Cost, method: str, max_memory: int | None,
               max_points: int | None) -> None:
    """Refuse a job over the point limit or the memory limit, with the numbers, before it starts.

    ``max_memory`` None means the memory available now; ``max_points`` None means
    :data:`DEFAULT_MAX_POINTS`.
    """
    limit_points = DEFAULT_MAX_POINTS if max_points is None else max_points
    limit = available_memory() if max_memory is None else max_memory
    over = []
    if count > limit_points:
        over.append((f"the limit of {limit_points:,} points", "--max-points"))
    if limit is not None and cost.memory > limit:
        where = "the memory limit set" if max_memory is not None else "the memory available"
        over.append((f"{where} ({human_bytes(limit)})", "--max-memory"))
    if over:
        raise EngineInputError(
            f"{count:,} points ({method}) need about {human_bytes(cost.memory)} of memory and "
            f"{human_seconds(cost.seconds)}, over {' and '.join(what for what, _ in over)}; use "
            f"fewer points (or a larger spacing), or raise {' and '.join(o for _, o in over)}."
        )
