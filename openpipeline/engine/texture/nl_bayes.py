"""Non-Local Bayes denoising: the classical estimate that the denoiser is built on.

Lebrun, Buades & Morel, "A Nonlocal Bayesian Image Denoising Algorithm" (SIAM J.
Imaging Sciences 2013) and "Implementation of the Non-Local Bayes image denoising
algorithm" (IPOL 2013). Similar patches are grouped; each group is modelled as Gaussian
and every patch of it is replaced by its Bayes (Wiener) estimate:

* step 1, on the noisy image: ``P̂ = m + (C − Σ) C⁻¹ (P − m)``, with C the group's own
  covariance (here in the noise-whitened space with negative signal eigenvalues clipped);
* step 2, with step 1's output as the oracle: the groups are found again on it and
  ``P̂ = m + C_b (C_b + Σ)⁻¹ (P − m)``, C_b the covariance of the oracle's patches.

Our own implementation, vectorised in torch: the reference patches lie on a grid of stride
``stride`` (not the sequential "already processed" skip of the paper), the distances to
every candidate of a 41×41 search window come from squared differences summed over the
references' patches (down the columns, then along the rows), a strip of the image and a row
of offsets at a time (see :func:`_similar`), and the groups' covariances are batched matrix
products, eigendecompositions and Cholesky factors. The noise need not be white: Σ is the
patch covariance of a stationary noise model (:class:`.noise_model.NoiseModel`, from its
autocovariance), so correlated and JPEG'd noise are filtered with their own spectrum. Colour
is filtered in the noise model's orthonormal opponent space; the groups are found on the
luminance (as CBM3D groups on Y: on the tune split's colour crops this gained 0.3 dB on a
retina photograph at σ 25 and cost nothing elsewhere, at a third of the search time); step 1
filters each channel on its own, step 2 whole colour patches.

Patent status, as far as we know: NL-Bayes was published with open source code in
IPOL (2013) and we know of no patent on it; BM3D's block matching with collaborative
3-D transform filtering is patented and is not what this is.

Cost: at 128² about 0.4 s (grey) to 1 s (colour) on one thread; time grows with the pixels (see
:class:`NlBayesParams` for the knobs). Memory: the groups are found a strip of references at
a time and filtered :data:`CHUNK` references at a time; only a batch's patches are copied
out of the image, and each batch's estimates are added into per-pixel sums at once
(:class:`_Patches`), so no matrix of every patch is ever made.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from openpipeline.engine.texture.noise_model import NoiseModel

# Reference patches per batch. A batch's groups stay under ~10 MB (colour, 48 patches of
# 75 values), so glibc serves them from its heap instead of mapping fresh pages for each
# (4096 made 60 MB tensors, always mapped anew). With the sums added per batch, one thread:
# a 512² colour denoise 16.9 → 13.9 s (system time 3.8 → 1.3 s), peak RSS 1.19 → 0.83 GB; a
# 2048² colour texture through the CLI 434 → 355 s (system 98 → 27 s), peak RSS 1.63 → 1.18
# GB; the same output bytes in both. Reading each batch's patches from the image instead of
# a matrix of every patch (:class:`_Patches`): the 512² colour denoise's peak RSS 0.87 →
# 0.56 GB in the same time.
CHUNK = 512
LARGE = 256 * 256  # pixels above which the reference stride grows
RADIUS = 20  # search radius (see NlBayesParams.for_image)
# Squared differences per strip and row of offsets (see _strip_rows): a strip's (one channel,
# float32) for one row of offsets are about this many values, 2 MB, or a single reference row's
# on an image wider than that allows (k·41·W: 6.4 MB at 8192 wide). The strip's distances to
# every offset, (41², references in the strip), come to about 41/stride² times as many (9.5 MB
# at stride 3; 4 MB for a 512² tile at stride 4). Summing them at the references by k strided slices
# added (it was a cumulative sum down the columns, differenced, then a box sum along the rows,
# a strip of 4 reference rows at a time) made the search 3.2–3.4× faster on one thread (96²
# 187 → 65 ms, 128² 282 → 88, 256² 1123 → 390, 512² 3296 → 979), the groups the same up to
# float rounding (direct sums: more exact than a difference of cumulative sums); 2¹⁸–2²¹ were
# within 10 % of each other at every size.
# Patches are aggregated with equal weights. BM3D's (each group's estimate weighed by the inverse
# of its filter's noise gain, 1/‖F‖²) gained 0.06 and 0.04 dB on the tune split's colour and grey
# crops under white σ 15 (σ given), 0.01 and 0.00 under σ 25, and lost 0.13 on skin: not taken.
STRIP_VALUES = 1 << 19


@dataclass(frozen=True)
class NlBayesParams:
    """The knobs of one NL-Bayes run (patch side, group sizes, search radius, stride)."""

    patch: int = 5
    group1: int = 48
    group2: int = 48
    radius: int = RADIUS  # search window (2·radius+1)²; see for_image
    stride: int = 3
    beta1: float = 1.0
    beta2: float = 1.0
    gamma: float = 1.05  # a group whose variance is below gamma·σ² is flat: its mean

    @classmethod
    def for_image(cls, height: int, width: int) -> NlBayesParams:
        """Our defaults for an image of this size: reference patches every 3 pixels, every 4
        above 256² (35 % less time for 0.05 dB on our 128² crops; every 5 lost up to 0.1 dB
        at 512², every 6 up to 1 dB: a 5×5 patch no longer overlaps its neighbour).

        The search radius is 20 (a 41² window; it was 10): textures repeat at longer
        periods than photos, and on the tune split's crops, σ estimated, the mean Δ to
        CBM3D went from −0.27 to −0.05 dB at σ 15 and −0.29 to −0.07 at σ 25 (with the
        luminance search of the module doc; wood −1.5 → +0.3, brick −0.6 → −0.3), JPEG'd
        −0.02 → +0.17; radius 26 added 0.02 dB for 11 % more time at 512², 15 lost 0.05 dB.
        The strip search keeps a 512² colour texture at the radius-10 time. An image
        narrower than the window searches all of itself (reflect padding needs a pad under
        the side)."""
        radius = max(1, min(RADIUS, min(height, width) - 1))
        return cls(radius=radius, stride=3 if height * width <= LARGE else 4)


@dataclass(frozen=True, eq=False)
class _Grid:
    """Where the reference patches lie in the padded image and how to index candidates."""

    refs: torch.Tensor  # (R,) linear index of each reference's top-left corner among the patch positions
    rows: torch.Tensor  # the references' top rows in the unpadded image (R = rows × cols, row-major)
    cols: torch.Tensor  # their left columns: 0, stride, 2·stride, … and the last one
    positions_wide: int  # patch positions per row of the padded image
    pad: int


def _grid(height: int, width: int, params: NlBayesParams) -> _Grid:
    k, pad = params.patch, params.radius

    def starts(size: int) -> torch.Tensor:
        last = size - k
        points = list(range(0, last + 1, params.stride))
        if points[-1] != last:
            points.append(last)
        return torch.tensor(points)

    ys, xs = starts(height), starts(width)
    wide = width + 2 * pad - k + 1
    refs = ((ys[:, None] + pad) * wide + (xs[None] + pad)).reshape(-1)
    return _Grid(refs, ys, xs, wide, pad)


def _offsets(radius: int) -> list[tuple[int, int]]:
    return [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]


def _window_sums(values: torch.Tensor, starts: torch.Tensor, k: int, stride: int, dim: int) -> torch.Tensor:
    """Sums of ``k`` consecutive entries of ``values`` along ``dim`` from each of ``starts`` (a
    grid's: 0, stride, 2·stride, …, then maybe the last window): ``dim`` becomes len(starts)."""
    size = values.shape[dim]
    regular = (size - k) // stride + 1
    if len(starts) not in (regular, regular + 1):
        raise ValueError(f"{len(starts)} windows do not lie on a stride-{stride} grid of {size} entries")
    span = stride * (regular - 1) + 1
    at: list[slice] = [slice(None)] * values.dim()
    at[dim] = slice(0, span, stride)
    sums = values[tuple(at)].clone()
    for offset in range(1, k):  # k strided slices added: a reduction over unfold's last axis is slower
        at[dim] = slice(offset, offset + span, stride)
        sums += values[tuple(at)]
    if len(starts) > regular:
        sums = torch.cat([sums, values.narrow(dim, size - k, k).sum(dim, keepdim=True)], dim)
    return sums


def _strip_rows(width: int, params: NlBayesParams) -> int:
    """Reference rows per strip of the search: as many as keep a strip's squared differences
    for one row of offsets near :data:`STRIP_VALUES`, at least one."""
    side = 2 * params.radius + 1
    rows = STRIP_VALUES // (side * width)  # image rows that fit
    return max(1, (rows - params.patch) // params.stride + 1)


def _similar(search: torch.Tensor, grid: _Grid, params: NlBayesParams, count: int) -> torch.Tensor:
    """The ``count`` patch positions nearest to each reference (R, count), the reference first.

    ``search`` is the padded (C, Hp, Wp) image the distances are measured on. The image is
    taken in strips of reference rows (:func:`_strip_rows`: a strip's squared differences for a
    whole row of offsets stay in cache); for each row of offsets, the squared differences
    are summed over the references' patches, down the columns then along the rows, only at
    the references, not at every pixel.
    """
    k, pad, radius = params.patch, grid.pad, params.radius
    width = search.shape[-1] - 2 * pad
    side = 2 * radius + 1
    count = min(count, side * side)
    strip = _strip_rows(width, params)
    nearest = []
    for first in range(0, len(grid.rows), strip):
        chunk = grid.rows[first:first + strip]
        top, bottom = int(chunk[0]), int(chunk[-1]) + k
        core = search[:, pad + top:pad + bottom, None, pad:pad + width]  # (C, h, 1, W)
        distances = torch.empty((side, side, len(chunk), len(grid.cols)), dtype=search.dtype)
        for row, dy in enumerate(range(-radius, radius + 1)):
            band = search[:, pad + top + dy:pad + bottom + dy]
            shifted = band.unfold(2, width, 1)[:, :, pad - radius:pad + radius + 1]  # (C, h, side, W)
            squared = core - shifted
            squared = squared.mul_(squared).sum(0) if len(search) > 1 else squared.mul_(squared)[0]
            down = _window_sums(squared, chunk - top, k, params.stride, 0)  # (r, side, W)
            distances[row] = _window_sums(down, grid.cols, k, params.stride, 2).transpose(0, 1)
        distances = distances.reshape(side * side, -1)
        distances[(side * side) // 2] = -1.0  # the reference itself always comes first
        nearest.append(torch.topk(distances.T, count, dim=1, largest=False).indices)
    table = torch.tensor(_offsets(radius))
    shift = table[torch.cat(nearest)]  # (R, count, 2)
    return grid.refs[:, None] + shift[..., 0] * grid.positions_wide + shift[..., 1]


def _pad(image: torch.Tensor, pad: int, circular: bool) -> torch.Tensor:
    mode = "circular" if circular else "reflect"
    return F.pad(image[None], (pad,) * 4, mode=mode)[0]


class _Patches:
    """The k×k patches of a padded (C, Hp, Wp) image, read at given positions (indices into
    the (Hp−k+1)·(Wp−k+1) patch positions, row-major) and summed back at them.

    Only a batch's patches are ever copied out of the image (a strided view), and estimates
    are added straight into pixel sums: no matrix of every patch (~90 MB each for a 512²
    colour tile: the noisy image's, the oracle's and the estimates' sums in step 2)."""

    def __init__(self, padded: torch.Tensor, k: int) -> None:
        channels, hp, wp = (int(n) for n in padded.shape)
        self.k, self.size, self.wide = k, (hp, wp), wp - k + 1
        self.view = padded.unfold(1, k, 1).unfold(2, k, 1).permute(1, 2, 0, 3, 4)  # (Ph, Pw, C, k, k)
        c, i, j = torch.meshgrid(torch.arange(channels), torch.arange(k), torch.arange(k), indexing="ij")
        self.spread = (c * hp * wp + i * wp + j).reshape(-1)  # each patch value's offset from its corner
        self.sums = torch.zeros(channels * hp * wp, dtype=padded.dtype)
        self.counts = torch.zeros(self.wide * (hp - k + 1), dtype=padded.dtype)

    def read(self, where: torch.Tensor) -> torch.Tensor:
        """The patches at ``where`` (...,): (..., C·k²), in :func:`torch.nn.functional.unfold`'s order."""
        patches = self.view[where // self.wide, where % self.wide]
        return patches.reshape(*where.shape, -1)

    def add(self, estimates: torch.Tensor, where: torch.Tensor) -> None:
        """Add estimated patches (..., C·k²) at ``where`` (...,) into the sums."""
        corner = (where // self.wide) * self.size[1] + where % self.wide
        self.sums.index_add_(0, (corner[..., None] + self.spread).reshape(-1), estimates.reshape(-1))
        self.counts.index_add_(0, where.reshape(-1), torch.ones(where.numel(), dtype=estimates.dtype))

    def image(self) -> torch.Tensor:
        """The sums divided by how many patches covered each pixel: (C, Hp, Wp)."""
        hp, wp = self.size
        weight = F.fold(self.counts.expand(self.k * self.k, -1)[None], self.size, self.k)[0]
        return self.sums.reshape(-1, hp, wp) / weight.clamp_min(1e-8)


def _whitener(covariance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Σ^{-1/2} and Σ^{1/2} of a noise covariance (exactly diagonal when Σ is)."""
    if bool((covariance - torch.diag(covariance.diagonal())).abs().max() == 0):
        scale = covariance.diagonal().clamp_min(1e-12)
        return torch.diag(scale.rsqrt()), torch.diag(scale.sqrt())
    values, vectors = torch.linalg.eigh(covariance.double())
    values = values.clamp_min(values.max() * 1e-6)
    inverse = (vectors * values.rsqrt()) @ vectors.T
    root = (vectors * values.sqrt()) @ vectors.T
    return inverse.to(covariance.dtype), root.to(covariance.dtype)


def _step1_groups(groups: torch.Tensor, whiten: torch.Tensor, unwhiten: torch.Tensor,
                  params: NlBayesParams) -> torch.Tensor:
    """Step 1 on a batch of groups (B, N, d): the clipped Bayes estimate in the whitened space."""
    mean = groups.mean(dim=1, keepdim=True)
    centred = (groups - mean) @ whiten.T
    count = groups.shape[1]
    covariance = centred.transpose(1, 2) @ centred / max(count - 1, 1)
    values, vectors = torch.linalg.eigh(covariance)
    gain = (values - params.beta1).clamp_min(0.0) / values.clamp_min(1e-6)
    filtered = ((centred @ vectors) * gain[:, None]) @ vectors.transpose(1, 2)
    estimate = filtered @ unwhiten.T + mean
    flat = centred.pow(2).mean(dim=(1, 2)) < params.gamma
    return torch.where(flat[:, None, None], mean.expand_as(groups), estimate)


def _step2_groups(noisy: torch.Tensor, basic: torch.Tensor, whiten: torch.Tensor, unwhiten: torch.Tensor,
                  params: NlBayesParams) -> torch.Tensor:
    """Step 2 on a batch of groups (B, N, d): Wiener with the oracle's covariance.

    In the noise-whitened space the filter is ``C (C + β·I)⁻¹`` with ``C = BᵀB/(N−1)``, B the
    oracle's centred patches, i.e. ``(BᵀB + c·I)⁻¹ BᵀB = Bᵀ (B Bᵀ + c·I)⁻¹ B`` with
    ``c = (N−1)·β``: the first is a d×d system, the second an N×N one, and the smaller is
    factored and solved (one thread, batches of 512 groups of 48: grey 5×5 patches 21 →
    14 ms against the N×N system always). The N×N one is solved for ``B Pᵀ`` (N columns,
    P the centred patches) and the product taken after, ``((BBᵀ + c·I)⁻¹ B Pᵀ)ᵀ B``,
    rather than for B (d columns): colour 5×5 patches (d = 75) 86 → 55 ms a batch, the same
    to float32's rounding. Solved, not inverted: at σ under a level an
    explicit inverse lost up to 20 dB to rounding in float32. A group whose system is not
    positive definite in float32 (σ far under a level, the filter nearly the identity)
    keeps its noisy patches. ``whiten``/``unwhiten`` are (d,) scales for a diagonal noise
    covariance, or (d, d) matrices.
    """
    mean = basic.mean(dim=1, keepdim=True)
    oracle, centred = basic - mean, noisy - mean
    if whiten.dim() == 1:
        oracle, centred = oracle * whiten, centred * whiten
    else:
        oracle, centred = oracle @ whiten, centred @ whiten
    count, size = basic.shape[1], basic.shape[2]
    ridge = (count - 1) * params.beta2
    if size <= count:
        power = oracle.transpose(1, 2) @ oracle  # (B, d, d)
        system = power.clone()
        system.diagonal(dim1=1, dim2=2).add_(ridge)
        factor, info = torch.linalg.cholesky_ex(system)
        filtered = centred @ torch.cholesky_solve(power, factor)
    else:
        gram = oracle @ oracle.transpose(1, 2)  # (B, N, N)
        gram.diagonal(dim1=1, dim2=2).add_(ridge)
        factor, info = torch.linalg.cholesky_ex(gram)
        solved = torch.cholesky_solve(oracle @ centred.transpose(1, 2), factor)  # (B, N, N)
        filtered = solved.transpose(1, 2) @ oracle
    if bool((info > 0).any()):
        filtered = torch.where((info > 0)[:, None, None], centred, filtered)
    filtered = filtered * unwhiten if unwhiten.dim() == 1 else filtered @ unwhiten
    return filtered + mean


def _step1(image: torch.Tensor, noise: NoiseModel, params: NlBayesParams, circular: bool) -> torch.Tensor:
    """Step 1 over a (C, H, W) image in the noise model's colour space."""
    channels, height, width = image.shape
    k = params.patch
    padded = _pad(image, params.radius, circular)
    grid = _grid(height, width, params)
    where = _similar(padded[:1], grid, params, params.group1)
    out = torch.empty_like(padded)
    for c in range(channels):
        whiten, unwhiten = _whitener(noise.patch_covariance(k, c))
        patches = _Patches(padded[c:c + 1], k)
        for first in range(0, len(where), CHUNK):
            chosen = where[first:first + CHUNK]
            patches.add(_step1_groups(patches.read(chosen), whiten, unwhiten, params), chosen)
        out[c] = patches.image()[0]
    pad = params.radius
    return out[:, pad:pad + height, pad:pad + width]


def _step2_groups_of(oracle: torch.Tensor, params: NlBayesParams) -> torch.Tensor:
    """Step 2's groups on a padded (C, Hp, Wp) oracle, found on its luminance as step 1's:
    (references, group2) patch positions."""
    pad = params.radius
    grid = _grid(int(oracle.shape[1]) - 2 * pad, int(oracle.shape[2]) - 2 * pad, params)
    return _similar(oracle[:1], grid, params, params.group2)


def _step2(image: torch.Tensor, basic: torch.Tensor, noise: NoiseModel, params: NlBayesParams,
           circular: bool, groups: torch.Tensor | None = None) -> torch.Tensor:
    """Step 2 over a (C, H, W) image with step 1's estimate as the oracle, filtering
    ``groups`` (patch positions, from :func:`_step2_groups_of`) when given, else the groups
    found on the oracle."""
    _, height, width = image.shape
    k = params.patch
    padded, oracle = _pad(image, params.radius, circular), _pad(basic, params.radius, circular)
    where = _step2_groups_of(oracle, params) if groups is None else groups
    whiten, unwhiten = _whitener(noise.patch_covariance(k, None))
    if bool((whiten - torch.diag(whiten.diagonal())).abs().max() == 0):
        whiten, unwhiten = whiten.diagonal().contiguous(), unwhiten.diagonal().contiguous()
    noisy_patches, oracle_patches = _Patches(padded, k), _Patches(oracle, k)
    for first in range(0, len(where), CHUNK):
        chosen = where[first:first + CHUNK]
        estimate = _step2_groups(noisy_patches.read(chosen), oracle_patches.read(chosen), whiten, unwhiten,
                                 params)
        noisy_patches.add(estimate, chosen)
    out = noisy_patches.image()
    pad = params.radius
    return out[:, pad:pad + height, pad:pad + width]


def nl_bayes(noisy: torch.Tensor, noise: NoiseModel, circular: bool = False,
             params: NlBayesParams | None = None) -> torch.Tensor:
    """NL-Bayes estimate of a (1, C, H, W) image (0..1) with the given noise model.

    Returns:
        (1, C, H, W): step 2's estimate (see the module doc).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> clean = torch.linspace(0, 1, 48).expand(1, 1, 48, 48)
        >>> noisy = clean + 0.1 * torch.randn(clean.shape, generator=g)
        >>> out = nl_bayes(noisy, NoiseModel.white(0.1, 1))
        >>> bool(((out - clean) ** 2).mean() < 0.1 * ((noisy - clean) ** 2).mean())
        True
    """
    chosen = params or NlBayesParams.for_image(noisy.shape[-2], noisy.shape[-1])
    with torch.no_grad():
        image = noise.to_space(noisy.float())[0]
        basic = _step1(image, noise, chosen, circular)
        final = _step2(image, basic, noise, chosen, circular)
        return noise.from_space(final[None])


def nl_bayes_basic(noisy: torch.Tensor, noise: NoiseModel, circular: bool = False,
                   params: NlBayesParams | None = None) -> torch.Tensor:
    """Step 1 alone (the oracle of step 2), as a (1, C, H, W) image."""
    chosen = params or NlBayesParams.for_image(noisy.shape[-2], noisy.shape[-1])
    with torch.no_grad():
        image = noise.to_space(noisy.float())[0]
        return noise.from_space(_step1(image, noise, chosen, circular)[None])


def nl_bayes_refine(noisy: torch.Tensor, oracle: torch.Tensor, noise: NoiseModel, circular: bool = False,
                    params: NlBayesParams | None = None, groups: torch.Tensor | None = None) -> torch.Tensor:
    """Step 2 alone with any (1, C, H, W) oracle (a sliding-DCT estimate, or a previous
    step 2): groups found on the oracle (or ``groups``, from :func:`nl_bayes_groups` on an
    earlier, similar oracle), each filtered with its covariance."""
    chosen = params or NlBayesParams.for_image(noisy.shape[-2], noisy.shape[-1])
    with torch.no_grad():
        image = noise.to_space(noisy.float())[0]
        pilot = noise.to_space(oracle.float())[0]
        estimate = _step2(image, pilot, noise, chosen, circular, groups)
        return noise.from_space(estimate[None])


def nl_bayes_groups(oracle: torch.Tensor, circular: bool = False,
                    params: NlBayesParams | None = None) -> torch.Tensor:
    """The groups :func:`nl_bayes_refine` finds on a (1, C, H, W) oracle, to pass back to it
    while the oracle changes little (an iteration's estimates): the search is then made once
    for several refinements. The groups are found on the opponent luminance, the same for
    every noise model."""
    chosen = params or NlBayesParams.for_image(oracle.shape[-2], oracle.shape[-1])
    with torch.no_grad():
        pilot = NoiseModel.white(1.0, int(oracle.shape[1])).to_space(oracle.float())[0]
        return _step2_groups_of(_pad(pilot, chosen.radius, circular), chosen)
