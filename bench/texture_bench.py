"""The texture-set parts of the DIP benchmark: ``dip_bench.py --part textures | textures-fill``.

Denoising (``textures``): every crop of a split (:mod:`texture_set`) × noise kind, one thread:

* **input**: the noisy image's PSNR;
* **guide**: the engine's classical estimate: ``RestoreResult.guide`` when the engine returns
  it, else the sliding-DCT estimate (:func:`.dct_filters.dct_denoise`) at the σ the engine used
  (its own estimate);
* **ours**: :func:`openpipeline.engine.texture.restore` as the CLI runs it: nothing given
  (σ estimated, stopping by itself, the default time cap), one thread;
* **CBM3D**: PyPI ``bm3d`` given the TRUE σ (``bm3d`` grey, ``bm3d_rgb`` colour; the
  correlated noise gets its white σ 15, as a user would give); for comparison only, never
  a dependency (non-commercial licence), and the column is left out when it is not installed.

Inpainting and upscaling (``textures-fill``): 50 % random holes and brush-stroke masks
against scikit-image's biharmonic fill; ×4 upscaling of a Lanczos-downsampled crop
against bicubic on the downsampler's grid. Every PSNR is over the whole crop.

Rows are dicts (``--json`` appends them); :func:`denoise_markdown` and :func:`fill_markdown`
turn them into the sections of ``bench/results_dip.md`` (:func:`write_section`).
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import texture_set
import torch
from dip_bench import DENOISE_KINDS, aligned_bicubic, psnr, tensor
from texture_set import Crop

from openpipeline.engine.allocator import keep_freed_memory
from openpipeline.engine.texture import RestoreParams, restore
from openpipeline.engine.texture.dct_filters import dct_denoise
from openpipeline.engine.texture.network import lanczos_downsampler
from openpipeline.engine.texture.noise_level import estimate_sigma

Row = dict[str, Any]
LARGE_KINDS = ("white25",)  # the 512² crops: the speed target, one kind
FILL_MASKS = ("holes50", "strokes")
# What a fit's stop reason says when it did not stop by itself.
NOT_BY_ITSELF = ("time budget", "time cap", "iterations", "time budget (classical estimate)")
TARGETS = {"white3": -0.1, "white5": -0.1, "white15": -0.1, "white25": -0.1, "jpeg": -0.1, "jpeg75": -0.1,
           "jpeg90": -0.1, "correlated": 0.0, "correlated_fine": 0.0, "correlated_jpeg": 0.0, "bayer": 0.0}
# Kinds whose rows also run ours with the TRUE σ given (``--sigma``): the issue's "with nothing
# given, within 0.3 dB of the result with the true σ" on correlated noise (finer grain too, also
# after a JPEG, and a raw camera's demosaiced noise, given its RMS σ).
TRUE_SIGMA_KINDS = ("correlated", "correlated_fine", "correlated_jpeg", "bayer")
TRUE_SIGMA_GAP = 0.3


class Stopwatch:
    """Wall and CPU seconds of a block. The CPU seconds are this process's, which runs one
    thread, so they do not grow when other processes share the cores (the wall seconds do)."""

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self.wall = self.cpu = float("nan")
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


def seconds(row: Row, who: str) -> float:
    """A row's CPU seconds for ``who`` (ours, cbm3d, classic), or its wall seconds in rows without them."""
    value = row.get(f"{who}_cpu_s")
    return float(value if value is not None else row[f"{who}_s"])


def noise_seed(crop: Crop, kind: str) -> int:
    """The noise seed of one crop and kind: fixed, and different for every pair."""
    return zlib.crc32(f"{crop.name}|{kind}".encode())


def _lookup(split: str, size: int, name: str) -> Crop:
    for crop in texture_set.crops(split, size):
        if crop.name == name:
            return crop
    raise KeyError(name)


def cbm3d(noisy: np.ndarray, sigma: float) -> tuple[np.ndarray | None, Stopwatch]:
    """CBM3D's estimate given σ (8-bit levels) and its time; None without ``bm3d``."""
    with Stopwatch() as watch:
        try:
            import bm3d
        except ImportError:
            return None, watch
        if noisy.shape[2] == 1:
            estimate = np.asarray(bm3d.bm3d(noisy[..., 0], sigma / 255))[..., None]
        else:
            estimate = np.asarray(bm3d.bm3d_rgb(noisy, sigma / 255))
    return estimate, watch


