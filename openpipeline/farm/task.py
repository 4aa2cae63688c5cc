"""One farm task on one machine: ``python -m openpipeline.farm.task JOB.json INDEX``.

Every back end runs this command (OpenJD, OpenCue and Deadline on farm machines, the
local back end in worker processes). It reads the job, runs task ``INDEX`` through the
shared result cache (a result already there is only delivered, not computed again) and
delivers the result to the task's output, or back to its pipeline item as a new
workshop. ``master`` tasks run ``mayapy standalone/master_scene.py`` (Maya needed).

Output: one JSON line per progress update ``{"fraction", "stage", "message"}``, then
``{"done": KEY, "reused": bool, "files": [...]}`` or ``{"error": SENTENCE}``.
Exit codes: 0 done, 2 bad input (the sentence says what to fix), 1 failed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from openpipeline.core.errors import UserError
from openpipeline.engine.allocator import keep_freed_memory
from openpipeline.engine.errors import Cancelled, EngineInputError
from openpipeline.engine.progress import Progress, ProgressCallback
from openpipeline.farm.model import FarmJob, FarmJobError, FarmTask, read_job

MASTER_SCRIPT = "standalone/master_scene.py"


def json_progress(out: TextIO, interval: float = 0.5) -> ProgressCallback:
    """A progress callback printing a JSON line at most every ``interval`` seconds (and at the end)."""
    last = [0.0]

    def report(progress: Progress) -> None:
        now = time.monotonic()
        if progress.fraction < 1.0 and now - last[0] < interval:
            return
        last[0] = now
        line = {"fraction": round(progress.fraction, 4), "stage": progress.stage,
                "message": progress.message}
        out.write(json.dumps(line) + "\n")
        out.flush()

    return report


def _cache(job: FarmJob) -> Any:
    """The job's own cache (its explicit --cache wins over $OPENPIPELINE_CACHE), else the usual one."""
    from openpipeline.engine.cache import ResultCache, cache_root

    return ResultCache(Path(job.cache) if job.cache else cache_root(None))


def deliver(task: FarmTask, entry: Any, kind: str) -> list[str]:
    """Copy a cached result to the task's output, or into its item as a new workshop."""
    if task.item is not None:
        from openpipeline.farm.items import deliver_to_item

        return [str(p) for p in deliver_to_item(task, entry)]
    Path(task.output).parent.mkdir(parents=True, exist_ok=True)  # a farm machine may see it first
    if kind == "texture":
        from openpipeline.engine.texture.job import deliver as deliver_texture

        return [str(p) for p in deliver_texture(entry, task.output)]
    from openpipeline.engine.scatter.job import deliver as deliver_scatter

    return [str(deliver_scatter(entry, task.output))]


def run_engine_task(job: FarmJob, task: FarmTask, progress: ProgressCallback | None) -> dict[str, Any]:
    """Run (or reuse) one engine task and deliver it; returns the last line's object."""
    from openpipeline.engine.jobs import deliver_cached, job_from_dict

    engine_job = job_from_dict(task.job)
    def use(entry: Any, reused: bool) -> tuple[str, bool, list[str], list[str]]:
        return entry.key, reused, deliver(task, entry, engine_job.kind), entry.warnings

    key, reused, files, warnings = deliver_cached(engine_job, _cache(job), use, progress)
    for warning in warnings:  # a warning never passes silently: a line in the task log
        print(f"openpipeline farm task: warning: {warning}", file=sys.stderr)
    result: dict[str, Any] = {"done": key, "reused": reused, "files": files}
    if warnings:
        result["warnings"] = warnings
    return result


def master_command(job: FarmJob, task: FarmTask) -> list[str]:
    """The ``mayapy`` command that masters the task's item (needs Maya on the machine):
    ``mayapy CHECKOUT/standalone/master_scene.py --project ROOT --note NOTE ITEM``, the script found
    in the checkout the job names (its pythonpath, already remapped for the farm), never the cwd."""
    if not job.pythonpath:
        raise FarmJobError(f"This master job names no OpenPipeline checkout to run {MASTER_SCRIPT} from; "
                           "submit it again with --pythonpath DIR.")
    script = str(Path(job.pythonpath) / MASTER_SCRIPT)
    return [job.python, script, "--project", str(task.project), "--note", str(task.job.get("note", "")),
            str(task.item)]


def run_task(job: FarmJob, index: int, out: TextIO) -> int:
    """Run task ``index`` of ``job``, reporting on ``out``; returns the exit code."""
    if not 0 <= index < len(job.tasks):
        raise FarmJobError(f"Task {index} does not exist; the job has tasks 0 to {len(job.tasks) - 1}.")
    task = job.tasks[index]
    if job.operation == "master":
        if shutil.which(job.python) is None:
            raise FarmJobError(f"'{job.python}' is not on this machine's PATH; a master needs Maya's mayapy "
                               "(give its path with --python when submitting).")
        command = master_command(job, task)
        if not Path(command[1]).is_file():
            raise FarmJobError(f"'{command[1]}' does not exist on this machine; check the job's pythonpath "
                               "and the project's roots for this OS.")
        return subprocess.call(command)
    result = run_engine_task(job, task, json_progress(out))
    out.write(json.dumps(result) + "\n")
    out.flush()
    return 0


def _say(out: TextIO, message: str) -> None:
    out.write(json.dumps({"error": message}) + "\n")
    out.flush()
    print(f"openpipeline farm task: {message}", file=sys.stderr)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """The command line: ``JOB.json INDEX``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m openpipeline.farm.task",
                                     description="run one task of an OpenPipeline farm job")
    parser.add_argument("job", help="the job's job.json")
    parser.add_argument("index", type=int, help="the task's number (a frame number with --first)")
    parser.add_argument("--first", type=int, default=0,
                        help="the number of the first task (1 where a farm counts frames from 1)")
    args = parser.parse_args(argv)
    out = sys.stdout
    keep_freed_memory()  # a process of our own (see openpipeline.engine.allocator)
    # SIGTERM (a farm manager or the local runner stopping the task) unwinds like Ctrl-C, so
    # half-written files are removed on the way out (openpipeline.atomic) and nothing is published
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run_task(read_job(args.job), args.index - args.first, out)
    except (UserError, EngineInputError) as exc:
        _say(out, str(exc))
        return 2
    except (Cancelled, KeyboardInterrupt):
        _say(out, "Interrupted.")
        return 130
    except Exception as exc:
        if os.environ.get("OPENPIPELINE_DEBUG"):
            raise
        _say(out, f"Task failed ({type(exc).__name__}: {exc}).")
        return 1


if __name__ == "__main__":
    sys.exit(main())
