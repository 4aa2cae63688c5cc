"""Deep Image Prior benchmark: our engine against the classics and CBM3D on a texture set,
and the published recipe on three photos.

The texture set (``bench/texture_set.py``; cases and tables in ``bench/texture_bench.py``):
``.venv/bin/python bench/dip_bench.py --part all`` runs denoising (``--part textures``:
white σ 15/25, correlated, JPEG'd noise; ours, its guide, the input and CBM3D) and
inpainting/upscaling (``--part textures-fill``) over the held-out split in one run and
rewrites their sections of ``bench/results_dip.md``: about half an hour with
``--workers 2`` (processes of one thread each). ``--split tune`` to tune (never tune on
``heldout``); ``--quick`` for a few minutes' look that writes nothing; ``--json rows.jsonl``
keeps the rows and ``--from-json rows.jsonl`` writes the sections from them again.

The earlier benchmark, three photos (``--part earlier``, or one of its parts):
``.venv/bin/python bench/dip_bench.py [--images astronaut,coffee,chelsea]
[--sigmas 15,25,50] [--seeds 0,1,2] [--part denoise|inpaint|upscale|earlier]``.
The full grid's baselines take about three hours of CPU here; to spread them over
the cores, run ``--baseline-only --seeds N --json base_N.jsonl`` per seed in
parallel, concatenate the files, then run with ``--baseline-cache``.

Denoising, on the centre 128×128 crops of scikit-image's images with clipped
Gaussian noise, one CPU thread each, in one run:

* **baseline**: our implementation of the published recipe (skip net 128 wide, 5
  scales, lr 0.01, jitter 1/30, averaging 0.99). It runs until its averaged
  PSNR has not improved for 300 iterations (the clean image is used only to find
  its peak): we report the best averaged PSNR and the seconds it took to get there.
  That time is priced at the recipe's seconds per iteration measured in this run
  on the same image (:func:`recipe_rate`), so cached baseline rows
  (``--baseline-only`` then ``--baseline-cache``) still compare fairly under any load.
* **ours**: ``openpipeline.engine.texture.restoration`` as a user runs it: σ
  estimated from the image, stopping by itself.
* **CBM3D** (PyPI ``bm3d``, for comparison only: its licence forbids commercial
  use, so it is never a dependency; skipped when not installed).

Target: ours ≥ baseline best − 0.1 dB in ≤ 1/10 of the baseline's time to its peak.
Inpainting (50 % random pixels, and a text mask) and ×4 upscaling are reported
against their classical stand-ins (biharmonic inpainting, bicubic).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from texture_set import NOISE_KINDS

# This checkout's engine, not whichever one the environment installed (an editable install of
# another worktree): the results are labelled with this checkout's commit.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpipeline.engine.allocator import keep_freed_memory
from openpipeline.engine.progress import Progress
from openpipeline.engine.texture import RestoreParams, restore
from openpipeline.engine.texture.fitting import FitOptions, fit
from openpipeline.engine.texture.network import RECIPE, lanczos_downsampler
from openpipeline.engine.texture.probe import BenchmarkProbe


def crop(name: str) -> np.ndarray:
    from skimage import data

    image: np.ndarray = getattr(data, name)().astype(np.float32) / 255.0
    h, w = image.shape[:2]
    return image[h // 2 - 64: h // 2 + 64, w // 2 - 64: w // 2 + 64]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return -10 * math.log10(max(float(np.mean((np.clip(a, 0, 1) - b) ** 2)), 1e-12))


def tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, C) → a (1, C, H, W) tensor of its own (the texture set's arrays are read-only)."""
    return torch.from_numpy(np.array(image.transpose(2, 0, 1), dtype=np.float32))[None]