def guide_of(result: Any, noisy: np.ndarray) -> tuple[np.ndarray, float]:
    """The engine's classical guide and the seconds it took (0 when the engine returned it)."""
    guide = getattr(result, "guide", None)
    if guide is not None:
        return np.asarray(guide), 0.0
    sigma = result.stats.get("sigma")
    start = time.perf_counter()
    level = sigma / 255 if sigma else estimate_sigma(noisy)
    with torch.no_grad():
        estimate = dct_denoise(tensor(noisy), level).clamp(0, 1)[0].numpy().transpose(1, 2, 0)
    return estimate, time.perf_counter() - start


def denoise_case(split: str, size: int, name: str, kind: str) -> Row:
    """One crop × noise kind: input, guide, ours and CBM3D, each with its PSNR and seconds."""
    torch.set_num_threads(1)
    crop = _lookup(split, size, name)
    clean = crop.image
    noisy, sigma = texture_set.add_noise(clean, kind, noise_seed(crop, kind))
    with Stopwatch() as watch:
        ours = restore(noisy, RestoreParams(operation="denoise", threads=1))
    guide, guide_s = guide_of(ours, noisy)
    given = None
    if kind in TRUE_SIGMA_KINDS:
        given = psnr(restore(noisy, RestoreParams(operation="denoise", threads=1, sigma=sigma)).image, clean)
    reference, reference_watch = cbm3d(noisy, sigma)
    return {"part": "textures", "split": split, "size": size, "crop": name, "source": crop.source,
            "channels": int(clean.shape[2]), "kind": kind, "sigma": sigma,
            "sigma_estimate": ours.stats.get("sigma"), "input_db": psnr(noisy, clean),
            "guide_db": psnr(guide, clean), "guide_s": guide_s, "ours_db": psnr(ours.image, clean),
            "ours_s": watch.wall, "ours_cpu_s": watch.cpu, "ours_true_sigma_db": given,
            "iterations": ours.stats.get("iterations"),
            "stop": sorted(ours.stats.get("stop_reasons", {})),
            "warnings": len(ours.stats.get("warnings", [])),
            "cbm3d_db": None if reference is None else psnr(reference, clean),
            "cbm3d_s": None if reference is None else reference_watch.wall,
            "cbm3d_cpu_s": None if reference is None else reference_watch.cpu}


def fill_mask(crop: Crop, kind: str) -> np.ndarray:
    """The inpainting mask of a crop (1 = missing): 50 % random holes or brush strokes."""
    seed = zlib.crc32(f"{crop.name}|{kind}".encode())
    shape = crop.image.shape[:2]
    if kind == "holes50":
        return texture_set.random_holes(shape, 0.5, seed)
    return texture_set.stroke_mask(shape, seed)


def inpaint_case(split: str, size: int, name: str, kind: str) -> Row:
    """One crop × mask: ours (as the CLI runs it) against scikit-image's biharmonic fill."""
    from skimage.restoration import inpaint_biharmonic

    torch.set_num_threads(1)
    crop = _lookup(split, size, name)
    clean, hole = crop.image, fill_mask(crop, kind)
    damaged = (clean * (1 - hole[..., None])).astype(np.float32)
    with Stopwatch() as watch:
        ours = restore(damaged, RestoreParams(operation="inpaint", threads=1), hole)
    with Stopwatch() as classic_watch:
        classic = inpaint_biharmonic(damaged, hole.astype(bool), channel_axis=-1)
    return {"part": "inpaint", "split": split, "size": size, "crop": name, "source": crop.source,
            "channels": int(clean.shape[2]), "kind": kind, "fraction": float(hole.mean()),
            "ours_db": psnr(ours.image, clean), "ours_s": watch.wall, "ours_cpu_s": watch.cpu,
            "iterations": ours.stats.get("iterations"), "stop": sorted(ours.stats.get("stop_reasons", {})),
            "classic_db": psnr(classic, clean), "classic_s": classic_watch.wall,
            "classic_cpu_s": classic_watch.cpu}


