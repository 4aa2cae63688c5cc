"""A non-local fill of missing pixels: each patch's gaps from a Gaussian fitted to its look-alikes.

Textures repeat, so the best evidence for a hole is elsewhere in the same image.
:func:`patch_fill` refines a first fill (the DCT-thresholded one of :mod:`.sparse_fill`):

1. every 7×7 patch that holds a missing pixel (every 2nd position) is compared with every
   patch of the image (within :data:`SEARCH_RADIUS` positions: exhaustive at 128²), on its
   known pixels at full weight and on its filled ones at :data:`FILLED_WEIGHT`, by brute
   force (matrix products: no PatchMatch-style random search);
2. its :data:`GROUP` nearest patches give a mean and a covariance per colour channel (in the
   opponent colours of :mod:`.dct_filters`), and the patch's missing pixels become their
   Gaussian conditional expectation given its known ones, ``μᵤ + Σᵤₖ (Σₖₖ + εI)⁻¹ (xₖ − μₖ)``
   — the patch-group Gaussian model of NL-Bayes (Lebrun, Buades & Morel, SIAM J. Imaging
   Sciences 2013) used for missing data rather than noise;
3. the overlapping patches' estimates are averaged (as in the variational non-local
   inpainting of Arias, Facciolo, Caselles & Sapiro, IJCV 2011), the known pixels put back,
   and the whole repeated :data:`ROUNDS` times with the new fill.

It is not Criminisi et al.'s exemplar inpainting (no fill front, no priority order, no
copying of single patches) and not PatchMatch. Patents: to our knowledge none of the
methods above is covered by a patent in force.

Cost at 128² (one thread): about 1 s (grey) to 3 s (colour) for 50 % random holes, a
third of that for brush strokes; on tiles over 160² the search is narrower
(:data:`INPAINT_LARGE_SEARCH_RADIUS`) and the cost linear in the area: a 384² colour image
with 50 % holes about 8 s, with strokes 5–6 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from openpipeline.engine.texture.dct_filters import _from_colour, _to_colour, colour_matrix

PATCH = 7
GROUP = 64  # nearest patches per group (the patch itself excluded)
ROUNDS = 2  # search-and-fill rounds (a third: +0.1 dB on the tuning split, 1.5× the time)
FILLED_WEIGHT = 0.5  # a filled pixel's weight in the patch distance (a known one: 1)
RIDGE = 1e-5  # ε: added to the known pixels' variances (0..1 units) so the solve is stable
QUERY_STRIDE = 2  # every 2nd patch position (each pixel still lies in about 12 of them)
SEARCH_RADIUS = 64  # candidate patch positions within this many of a query's, each way
BLOCK = 16  # query positions per side of a block searched at once (memory: ~1 MB per row)
WIENER_BATCH = 512  # groups filtered at a time by group_wiener (all at once, a 128² colour image's
# covariances took ~0.4 GB: a ×4 upscale to 128² peaked at 0.74 GB)
# Inpainting's patch stages run in full (the patch fill searching within SEARCH_RADIUS, then
# NL-Bayes' plug-and-play refinement) on images of at most this many pixels (160²), with
# six shifted stroke sets or three random draws in the check (see .sparse_fill): a 128²
# colour crop takes 12–19 s of one thread. Up to INPAINT_PATCH_MAX_PIXELS the patch fill
# alone runs, with the narrower search. (Upscaling's limit is UPSCALE_PATCH_MAX_PIXELS.)
PATCH_MAX_PIXELS = 160 * 160
# Upscaling runs its patch stages on larger tiles, up to this many output pixels (256²), with
# the look-alike search of :func:`.sparse_fill._patch_back_projection` narrowed to
# LARGE_SEARCH_RADIUS above PATCH_MAX_PIXELS. On six 256² crops of the texture set (×4 from 64²), one thread:
# over aligned bicubic +0.46 dB on average (+0.27 to +0.74) without them in 2–5 s, +1.00
# (+0.40 to +1.85) with them in 28–71 s; radius 32 instead of 64 changed no crop by more
# than 0.01 dB and took a fifth less time. Above 256² they would cost ~15× the sparse
# back-projection's time (a 512² colour output ~4 minutes of one thread), so a larger
# output keeps the sparse back-projection alone.
UPSCALE_PATCH_MAX_PIXELS = 256 * 256
LARGE_SEARCH_RADIUS = 32
# Inpainting tiles over PATCH_MAX_PIXELS, up to this many pixels (512², the default tile), get
# the patch fill with its look-alikes searched within INPAINT_LARGE_SEARCH_RADIUS positions,
# and no plug-and-play refinement. On 384² centre crops (one thread; patch fill alone from the
# thresholded fill, PSNR in the holes): radius 16 instead of 64 was within 0.03 dB on every
# tune crop with strokes and 0.1–0.3 dB lower with 50 % holes, at a third to a half of the
# time (grey 50 % holes 23 → 8 s). The whole fill (check and fill, :func:`.sparse_fill.inpaint_guide`)
# with it against without, over biharmonic: tune strokes +1.06 → +1.39 dB (11 crops; one
# 0.03 lower, the rest +0.05 to +0.69 higher), 50 % holes +1.32 → +2.24 (6 crops, none lower);
# held-out strokes +0.78 → +1.16 (7 crops, every one higher), 50 % holes +0.89 → +1.91
# (none lower, up to +4.98); at 1.4–2.2× the time with strokes and 2.2–5.4× with 50 % holes
# (a 512² colour tile with strokes 53 → 94 s, with 50 % holes 32 → 127 s). The check's
# fills fill only the patches over its held-out pixels (``read``): 15–30 % of its time (with dense
# holes those pixels lie in a quarter of the tile since texture-15: .sparse_fill.CHECK_BLOCK).
INPAINT_PATCH_MAX_PIXELS = 512 * 512
INPAINT_LARGE_SEARCH_RADIUS = 16
# Called after every step of a fill (progress, and the caller's chance to cancel).
Tick = Callable[[], None]


def _no_tick() -> None:
    """The default tick: nothing."""


def _positions(length: int, stride: int) -> torch.Tensor:
    """Patch positions 0, stride, … along one side, the last one always included."""
    grid = torch.arange(0, length, stride)
    if int(grid[-1]) != length - 1:
        grid = torch.cat([grid, torch.tensor([length - 1])])
    return grid


class _Patches:
    """The patches of one round: values, distance weights and known flags, one row per position."""

    def __init__(self, estimate: torch.Tensor, known: torch.Tensor) -> None:
        channels = int(estimate.shape[1])
        weight = known + FILLED_WEIGHT * (1 - known)
        self.values = F.unfold(estimate, PATCH)[0].T.contiguous()  # (N, C·p²), channel-major
        self.squares = self.values**2  # read by every block's search: squared once per round
        self.weights = F.unfold(weight, PATCH)[0].T.repeat(1, channels).contiguous()
        self.known = F.unfold(known, PATCH)[0].T.repeat(1, channels).contiguous()
        self.channels = channels

    def nearest(self, queries: torch.Tensor, candidates: torch.Tensor, group: int = GROUP) -> torch.Tensor:
        """For each query position, the ``group`` candidate positions nearest by the
        weighted distance (itself excluded): (n, k) positions. ``candidates`` must be in
        ascending order (as :func:`_query_blocks` makes them): a query's own position is
        found among them by a binary search."""
        query, weight = self.values[queries], self.weights[queries]
        distance = (weight * query**2).sum(1, keepdim=True) - 2 * (weight * query) @ self.values[candidates].T
        distance += weight @ self.squares[candidates].T
        # each query's own position among the (ascending) candidates, if there: not its own match
        at = torch.searchsorted(candidates, queries).clamp_max(int(candidates.numel()) - 1)
        own = candidates[at] == queries
        distance[torch.arange(int(queries.numel()))[own], at[own]] = float("inf")
        count = min(group, int(candidates.numel()) - 1)
        return candidates[torch.topk(distance, count, dim=1, largest=False).indices]

    def conditional(self, queries: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """The queries' patches with their missing pixels replaced by the Gaussian
        conditional expectation under their groups' mean and covariance, per channel."""
        n, size, channels = int(queries.numel()), PATCH * PATCH, self.channels
        mean, covariance = _group_moments(self.values, groups, channels)
        query = self.values[queries].reshape(n * channels, size)
        known = self.known[queries].reshape(n * channels, size)
        system = known[:, :, None] * covariance * known[:, None, :]
        system = system + torch.diag_embed(1 - known + RIDGE * known)
        weights = torch.linalg.solve(system, (known * (query - mean))[..., None])
        estimate = mean + (covariance @ weights)[..., 0]
        filled: torch.Tensor = (known * query + (1 - known) * estimate).reshape(n, channels * size)
        return filled