def baseline(noisy: np.ndarray, clean: np.ndarray, seed: int, max_iterations: int
             ) -> tuple[float, float, int]:
    """The recipe, watched with the clean image: (best PSNR, seconds to it, iteration).

    It stops 300 iterations after its averaged PSNR stopped improving.
    """
    options = FitOptions(seed=seed, max_iterations=max_iterations, auto_stop=False)
    result = fit(tensor(noisy), RECIPE, options=options,
                 probe=BenchmarkProbe(tensor(clean), record_every=25, patience=300))
    best = (-math.inf, 0.0, 0)
    for iteration, seconds, value, _ in result.stats["curve"]:
        if value > best[0]:
            best = (value, seconds, iteration)
    return best


def recipe_rate(noisy: np.ndarray, seed: int) -> float:
    """The recipe's seconds per iteration on this image, measured now (iterations 10 to
    30 of one short fit, after its set-up and warm-up), so a cached baseline's time to
    peak is priced at this run's speed and load."""
    stamps: dict[int, float] = {}

    def stamp(progress: Progress) -> None:
        stamps[progress.values["iteration"]] = time.perf_counter()

    fit(tensor(noisy), RECIPE, options=FitOptions(seed=seed, max_iterations=30, auto_stop=False),
        progress=stamp)
    return (stamps[30] - stamps[10]) / 20


Emit = Callable[[dict[str, Any]], None]
PARTS = ("denoise", "inpaint", "upscale", "earlier", "textures", "textures-fill", "all")
RESULTS = Path(__file__).with_name("results_dip.md")
DENOISE_KINDS = NOISE_KINDS  # the texture set's noise kinds, in its order
DENOISE_HEADER = ("| image | σ | seed | baseline best dB | baseline s to peak | ours dB | ours s | "
                  "ours iters | stop | Δ dB | time ratio | target met | CBM3D dB | CBM3D s |\n"
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default="astronaut,coffee,chelsea")
    parser.add_argument("--sigmas", default="15,25,50")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--baseline-iterations", type=int, default=3000)
    parser.add_argument("--part", default="denoise", choices=PARTS,
                        help="all = textures + textures-fill (the texture set, written to --results); "
                        "earlier = denoise + inpaint + upscale (the 3-photo benchmark, hours of CPU)")
    parser.add_argument("--json", help="append rows to this JSON-lines file")
    parser.add_argument("--budget", type=float, help="time budget (s) for inpainting and upscaling runs")
    parser.add_argument("--baseline-only", action="store_true",
                        help="only run the recipe (rows for a later --baseline-cache)")
    parser.add_argument("--baseline-cache", help="JSON-lines file of earlier rows: reuse their baseline "
                        "figures (same machine, same code) instead of re-running the recipe")
    texture = parser.add_argument_group("texture set (--part textures, textures-fill, all)")
    texture.add_argument("--split", default="heldout", choices=("heldout", "tune"),
                         help="heldout for results (never tuned on), tune for tuning")
    texture.add_argument("--kinds", default=",".join(DENOISE_KINDS), help="noise kinds")
    texture.add_argument("--per-source", type=int, default=3, help="128² denoising crops per source image")
    texture.add_argument("--fill-per-source", type=int, default=1, help="128² fill crops per source image")
    texture.add_argument("--sources", default="", help="only these source images (comma-separated)")
    texture.add_argument("--no-large", action="store_true",
                         help="leave out the 512² crops (denoised and inpainted)")
    texture.add_argument("--quick", action="store_true", help="one crop per source, white25/correlated/jpeg, "
                         "no 512² crops; nothing written to --results")
    texture.add_argument("--workers", type=int, default=2, help="processes of one thread each")
    texture.add_argument("--results", default=str(RESULTS), help="markdown file whose sections are rewritten")
    texture.add_argument("--from-json", help="write the sections from a JSON-lines file's rows; run nothing")
    return parser.parse_args(argv)


def load_baseline_cache(path: str | None) -> dict[tuple[str, float, int], tuple[float, float, int]]:
    """Baseline figures of earlier rows, by (image, σ, seed)."""
    cached: dict[tuple[str, float, int], tuple[float, float, int]] = {}
    if path:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                old = json.loads(line)
                if "baseline_db" in old:
                    cached[(old["image"], float(old["sigma"]), int(old["seed"]))] = (
                        old["baseline_db"], old["baseline_s"], old["baseline_iteration"])
    return cached