def upscale_case(split: str, size: int, name: str, kind: str = "x4") -> Row:
    """One crop, Lanczos-downsampled ×4 and upscaled back: ours against aligned bicubic."""
    torch.set_num_threads(1)
    crop = _lookup(split, size, name)
    clean = crop.image
    with torch.no_grad():
        low = lanczos_downsampler(4, clean.shape[2])(tensor(clean))[0].numpy().transpose(1, 2, 0)
    low = np.clip(low, 0, 1).astype(np.float32)
    with Stopwatch() as watch:
        ours = restore(low, RestoreParams(operation="upscale", factor=4, threads=1))
    with Stopwatch() as classic_watch:
        classic = aligned_bicubic(low, 4)
    return {"part": "upscale", "split": split, "size": size, "crop": name, "source": crop.source,
            "channels": int(clean.shape[2]), "kind": kind, "ours_db": psnr(ours.image, clean),
            "ours_s": watch.wall, "ours_cpu_s": watch.cpu,
            "iterations": ours.stats.get("iterations"), "stop": sorted(ours.stats.get("stop_reasons", {})),
            "classic_db": psnr(classic, clean), "classic_s": classic_watch.wall,
            "classic_cpu_s": classic_watch.cpu}


Case = tuple[str, int, str, str]  # split, size, crop name, kind
CaseFunction = Callable[[str, int, str, str], Row]


