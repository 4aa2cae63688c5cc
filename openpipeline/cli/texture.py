"""``openpipeline texture ...``: Deep Image Prior restoration and its time estimate.

The engine (torch) is imported when a command runs, so other commands start fast.
Restorations go through the result cache (see :mod:`.cache`): the same job on the same
input bytes is delivered from it at once; ``--no-cache`` computes anyway and keeps nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from openpipeline.cli.cache import add_cache_option, result_cache
from openpipeline.cli.common import CliError, Commands, emit

DEVICES = ("auto", "cpu", "cuda", "mps")
OPERATIONS = ("denoise", "inpaint", "upscale", "flash")
RESULT_ONLY = ("kind", "key", "created", "tiles_of")  # the cache's own meta, not the job's summary
DONE = {"denoise": "Denoised", "inpaint": "Inpainted", "upscale": "Upscaled", "flash": "Flash-restored"}


def register(cli: Commands) -> None:
    """Add the ``texture`` commands."""
    texture = cli.group("texture", "restore textures with Deep Image Prior (denoise, inpaint, upscale)")

    def restore_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = cli.leaf(texture, name, cmd_restore, help_text)
        sub.set_defaults(operation=name)
        sub.add_argument("input", help="image (PNG, JPEG, TIFF, EXR, .tx) or name.<UDIM>.ext")
        return sub

    p = restore_command("denoise", "remove noise (σ estimated unless --sigma)")
    _restore_options(p)
    p.add_argument("--sigma", type=float, help="noise level in 8-bit levels (25 = 25/255)")
    p = restore_command("inpaint", "fill holes (non-zero mask pixels) or remove a watermark")
    p.add_argument("mask", help="mask image: non-zero pixels are the holes to fill")
    _restore_options(p)
    p = restore_command("upscale", "super-resolution by 2, 4 or 8")
    _restore_options(p)
    p.add_argument("--factor", type=int, required=True, help="2, 4 or 8")
    p = restore_command("flash", "natural light with the flash photo's detail (INPUT: no-flash photo)")
    p.add_argument("flash", help="the flash photo of the same surface")
    _restore_options(p)

    p = cli.leaf(texture, "predict", cmd_predict,
                 "predict a job's time from a calibrated runtime model (for farm planning)")
    p.add_argument("input")
    p.add_argument("--operation", default="denoise", choices=OPERATIONS)
    p.add_argument("--factor", type=int, help="2, 4 or 8 (needed with --operation upscale)")
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--threads", type=int)


def _restore_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("output", help="output image (same format rules; <UDIM> for sets)")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--time-budget", type=float, help="stop after this many seconds")
    sub.add_argument("--device", default="auto", choices=DEVICES)
    sub.add_argument("--threads", type=int, help="CPU threads (default: the idle cores)")
    sub.add_argument("--seamless", action="store_true", help="keep a tileable texture tileable")
    sub.add_argument("--tile", type=int, default=512,
                     help="tile size in output pixels, at least 65 (bounds memory: 512 needs about 2 GB)")
    sub.add_argument("--normal-map", action="store_true", help="renormalise as a normal map")
    sub.add_argument("--process-alpha", action="store_true", help="restore alpha too")
    sub.add_argument("--max-iterations", type=int)
    sub.add_argument("--recipe", action="store_true", help="the published (slow) configuration")
    sub.add_argument("--allow-lossy", action="store_true",
                     help="write to a format that cannot hold the input's bit depth, HDR values or alpha")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cache_option(sub)


def cmd_restore(args: argparse.Namespace) -> None:
    from openpipeline.engine.cache import warnings_of
    from openpipeline.engine.progress import text_bar
    from openpipeline.engine.texture.params import RestoreParams

    params = RestoreParams(
        operation=args.operation, sigma=getattr(args, "sigma", None),
        factor=getattr(args, "factor", 2), seed=args.seed, time_budget=args.time_budget,
        device=args.device, threads=args.threads, seamless=args.seamless, tile=args.tile,
        normal_map=args.normal_map, process_alpha=args.process_alpha,
        max_iterations=args.max_iterations, recipe=args.recipe, allow_lossy=args.allow_lossy,
    )
    progress = None if args.quiet else text_bar(sys.stderr)
    summary = {"operation": args.operation, **_restored(args, params, progress)}
    summary["warnings"] = warnings_of(summary)
    for warning in summary["warnings"]:  # a warning never passes silently
        print(f"Warning: {warning}", file=sys.stderr)
    reasons = ", ".join(f"{k} ×{v}" for k, v in summary.get("stop_reasons", {}).items())
    sigma = f", σ {summary['sigma']:.1f}" if summary.get("sigma") is not None else ""
    if (photons := summary.get("signal_noise")) is not None:
        sigma += (f", photon noise: {photons['photons_at_white']:.0f} photons at white, "
                  f"read noise σ {photons['read_sigma']:.1f}")
    emit(args, summary, f"{DONE[args.operation]} {len(summary['files'])} file(s) in "
                        f"{summary['seconds']:.1f} s, {summary['iterations']} iterations "
                        f"({reasons}{sigma}){' from the cache' if summary['cached'] else ''} -> "
                        f"{', '.join(summary['files'])}")


def _restored(args: argparse.Namespace, params: Any, progress: Any) -> dict[str, Any]:
    """Restore ``args.input`` into ``args.output`` through the cache (or straight into the
    output under ``--no-cache``); returns the run's summary with ``cached``."""
    from openpipeline.engine.jobs import deliver_cached
    from openpipeline.engine.texture.inputs import read_inputs
    from openpipeline.engine.texture.job import TextureJob, deliver

    mask, guide = getattr(args, "mask", None), getattr(args, "flash", None)
    cache = result_cache(args)
    if cache is None:
        from openpipeline.engine.texture.restoration import restore_file

        return {**restore_file(args.input, args.output, params, mask=mask, guide=guide, progress=progress),
                "cached": False}
    params.check()
    read_inputs(args.input, args.output, params, mask, guide)  # every refusal, before any work or lookup
    job = TextureJob(args.input, params, mask=mask, guide=guide, suffix=Path(args.output).suffix)
    entry, reused, files = deliver_cached(job, cache, lambda e, r: (e, r, deliver(e, args.output)), progress)
    summary = {key: value for key, value in entry.meta.items() if key not in RESULT_ONLY}
    return {**summary, "files": [str(path) for path in files], "cached": reused}