def _group_centred(values: torch.Tensor, groups: torch.Tensor,
                   channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean (n·C, p²) of each group's patches and the patches less it (n·C, k, p²), per
    channel: ``values`` (N, C·p²) the patches, channel-major; ``groups`` (n, k) their positions."""
    n, k, size = int(groups.shape[0]), int(groups.shape[1]), PATCH * PATCH
    members = values[groups].reshape(n, k, channels, size).transpose(1, 2).reshape(n * channels, k, size)
    mean = members.mean(1)
    return mean, members - mean[:, None]


def _group_moments(values: torch.Tensor, groups: torch.Tensor,
                   channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean (n·C, p²) and covariance (n·C, p², p²) of each group's patches, per channel
    (see :func:`_group_centred`)."""
    mean, centred = _group_centred(values, groups, channels)
    return mean, centred.transpose(1, 2) @ centred / max(int(groups.shape[1]) - 1, 1)


def _pulled(values: torch.Tensor, members: torch.Tensor, query: torch.Tensor, channels: int,
            sigma: float) -> torch.Tensor:
    """``μ + Σ (Σ + σ²I)⁻¹ (x − μ)`` for each group's query patch ``x`` (n·C, p²), with
    ``Σ = BᵀB / m`` the covariance of the group's k centred patches ``B`` (k, p²), m = k − 1.

    ``Σ (Σ + σ²I)⁻¹ = Bᵀ (BBᵀ + m·σ²I)⁻¹ B`` for any k: the k×k Gram system is solved instead
    of the p²×p² one, smaller for the groups of 32 patches of 7×7 the upscaler makes (the same
    values; a 128² colour ×4 upscale 19.7 → 14.4 s on one thread)."""
    mean, centred = _group_centred(values, members, channels)
    gram = centred @ centred.transpose(1, 2)
    gram.diagonal(dim1=1, dim2=2).add_(max(int(members.shape[1]) - 1, 1) * sigma**2)
    factor, info = torch.linalg.cholesky_ex(gram)
    weights = torch.cholesky_solve((centred @ (query - mean)[..., None]), factor)
    pulled = mean + (centred.transpose(1, 2) @ weights)[..., 0]
    bad = info > 0  # a Gram matrix not positive definite in float32 (σ ≈ 0): the patch stays
    return torch.where(bad[:, None], query, pulled)


def _query_blocks(wanted: torch.Tensor,
                  radius: int = SEARCH_RADIUS) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(query positions, candidate positions) per block of query positions: queries every
    :data:`QUERY_STRIDE` positions where ``wanted`` (rows, cols) holds; candidates every
    position within ``radius`` of the block."""
    rows, cols = int(wanted.shape[0]), int(wanted.shape[1])
    query_rows, query_cols = _positions(rows, QUERY_STRIDE), _positions(cols, QUERY_STRIDE)
    blocks = []
    for top in range(0, len(query_rows), BLOCK):
        for left in range(0, len(query_cols), BLOCK):
            block_rows, block_cols = query_rows[top:top + BLOCK], query_cols[left:left + BLOCK]
            mask = wanted[block_rows][:, block_cols]
            if not bool(mask.any()):
                continue
            queries = (block_rows[:, None] * cols + block_cols[None, :])[mask]
            near_rows = torch.arange(max(int(block_rows[0]) - radius, 0),
                                     min(int(block_rows[-1]) + radius + 1, rows))
            near_cols = torch.arange(max(int(block_cols[0]) - radius, 0),
                                     min(int(block_cols[-1]) + radius + 1, cols))
            blocks.append((queries, (near_rows[:, None] * cols + near_cols[None, :]).reshape(-1)))
    return blocks


def _with_holes(known: torch.Tensor) -> torch.Tensor:
    """The (rows, cols) patch positions whose patch holds a missing pixel."""
    rows, cols = int(known.shape[2]) - PATCH + 1, int(known.shape[3]) - PATCH + 1
    return F.unfold(1 - known, PATCH)[0].sum(0).reshape(rows, cols) > 0


def _fill_round(image: torch.Tensor, known: torch.Tensor, estimate: torch.Tensor,
                blocks: list[tuple[torch.Tensor, torch.Tensor]], tick: Tick) -> torch.Tensor:
    """One search-and-fill round (in the colour space of ``image``; see the module doc)."""
    height, width = int(image.shape[2]), int(image.shape[3])
    patches = _Patches(estimate, known)
    votes = torch.zeros_like(patches.values)
    voted = torch.zeros((patches.values.shape[0], 1), dtype=image.dtype)
    for queries, candidates in blocks:
        votes[queries] = patches.conditional(queries, patches.nearest(queries, candidates))
        voted[queries] = 1.0
        tick()
    averaged = _averaged(votes, voted, (height, width), estimate)
    return known * image + (1 - known) * averaged


def _averaged(votes: torch.Tensor, voted: torch.Tensor, size: tuple[int, int],
              fallback: torch.Tensor) -> torch.Tensor:
    """Patches (N, C·p²) put back into a (1, C, H, W) image of ``size``, overlapping ones
    averaged; only the patches where ``voted`` (N, 1) is 1 count, ``fallback`` where none did."""
    total = F.fold(votes.T[None], size, PATCH)
    count = F.fold(voted.expand(-1, PATCH * PATCH).T[None].contiguous(), size, PATCH)
    return torch.where(count > 0, total / count.clamp_min(1e-8), fallback)


def patch_fill(image: torch.Tensor, known: torch.Tensor, start: torch.Tensor,
               tick: Tick = _no_tick, radius: int = SEARCH_RADIUS,
               read: torch.Tensor | None = None) -> torch.Tensor:
    """Refine the fill ``start`` of a (1, C, H, W) image's unknown pixels (``known``
    (1, 1, H, W), 1 where known) non-locally (see the module doc); in 0..1, known pixels
    unchanged. ``tick`` is called after every block of patches (progress, cancel); look-alikes
    are searched within ``radius`` positions.

    ``read`` (1, 1, H, W), 1 on the only missing pixels the caller will read (a check's
    held-out ones): only the patches that hold one are filled, the other missing pixels keep
    ``start``. The first round gives those pixels exactly the values of a whole fill (every
    patch over them holds one); the second searches look-alikes among patches partly filled
    by ``start`` instead of the first round.

    An image with a side under 8 pixels, or without a known or a missing pixel, gets
    ``start`` back.

    Example:
        >>> stripes = (torch.arange(48) % 6 < 3).float().expand(1, 1, 48, 48).contiguous()
        >>> known = torch.ones((1, 1, 48, 48)); known[..., 20:23, 10:40] = 0
        >>> flat = stripes * known + 0.5 * (1 - known)
        >>> bool((patch_fill(stripes * known, known, flat) - stripes).abs().max() < 0.05)
        True
    """
    known = (known > 0.5).to(image.dtype)
    if min(image.shape[2:]) <= PATCH or float(known.min()) > 0.5 or float(known.max()) < 0.5:
        return start
    matrix = colour_matrix(int(image.shape[1]))
    target, estimate = _to_colour(image, matrix), _to_colour(start, matrix)
    wanted = _with_holes(known)
    if read is not None:
        read = (read > 0.5).to(image.dtype) * (1 - known)  # missing pixels only
        if float(read.max()) < 0.5:
            return start
        wanted &= _with_holes(1 - read)
    blocks = _query_blocks(wanted, radius)
    with torch.no_grad():
        for _ in range(ROUNDS):
            estimate = _fill_round(target, known, estimate, blocks, tick)
    filled = _from_colour(estimate, matrix).clamp(0, 1)
    return (known * image + (1 - known) * filled).contiguous()


# -- the same patch groups as a prior for upscaling --------------------------------------------
SHARPEN_GROUP = 32  # patches per group (the patch itself included)


@dataclass(frozen=True)
class PatchGroups:
    """Every :data:`QUERY_STRIDE`-th patch position of an image and its look-alikes:
    ``queries`` (n,), ``members`` (n, k) positions, the query first."""

    queries: torch.Tensor
    members: torch.Tensor


def similar_patches(image: torch.Tensor, tick: Tick = _no_tick, radius: int = SEARCH_RADIUS) -> PatchGroups:
    """The groups of :data:`SHARPEN_GROUP` look-alike 7×7 patches of a (1, C, H, W) image
    (in the colour space it is in; brute force within ``radius`` positions each way)."""
    rows, cols = int(image.shape[2]) - PATCH + 1, int(image.shape[3]) - PATCH + 1
    patches = _Patches(image, torch.ones_like(image[:, :1]))
    queries, members = [], []
    with torch.no_grad():
        for block_queries, candidates in _query_blocks(torch.ones((rows, cols), dtype=torch.bool), radius):
            nearest = patches.nearest(block_queries, candidates, SHARPEN_GROUP - 1)
            queries.append(block_queries)
            members.append(torch.cat([block_queries[:, None], nearest], 1))
            tick()
    return PatchGroups(torch.cat(queries), torch.cat(members))


def group_wiener(image: torch.Tensor, groups: PatchGroups, sigma: float) -> torch.Tensor:
    """Each grouped patch of a (1, C, H, W) image pulled towards its group's Gaussian,
    ``μ + Σ (Σ + σ²I)⁻¹ (x − μ)`` per channel (the collaborative Wiener step of NL-Bayes,
    the group's own covariance as the prior), the overlapping patches averaged."""
    channels, height, width = int(image.shape[1]), int(image.shape[2]), int(image.shape[3])
    size = PATCH * PATCH
    values = F.unfold(image, PATCH)[0].T
    votes = torch.zeros_like(values)
    for first in range(0, int(groups.members.shape[0]), WIENER_BATCH):
        queries = groups.queries[first:first + WIENER_BATCH]
        query = values[queries].reshape(-1, size)
        votes[queries] = _pulled(values, groups.members[first:first + WIENER_BATCH], query, channels,
                                 sigma).reshape(len(queries), channels * size)
    voted = torch.zeros((values.shape[0], 1), dtype=image.dtype)
    voted[groups.queries] = 1.0
    return _averaged(votes, voted, (height, width), image)