def _one_thread() -> None:
    """Worker set-up: one thread for torch and for anything OpenMP or BLAS."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[variable] = "1"
    torch.set_num_threads(1)
    keep_freed_memory()  # as the command line does: the engine's own process


def _call(job: tuple[CaseFunction, Case]) -> Row:
    function, case = job
    return function(*case)


def run_cases(function: CaseFunction, cases: Sequence[Case], workers: int,
              emit: Callable[[Row], None]) -> list[Row]:
    """Run every case (in ``workers`` processes of one thread each), emitting rows as they come."""
    rows: list[Row] = []
    jobs = [(function, case) for case in cases]
    if workers <= 1:
        for job in jobs:
            rows.append(_call(job))
            emit(rows[-1])
        return rows
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_one_thread) as pool:
        for row in pool.imap(_call, jobs):
            rows.append(row)
            emit(row)
    return rows


def pick(crops: Iterable[Crop], per_source: int, sources: Collection[str] = ()) -> list[Crop]:
    """The first ``per_source`` crops of every source (of ``sources`` only, when given), in order."""
    taken: dict[str, int] = {}
    chosen = []
    for crop in crops:
        if sources and crop.source not in sources:
            continue
        if taken.get(crop.source, 0) < per_source:
            taken[crop.source] = taken.get(crop.source, 0) + 1
            chosen.append(crop)
    return chosen


def denoise_cases(split: str, kinds: Sequence[str], per_source: int, large: bool,
                  sources: Collection[str] = ()) -> list[Case]:
    """The 128² crops × kinds, then (``large``) the 512² crops × :data:`LARGE_KINDS`."""
    small = pick(texture_set.crops(split), per_source, sources)
    cases = [(split, 128, crop.name, kind) for kind in kinds for crop in small]
    if large:
        cases += [(split, 512, crop.name, kind) for kind in LARGE_KINDS
                  for crop in pick(texture_set.crops(split, 512), 1, sources)]
    return cases


def fill_cases(split: str, per_source: int, sources: Collection[str] = (),
               larger: bool = True, large: bool = True) -> tuple[list[Case], list[Case]]:
    """Inpainting cases (crops × masks) and upscaling cases (crops), 128² crops; with
    ``larger`` also one 256² ×4 case per source (an output the patch stages of upscaling
    still run on, with a narrower search; ~30 s grey, ~60 s colour), and with ``large`` too the
    512² crops × masks (a whole default tile, as every real texture is inpainted: the patch
    fill with its narrower search, the check on fewer sets; 30–40 s grey, 50–90 s colour)."""
    chosen = pick(texture_set.crops(split), per_source, sources)
    upscale = [(split, 128, crop.name, "x4") for crop in chosen]
    inpaint = [(split, 128, crop.name, mask) for mask in FILL_MASKS for crop in chosen]
    if larger:
        upscale += [(split, 256, crop.name, "x4") for crop in pick(texture_set.crops(split, 256), 1, sources)]
    if larger and large:
        inpaint += [(split, 512, crop.name, mask) for mask in FILL_MASKS
                    for crop in pick(texture_set.crops(split, 512), 1, sources)]
    return inpaint, upscale


# --- markdown ---------------------------------------------------------------------------------------

def _f(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _d(a: Any, b: Any) -> str:
    return "–" if a is None or b is None else f"{a - b:+.2f}"


DENOISE_TABLE = ("| crop | ch | noise | σ | σ est | input dB | guide dB | ours dB | CBM3D dB | "
                 "ours CPU s (wall) | CBM3D CPU s (wall) | Δ ours−CBM3D | Δ ours−guide | Δ ours−input | "
                 "iters | stop |\n"
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def denoise_row_markdown(row: Row) -> str:
    """One table line of a denoising row."""
    return (f"| {row['crop']} | {row['channels']} | {row['kind']} | {row['sigma']:.1f} | "
            f"{_f(row['sigma_estimate'], 1)} | {row['input_db']:.2f} | {row['guide_db']:.2f} | "
            f"{row['ours_db']:.2f} | {_f(row['cbm3d_db'])} | {_clock(row, 'ours')} | "
            f"{_clock(row, 'cbm3d')} | "
            f"{_d(row['ours_db'], row['cbm3d_db'])} | {_d(row['ours_db'], row['guide_db'])} | "
            f"{_d(row['ours_db'], row['input_db'])} | {row['iterations']} | {', '.join(row['stop'])} |")


def _clock(row: Row, who: str) -> str:
    """CPU seconds, and the wall seconds in parentheses when the row has both."""
    if row.get(f"{who}_s") is None:
        return "–"
    if row.get(f"{who}_cpu_s") is None:
        return f"{row[f'{who}_s']:.1f}"
    return f"{row[f'{who}_cpu_s']:.1f} ({row[f'{who}_s']:.1f})"


def _median_max(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {max(values):.1f}" if values else "–"


def _denoise_group_line(split: str, kind: str, size: int, group: Sequence[Row]) -> str:
    deltas = [r["ours_db"] - r["cbm3d_db"] for r in group if r["cbm3d_db"] is not None]
    ratios = [seconds(r, "ours") / seconds(r, "cbm3d") for r in group if r["cbm3d_s"]]
    spent = [seconds(r, "ours") for r in group]
    target, limit = TARGETS.get(kind), 5.0 if size <= 128 else 20.0
    mean = statistics.fmean(deltas) if deltas else None
    if mean is None or target is None:
        versus = f"{_d(mean, 0.0)} (–)"
    else:
        versus = f"{mean:+.2f} (≥ {target:+.1f}) {'✓' if mean >= target else '✗'}"
    below_guide = sum(r["ours_db"] < r["guide_db"] for r in group)
    below_input = sum(r["ours_db"] < r["input_db"] for r in group)
    speed = f"{_median_max(spent)} (≤ {limit:g}) {'✓' if spent and max(spent) <= limit else '✗'}"
    ratio = _f(statistics.median(ratios) if ratios else None)
    stuck = sum(any(s in NOT_BY_ITSELF for s in r["stop"]) for r in group)
    worst = _d(min(deltas, default=None), 0.0)
    return (f"| {split} | {kind} | {size}² | {len(group)} | {versus} | {worst} | "
            f"{below_guide} | {below_input} | {speed} | {ratio} | {stuck} | {_true_sigma_gap(group)} |")


def _true_sigma_gap(group: Sequence[Row]) -> str:
    """Ours with σ estimated minus ours with the true σ given: mean / min over the rows that
    ran both, against the ±0.3 dB target; "–" for kinds that do not run it."""
    gaps = [r["ours_db"] - r["ours_true_sigma_db"] for r in group if r.get("ours_true_sigma_db") is not None]
    if not gaps:
        return "–"
    met = all(abs(g) <= TRUE_SIGMA_GAP for g in gaps)
    return (f"{statistics.fmean(gaps):+.2f} / {min(gaps):+.2f} (each within ±{TRUE_SIGMA_GAP:g}) "
            f"{'✓' if met else '✗'}")


def denoise_summary(rows: Sequence[Row]) -> list[str]:
    """One line per split × noise kind × size: the issue's targets, met (✓) or not (✗)."""
    lines = ["| split | noise | size | n | mean Δ CBM3D (target) | min Δ CBM3D | below guide | below input | "
             "ours CPU s median / max (target) | CPU ours/CBM3D (median) | not converged | "
             "σ estimated − true σ given, dB mean / min |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {kind: i for i, kind in enumerate(DENOISE_KINDS)}
    groups = sorted({(r["split"], r["kind"], r["size"]) for r in rows},
                    key=lambda g: (g[0], g[2], order.get(g[1], len(order)), g[1]))
    for split, kind, size in groups:
        group = [r for r in rows if (r["split"], r["kind"], r["size"]) == (split, kind, size)]
        lines.append(_denoise_group_line(split, kind, size, group))
    return lines


def denoise_markdown(rows: Sequence[Row], heading: str) -> str:
    """The denoising section: its summary, then every row."""
    return "\n".join([heading, "", *denoise_summary(rows), "", DENOISE_TABLE,
                      *(denoise_row_markdown(r) for r in rows)]) + "\n"


FILL_TABLE = ("| crop | ch | task | ours dB | classic dB | Δ dB | ours CPU s (wall) | classic CPU s (wall) | "
              "iters | stop |\n"
              "|---|---|---|---|---|---|---|---|---|---|")


def fill_summary(rows: Sequence[Row]) -> list[str]:
    """One line per split × task: mean and min Δ against the classic, targets, seconds, stops."""
    lines = ["| split | task | n | mean Δ dB | min Δ dB | cases at target | ours CPU s median / max | "
             "stopped by itself |", "|---|---|---|---|---|---|---|---|"]
    for split, kind, size in sorted({(r["split"], r["kind"], r["size"]) for r in rows}):
        group = [r for r in rows if (r["split"], r["kind"], r["size"]) == (split, kind, size)]
        deltas = [r["ours_db"] - r["classic_db"] for r in group]
        if kind == "x4":
            at_target = sum(d >= 0.5 for d in deltas)
            target = "≥ +0.5 dB"
        elif size == 128:
            at_target = sum(d >= 1.0 and seconds(r, "ours") <= 30.0
                            for d, r in zip(deltas, group, strict=True))
            target = "≥ +1 dB in ≤ 30 s"
        else:  # the time target is the 128² crop's
            at_target = sum(d >= 1.0 for d in deltas)
            target = "≥ +1 dB"
        by_itself = sum(not any(s in NOT_BY_ITSELF for s in r["stop"]) for r in group)
        task = kind if size == 128 else f"{kind} {size}²"
        lines.append(f"| {split} | {task} | {len(group)} | {statistics.fmean(deltas):+.2f} | "
                     f"{min(deltas):+.2f} | {at_target}/{len(group)} ({target}) | "
                     f"{_median_max([seconds(r, 'ours') for r in group])} | {by_itself}/{len(group)} |")
    return lines


def fill_row_markdown(row: Row) -> str:
    """One table line of an inpainting or upscaling row."""
    return (f"| {row['crop']} | {row['channels']} | {row['kind']} | {row['ours_db']:.2f} | "
            f"{row['classic_db']:.2f} | "
            f"{row['ours_db'] - row['classic_db']:+.2f} | {_clock(row, 'ours')} | {_clock(row, 'classic')} | "
            f"{row['iterations']} | {', '.join(row['stop'])} |")


def fill_markdown(rows: Sequence[Row], heading: str) -> str:
    """The inpainting/upscaling section: its summary, then every row."""
    return "\n".join([heading, "", *fill_summary(rows), "", FILL_TABLE, *map(fill_row_markdown, rows)]) + "\n"


def write_section(path: Path, key: str, text: str) -> None:
    """Put ``text`` between the markers ``<!-- key -->`` and ``<!-- /key -->`` of a markdown file,
    replacing what was there, or append it with its markers."""
    start, end = f"<!-- {key} -->", f"<!-- /{key} -->"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new, encoding="utf-8")
