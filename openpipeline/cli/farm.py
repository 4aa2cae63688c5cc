"""``openpipeline farm ...``: texture and scatter work as farm jobs, run here or handed to a farm.

``farm submit KIND INPUT OUTPUT`` builds the job (one task per texture, UDIM set or
mesh; every input read and every output checked first) and runs it on this machine
(``--backend local``, the default) or writes it for Open Job Description, OpenCue or
Deadline into ``--out DIR``. ``farm status [JOB]`` shows local jobs. ``farm run-task``
is what farm machines run (the same as ``python -m openpipeline.farm.task``).
The farm and the engine are imported when a command runs, so other commands start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from openpipeline.cli.common import CliError, Commands, emit, project_from, whole_number
from openpipeline.core.errors import OpenPipelineError

KINDS = ("texture-denoise", "texture-inpaint", "texture-upscale", "scatter", "master")
BACKENDS = ("local", "openjd", "opencue", "deadline")
FARM_OSES = ("linux", "windows", "darwin")


class FarmTasksFailed(OpenPipelineError):
    """Some tasks of a local job failed (exit 1); the summary names them."""


def register(cli: Commands) -> None:
    """Add the ``farm`` commands."""
    farm = cli.group("farm", "run texture and scatter jobs here, or write them for OpenJD, OpenCue, Deadline")
    p = cli.leaf(farm, "submit", cmd_submit, "build a farm job and run it here or write it for a farm")
    p.add_argument("kind", choices=KINDS, metavar="KIND", help=f"one of {', '.join(KINDS)}")
    p.add_argument("input", help="a folder, an image, name.<UDIM>.ext, meshes a.obj,b.obj, or an item "
                                 "(asset/..., shot/...: the item's textures)")
    p.add_argument("output", nargs="?", help="the folder the results go to (not for item inputs)")
    p.add_argument("--backend", default="local", choices=BACKENDS, help="where the job runs (default local)")
    p.add_argument("--out", help="folder for the job files (openjd, opencue, deadline); not inside the "
                                 "input folder")
    p.add_argument("--force", action="store_true", help="overwrite job files already in --out")
    p.add_argument("--workers", type=whole_number("Workers"), default=1, help="local tasks at once")
    p.add_argument("--cache", help="the result cache every machine shares (default: $OPENPIPELINE_CACHE on "
                                   "each machine, else the project's cache, else the user's)")
    p.add_argument("--python", help="interpreter on the farm (default: python; mayapy for master)")
    p.add_argument("--pythonpath", help="folder with the OpenPipeline the tasks import (default: this one; "
                                        "'' for the farm's own installation)")
    p.add_argument("--farm-os", choices=FARM_OSES, help="OS of the farm machines (paths are remapped "
                                                        "through the project's roots; default: this one)")
    p.add_argument("--calibrate", action="store_true", help="calibrate the runtime model for estimates")
    p.add_argument("--note", default="", help="what the master holds (master only)")
    p.add_argument("--quiet", action="store_true", help="no progress")
    _texture_options(p)
    _scatter_options(p)

    p = cli.leaf(farm, "status", cmd_status, "list local farm jobs, or show one")
    p.add_argument("job", nargs="?", help="a job id (default: every job)")

    p = cli.leaf(farm, "run-task", cmd_run_task, "run one task of a job file (what farm machines run)")
    p.add_argument("job_file")
    p.add_argument("index", type=int)
    p.add_argument("--first", type=int, default=0, help="the number of the first task (1 for OpenCue frames)")


def _texture_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("texture options")
    g.add_argument("--sigma", type=float, help="noise level in 8-bit levels (denoise)")
    g.add_argument("--factor", type=int, help="2, 4 or 8 (upscale)")
    g.add_argument("--time-budget", type=float, help="seconds per task")
    g.add_argument("--tile", type=int, default=512)
    g.add_argument("--seamless", action="store_true")
    g.add_argument("--normal-map", action="store_true")
    g.add_argument("--process-alpha", action="store_true")
    g.add_argument("--max-iterations", type=int)
    g.add_argument("--recipe", action="store_true")
    g.add_argument("--allow-lossy", action="store_true")
    g.add_argument("--format", help="result format, e.g. .exr (default: each input's)")
    g.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                   help="where the work runs, for texture and scatter jobs (default auto)")
    g.add_argument("--threads", type=int)


def _scatter_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scatter options")
    g.add_argument("--count", type=whole_number("Count"), help="points per mesh")
    g.add_argument("--spacing", type=float)
    g.add_argument("--density", help="density map image")
    g.add_argument("--density-channel")
    g.add_argument("--seed", type=whole_number("Seed", minimum=0), default=0)
    g.add_argument("--method", default="batch-ng", choices=("batch-ng", "online-ng", "gng"))
    g.add_argument("--points-format", default=".npz", choices=(".npz", ".json", ".usda", ".usd", ".usdc"))


def _texture_params(args: argparse.Namespace) -> dict[str, Any]:
    if args.kind == "texture-upscale" and args.factor is None:
        raise CliError("An upscale needs --factor 2, 4 or 8.")
    values = {"sigma": args.sigma, "factor": args.factor or 2, "seed": args.seed,
              "time_budget": args.time_budget, "device": args.device, "threads": args.threads,
              "seamless": args.seamless, "tile": args.tile, "normal_map": args.normal_map,
              "process_alpha": args.process_alpha, "max_iterations": args.max_iterations,
              "recipe": args.recipe, "allow_lossy": args.allow_lossy}
    if args.format:
        values["suffix"] = args.format if args.format.startswith(".") else f".{args.format}"
    return values


def _scatter_params(args: argparse.Namespace) -> dict[str, Any]:
    return {"count": args.count, "spacing": args.spacing, "method": args.method, "seed": args.seed,
            "density": args.density, "density_channel": args.density_channel, "device": args.device}


def _project_roots(args: argparse.Namespace, needed: bool) -> tuple[Path | None, dict[str, str]]:
    """The selected project (when one is selected or ``needed``) and its per-OS roots."""
    from openpipeline.core.selection import PROJECT_ENV

    if not needed and not args.project and not os.environ.get(PROJECT_ENV):
        return None, {}
    project = project_from(args)
    return project.root, dict(project.config.roots)


def _request(args: argparse.Namespace) -> Any:
    from openpipeline.farm.inputs import Request, is_item_address

    item = is_item_address(args.input)
    if not item and not args.output:
        raise CliError("Give the folder the results go to (OUTPUT) after the input.")
    if args.backend != "local" and not args.out:
        raise CliError(f"The {args.backend} back end writes job files; give their folder with --out DIR.")
    project, _ = _project_roots(args, needed=item)
    python = args.python or ("mayapy" if args.kind == "master" else _default_python(args))
    pythonpath = args.pythonpath
    if pythonpath is None:
        import openpipeline

        pythonpath = str(Path(openpipeline.__file__).resolve().parent.parent)
    elif pythonpath and args.kind == "master":
        pythonpath = os.path.abspath(pythonpath)  # the checkout master_scene.py is run from
    cache = os.path.abspath(args.cache) if args.cache else None
    if cache is None:
        from openpipeline.cli.cache import project_cache

        chosen = project_cache(args)  # the project's shared cache, as 'texture' and 'scatter' use
        cache = None if chosen is None else str(chosen)
    return Request(args.kind, args.input, os.path.abspath(args.output) if args.output else "",
                   texture=_texture_params(args) if args.kind.startswith("texture") else {},
                   scatter=_scatter_params(args) if args.kind == "scatter" else {},
                   points_suffix=args.points_format, project=project,
                   cache=cache, python=python,
                   pythonpath=pythonpath or None, calibrate=args.calibrate, note=args.note)


def _default_python(args: argparse.Namespace) -> str:
    """This interpreter when the tasks run on this OS, else ``python`` on the farm's PATH."""
    from openpipeline.core.layout import current_platform

    return sys.executable if (args.farm_os or current_platform()) == current_platform() else "python"