def cmd_predict(args: argparse.Namespace) -> None:
    from openpipeline.engine.devices import pick_device, pick_threads
    from openpipeline.engine.images import read_image
    from openpipeline.engine.texture import RestoreParams, load_or_calibrate, udim_paths

    upscale = args.operation == "upscale"
    if upscale and args.factor is None:
        raise CliError("Predicting an upscale needs --factor 2, 4 or 8.")
    params = RestoreParams(operation=args.operation, factor=args.factor if upscale else 2, tile=args.tile,
                           device=args.device, threads=args.threads)
    params.check()  # the same checks as the real run
    device = pick_device(args.device).type
    threads = pick_threads(args.threads)
    images = [read_image(path) for _, path in udim_paths(args.input)]
    model = load_or_calibrate(device, threads, args.operation)
    total = 0.0
    sizes = []
    for image in images:
        total += model.predict(image.width, image.height, args.operation, params.output_factor, args.tile,
                               fit=params.fits)
        sizes.append([image.width, image.height])
    data = {"operation": args.operation, "device": device, "threads": threads, "fit": params.fits,
            "seconds": round(total, 1), "images": sizes, "model": {"a": model.a, "b": model.b}}
    how = (f"the classical result, then the fit at s/it = {model.a:.3g}·MP^{model.b:.2f}" if params.fits
           else "the classical result; no network fit unless --max-iterations or --time-budget is given")
    emit(args, data, f"About {total / 60:.1f} min on {device} with {threads} thread(s) for "
                     f"{len(sizes)} image(s) ({how}).")