def emitter(rows: list[dict[str, Any]], json_path: str | None) -> Emit:
    """Collect a row, and append it to the JSON-lines file when there is one."""
    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        if json_path:
            with open(json_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
    return emit


def cbm3d(noisy: np.ndarray, clean: np.ndarray, sigma: float) -> tuple[float, float]:
    """CBM3D's PSNR and seconds on this image (NaN, NaN without the ``bm3d`` package)."""
    try:
        import bm3d
    except ImportError:
        return float("nan"), float("nan")
    start = time.perf_counter()
    estimate = bm3d.bm3d_rgb(noisy, sigma / 255)
    return psnr(np.asarray(estimate), clean), time.perf_counter() - start


def baseline_row(name: str, sigma: float, seed: int, noisy: np.ndarray, clean: np.ndarray,
                 iterations: int, emit: Emit) -> None:
    """--baseline-only: the recipe's figures alone, for a later --baseline-cache."""
    base_db, base_s, base_it = baseline(noisy, clean, seed, iterations)
    emit({"image": name, "sigma": sigma, "seed": seed, "baseline_db": base_db,
          "baseline_s": base_s, "baseline_iteration": base_it})
    print(f"| {name} | {sigma:g} | {seed} | {base_db:.2f} | {base_s:.0f} (it {base_it}) |", flush=True)


def denoise_row(name: str, sigma: float, seed: int, noisy: np.ndarray, clean: np.ndarray,
                baseline_figures: tuple[float, float, int] | None, iterations: int, emit: Emit) -> None:
    """Ours against the baseline (cached or run now) and CBM3D on one noisy image."""
    start = time.perf_counter()
    ours = restore(noisy, RestoreParams(operation="denoise", seed=seed, threads=1))
    ours_s = time.perf_counter() - start
    ours_db = psnr(ours.image, clean)
    base_db, base_s, base_it = baseline_figures or baseline(noisy, clean, seed, iterations)
    rate = recipe_rate(noisy, seed)
    priced = base_it * rate  # the baseline's time to peak at this run's speed
    cbm3d_db, cbm3d_s = cbm3d(noisy, clean, sigma)
    emit({"image": name, "sigma": sigma, "seed": seed, "baseline_db": base_db,
          "baseline_s": base_s, "baseline_iteration": base_it,
          "recipe_s_per_iteration": rate, "baseline_s_priced": priced, "ours_db": ours_db,
          "ours_s": ours_s, "ours_iterations": ours.stats["iterations"],
          "stop": list(ours.stats["stop_reasons"]), "sigma_estimate": ours.stats["sigma"],
          "cbm3d_db": cbm3d_db, "cbm3d_s": cbm3d_s})
    passed = ours_db >= base_db - 0.1 and ours_s <= priced / 10
    print(f"| {name} | {sigma:g} | {seed} | {base_db:.2f} | {priced:.0f} (it {base_it}) | "
          f"{ours_db:.2f} | {ours_s:.1f} | {ours.stats['iterations']} | "
          f"{', '.join(ours.stats['stop_reasons'])} | {ours_db - base_db:+.2f} | "
          f"{priced / ours_s:.1f}× | {'yes' if passed else 'no'} | {cbm3d_db:.2f} | "
          f"{cbm3d_s:.1f} |", flush=True)


def denoise_table(args: argparse.Namespace, emit: Emit) -> None:
    """Every image × σ × seed: clipped Gaussian noise, then one row each."""
    cached = load_baseline_cache(args.baseline_cache)
    print(DENOISE_HEADER)
    for name in args.images.split(","):
        clean = crop(name)
        for sigma in (float(s) for s in args.sigmas.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                rng = np.random.default_rng(1000 * seed + int(sigma))
                noisy = np.clip(clean + rng.normal(0, sigma / 255, clean.shape), 0, 1).astype(np.float32)
                if args.baseline_only:
                    baseline_row(name, sigma, seed, noisy, clean, args.baseline_iterations, emit)
                else:
                    denoise_row(name, sigma, seed, noisy, clean, cached.get((name, sigma, seed)),
                                args.baseline_iterations, emit)


def inpaint_table(args: argparse.Namespace, emit: Emit) -> None:
    """Every image with 50 % random pixels missing and with a text mask, against biharmonic."""
    from skimage.restoration import inpaint_biharmonic

    print("\n| image | mask | ours dB | ours s | iters | stop | biharmonic dB |")
    print("|---|---|---|---|---|---|---|")
    for name in args.images.split(","):
        clean = crop(name)
        rng = np.random.default_rng(0)
        masks = {"50% random": (rng.random(clean.shape[:2]) < 0.5).astype(np.float32),
                 "text": text_mask(clean.shape[:2])}
        for label, hole in masks.items():
            damaged = clean * (1 - hole[..., None])
            start = time.perf_counter()
            ours = restore(damaged.astype(np.float32), RestoreParams(operation="inpaint", threads=1,
                                                                    time_budget=args.budget),
                           hole)
            ours_s = time.perf_counter() - start
            classic = inpaint_biharmonic(damaged, hole.astype(bool), channel_axis=-1)
            emit({"image": name, "mask": label, "ours_db": psnr(ours.image, clean), "ours_s": ours_s,
                  "biharmonic_db": psnr(classic, clean)})
            print(f"| {name} | {label} | {psnr(ours.image, clean):.2f} | {ours_s:.1f} | "
                  f"{ours.stats['iterations']} | {', '.join(ours.stats['stop_reasons'])} | "
                  f"{psnr(classic, clean):.2f} |", flush=True)


def upscale_table(args: argparse.Namespace, emit: Emit) -> None:
    """Every image downsampled ×4 and upscaled back, against bicubic."""
    print("\n| image | factor | ours dB | ours s | iters | stop | bicubic dB |")
    print("|---|---|---|---|---|---|---|")
    for name in args.images.split(","):
        clean = crop(name)
        low = lanczos_downsampler(4, 3)(tensor(clean))[0].numpy().transpose(1, 2, 0)
        low = np.clip(low, 0, 1).astype(np.float32)
        start = time.perf_counter()
        ours = restore(low, RestoreParams(operation="upscale", factor=4, threads=1,
                                          time_budget=args.budget))
        ours_s = time.perf_counter() - start
        bicubic = aligned_bicubic(low, 4)
        emit({"image": name, "factor": 4, "ours_db": psnr(ours.image, clean), "ours_s": ours_s,
              "bicubic_db": psnr(bicubic, clean)})
        print(f"| {name} | ×4 | {psnr(ours.image, clean):.2f} | {ours_s:.1f} | "
              f"{ours.stats['iterations']} | {', '.join(ours.stats['stop_reasons'])} | "
              f"{psnr(bicubic, clean):.2f} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    keep_freed_memory()  # as the command line does: the engine's own process
    emit = emitter([], args.json)
    if args.part in ("textures", "textures-fill", "all") or args.from_json:
        texture_parts(args, emit)
        return
    if args.part in ("denoise", "earlier"):
        denoise_table(args, emit)
    if args.part in ("inpaint", "earlier"):
        inpaint_table(args, emit)
    if args.part in ("upscale", "earlier"):
        upscale_table(args, emit)


def texture_parts(args: argparse.Namespace, emit: Emit) -> None:
    """--part textures / textures-fill / all: the texture set (bench/texture_set.py), rows
    printed as they come, then (not --quick) the sections of --results rewritten."""
    import texture_bench as bench
    import texture_set

    if args.from_json:
        with open(args.from_json, encoding="utf-8") as handle:
            write_texture_sections(Path(args.results), [json.loads(line) for line in handle])
        return
    kinds = ("white25", "correlated", "jpeg") if args.quick else tuple(args.kinds.split(","))
    per_source = 1 if args.quick else args.per_source
    sources = [name for name in args.sources.split(",") if name]
    known = {source.name for source in texture_set.SOURCES if source.split == args.split}
    if unknown := sorted(set(sources) - known):
        raise SystemExit(f"--sources {','.join(unknown)} is not in the {args.split} split; "
                         f"pick from {','.join(sorted(known))}.")
    rows: list[dict[str, Any]] = []
    run = {"command": " ".join(["bench/dip_bench.py", *sys.argv[1:]]), "commit": git_commit(),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

    def show(printer: Callable[[dict[str, Any]], str]) -> Emit:
        def emit_and_print(row: dict[str, Any]) -> None:
            row.update(run)
            emit(row)
            print(printer(row), flush=True)
        return emit_and_print

    if args.part in ("textures", "all"):
        cases = bench.denoise_cases(args.split, kinds, per_source, not (args.quick or args.no_large), sources)
        print(bench.DENOISE_TABLE, flush=True)
        denoised = bench.run_cases(bench.denoise_case, cases, args.workers, show(bench.denoise_row_markdown))
        print("\n".join(["", *bench.denoise_summary(denoised)]), flush=True)
        rows += denoised
    if args.part in ("textures-fill", "all"):
        inpaint, upscale = bench.fill_cases(args.split, 1 if args.quick else args.fill_per_source, sources,
                                            larger=not args.quick, large=not args.no_large)
        print(bench.FILL_TABLE, flush=True)
        filled = bench.run_cases(bench.inpaint_case, inpaint, args.workers, show(bench.fill_row_markdown))
        filled += bench.run_cases(bench.upscale_case, upscale, args.workers, show(bench.fill_row_markdown))
        print("\n".join(["", *bench.fill_summary(filled)]), flush=True)
        rows += filled
    if not args.quick:
        write_texture_sections(Path(args.results), rows)


def git_commit() -> str:
    """The checkout's commit (short, ``-dirty`` with uncommitted changes), or 'unknown'."""
    return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=7"], capture_output=True,
                          text=True, cwd=RESULTS.parent, check=False).stdout.strip() or "unknown"


def write_texture_sections(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite the texture-set sections of the results file, one pair per split in the rows."""
    import texture_bench as bench

    try:
        import bm3d  # noqa: F401  (only to say whether the CBM3D column is there)
        reference = "CBM3D: PyPI `bm3d`, given the true σ"
    except ImportError:
        reference = "CBM3D: not installed, column empty"
    first = rows[0] if rows else {}
    note = (f"_{first.get('date', '?')}, commit {first.get('commit', '?')}, `{first.get('command', '?')}`; "
            f"one thread per process; {reference}._")
    for split in sorted({r["split"] for r in rows}):
        name = "held-out" if split == "heldout" else "tune"
        denoised = [r for r in rows if r["split"] == split and r["part"] == "textures"]
        filled = [r for r in rows if r["split"] == split and r["part"] in ("inpaint", "upscale")]
        if denoised:
            bench.write_section(path, f"texture-denoise-{split}", bench.denoise_markdown(
                denoised, f"## Texture set, {name} split: denoising\n\n{note}"))
        if filled:
            bench.write_section(path, f"texture-fill-{split}", bench.fill_markdown(
                filled, f"## Texture set, {name} split: inpainting and ×4 upscaling\n\n{note}"))


def aligned_bicubic(low: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic interpolation on the downsampler's own grid (low pixel i = high pixel i·factor),
    so the comparison is not penalised by a half-pixel shift."""
    from scipy.ndimage import map_coordinates

    size = low.shape[0] * factor
    grid = np.arange(size) / factor
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    return np.stack([map_coordinates(low[..., c], [rows, cols], order=3, mode="nearest")
                     for c in range(low.shape[2])], -1)


def text_mask(shape: tuple[int, int]) -> np.ndarray:
    """A watermark-like mask: lines of block letters across the image."""
    mask = np.zeros(shape, np.float32)
    for row in range(10, shape[0] - 10, 22):
        for col in range(6, shape[1] - 12, 14):
            mask[row:row + 12, col:col + 2] = 1
            mask[row:row + 2, col:col + 9] = 1
            mask[row + 5:row + 7, col:col + 7] = 1
    return mask


if __name__ == "__main__":
    main()