def cmd_submit(args: argparse.Namespace) -> None:
    from openpipeline.core.layout import current_platform
    from openpipeline.farm.backends import WRITERS, _import_outline, check_job_folder
    from openpipeline.farm.inputs import build_job

    request = _request(args)
    if args.backend == "opencue":
        _import_outline()  # a missing package is refused before any input is read
    job = build_job(request)
    if args.backend == "local":
        _run_local(args, job)
        return
    check_job_folder(job, Path(args.out), force=args.force)
    _, roots = _project_roots(args, needed=request.project is not None)
    written = WRITERS[args.backend](job, Path(args.out), roots, args.farm_os or current_platform())
    data = {"backend": args.backend, "job": job.name, "tasks": len(job.tasks),
            "files": [str(p) for p in written]}
    emit(args, data, f"Wrote {args.backend} job '{job.name}' ({len(job.tasks)} task(s)): "
                     f"{', '.join(str(p) for p in written)}\n{_how_to_submit(args.backend, Path(args.out))}")


def _how_to_submit(backend: str, folder: Path) -> str:
    if backend == "openjd":
        return f"Run it here with: openjd run {folder / 'job.template.yaml'}"
    if backend == "opencue":
        return f"Submit it with: cueadmin / pycuerun, or the Cuebot API, from {folder / 'job.outline.xml'}"
    return f"Submit it with: deadlinecommand {folder / 'job_info.job'} {folder / 'plugin_info.job'}"


def _run_local(args: argparse.Namespace, job: Any) -> None:
    from openpipeline.farm.local import LocalRunner, new_job_id, state_root, summary_text

    for task in job.tasks:
        if task.item is None:
            Path(task.output).parent.mkdir(parents=True, exist_ok=True)
    runner = LocalRunner(job, state_root() / new_job_id(), workers=args.workers,
                         out=None if args.quiet or args.json else sys.stderr)
    try:
        state = runner.run()
    except KeyboardInterrupt:
        print(summary_text(runner.state), file=sys.stderr)
        raise
    text = summary_text(state)
    if state.state == "failed":  # --json gets the error object; `farm status JOB` has the details
        raise FarmTasksFailed(text.replace("\n", "; "))
    emit(args, state.to_dict(), text)


def cmd_status(args: argparse.Namespace) -> None:
    from openpipeline.farm.local import list_states, read_state, state_root, summary_text

    if args.job:
        state = read_state(state_root() / Path(args.job).name)
        lines = [summary_text(state)]
        lines += [f"  {t.index:4d} {t.state:<9} {t.name} ({t.attempts} attempt(s), {t.seconds:.1f} s)"
                  for t in state.tasks]
        emit(args, state.to_dict(), "\n".join(lines))
        return
    states = list_states()
    emit(args, [s.to_dict() for s in states],
         "\n".join(f"{s.id}  {s.state:<9} {s.name}  {s.counts()}" for s in states) or "No local farm jobs.")


def cmd_run_task(args: argparse.Namespace) -> None:
    from openpipeline.farm.model import read_job
    from openpipeline.farm.task import run_task

    code = run_task(read_job(args.job_file), args.index - args.first, sys.stdout)
    if code:
        raise FarmTasksFailed(f"The task exited with code {code}.")
