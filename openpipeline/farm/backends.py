"""Writing a farm job out for a farm manager: Open Job Description, OpenCue, Deadline 10.

Every back end writes ``DIR/job.json`` (the job, its paths remapped to the farm's OS
through the project's per-OS roots, see :mod:`.remap`) and its own files beside it;
every task runs ``PYTHON -m openpipeline.farm.task DIR/job.json INDEX`` (see :mod:`.task`).

- ``openjd``: ``DIR/job.template.yaml``, a ``jobtemplate-2023-09`` template: one step for
  the operation, one task per input (task parameter ``Index``); every job parameter has
  a default, so ``openjd run DIR/job.template.yaml`` runs it with no further arguments.
  The action's timeout comes from the tasks' estimates.
- ``opencue``: ``DIR/job.outline.xml``, the OpenCue job spec made by pyoutline
  (``outline.backend.cue.serialize_simple``): one Shell layer, one frame per task
  (frame ``F`` is task ``F-1``), memory and timeout from the estimates.
- ``deadline``: ``DIR/job_info.job`` and ``DIR/plugin_info.job`` for the CommandLine
  plug-in (``deadlinecommand job_info.job plugin_info.job``), one task per input
  (frame ``F`` is task ``F``), task timeout from the estimates (the memory estimate as
  extra info: Deadline 10 has no memory request).
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import yaml

from openpipeline.atomic import write_bytes
from openpipeline.core.errors import UserError
from openpipeline.farm.estimate import memory_megabytes, timeout_seconds
from openpipeline.farm.model import JOB_FILE, FarmJob, FarmJobError, FarmTask
from openpipeline.farm.remap import remap_fields, remap_path

TEMPLATE_FILE = "job.template.yaml"
OUTLINE_FILE = "job.outline.xml"
DEADLINE_JOB_INFO = "job_info.job"
DEADLINE_PLUGIN_INFO = "plugin_info.job"
BACKENDS = ("local", "openjd", "opencue", "deadline")


class BackendMissingError(UserError):
    """A back end's Python package is not installed."""


def remapped(job: FarmJob, roots: Mapping[str, str], farm_os: str) -> FarmJob:
    """The job with every path (inputs, outputs, cache, project, PYTHONPATH) as ``farm_os`` sees it."""
    tasks = [FarmTask(**remap_fields(task.to_dict(), roots, farm_os)) for task in job.tasks]
    return replace(job, tasks=tuple(tasks),
                   cache=None if job.cache is None else remap_path(job.cache, roots, farm_os),
                   pythonpath=None if job.pythonpath is None else remap_path(job.pythonpath, roots, farm_os))


def _farm_path(folder: Path, name: str, roots: Mapping[str, str], farm_os: str) -> str:
    return remap_path(str(Path(os.path.abspath(folder)) / name), roots, farm_os)


def _join(parts: list[str], farm_os: str) -> str:
    """A command line for ``farm_os``'s shell."""
    if farm_os == "windows":
        import subprocess

        return subprocess.list2cmdline(parts)
    return shlex.join(parts)


JOB_FILES = (JOB_FILE, TEMPLATE_FILE, OUTLINE_FILE, DEADLINE_JOB_INFO, DEADLINE_PLUGIN_INFO)


def check_job_folder(job: FarmJob, folder: Path, force: bool = False) -> None:
    """Refuse a job-file folder inside an input folder (the job files would sit among the inputs),
    a file, or a folder already holding job files (another job's) unless ``force``.
    """
    out = Path(os.path.abspath(folder))
    if out.exists() and not out.is_dir():
        raise FarmJobError(f"The job-file folder '{folder}' is a file; give a folder with --out.")
    for task in job.tasks:
        source = task.job.get("source") or task.job.get("mesh")
        inputs = Path(os.path.abspath(str(source))).parent if source else None
        if inputs is not None and (out == inputs or inputs in out.parents):
            raise FarmJobError(f"The job-file folder '{folder}' is inside the input folder '{inputs}'; "
                               "give --out a folder outside it.")
    existing = [name for name in JOB_FILES if (out / name).exists()]
    if existing and not force:
        raise FarmJobError(f"'{folder}' already holds job files ({', '.join(existing)}); give --out a new "
                           "folder, or pass --force to overwrite them.")


def write_job_file(job: FarmJob, folder: Path) -> Path:
    """``folder/job.json`` (the folder is made when missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / JOB_FILE
    write_bytes(path, job.to_json().encode("utf-8"))
    return path


def _max_seconds(job: FarmJob) -> float | None:
    estimates = [t.seconds for t in job.tasks if t.seconds is not None]
    return max(estimates) if len(estimates) == len(job.tasks) and estimates else None


# -- Open Job Description ----------------------------------------------------------------
def openjd_template(job: FarmJob) -> dict[str, Any]:
    """The ``jobtemplate-2023-09`` template running ``job``'s tasks.

    ``JobFile`` defaults to ``job.json`` beside the template (OpenJD joins a relative PATH
    default to the template's folder, so the folder can be moved whole).
    """
    parameters: list[dict[str, Any]] = [
        {"name": "Python", "type": "STRING", "default": job.python,
         "description": "the interpreter that runs a task (python, or mayapy for master)"},
        {"name": "JobFile", "type": "PATH", "objectType": "FILE", "dataFlow": "IN", "default": JOB_FILE,
         "description": "the OpenPipeline job file"},
    ]
    template: dict[str, Any] = {"specificationVersion": "jobtemplate-2023-09", "name": job.name,
                                "parameterDefinitions": parameters}
    if job.pythonpath:
        parameters.append({"name": "PythonPath", "type": "STRING", "default": job.pythonpath,
                           "description": "the OpenPipeline installation the tasks import"})
        template["jobEnvironments"] = [{"name": "OpenPipeline",
                                        "variables": {"PYTHONPATH": "{{Param.PythonPath}}"}}]
    template["steps"] = [{
        "name": job.operation,
        "parameterSpace": {"taskParameterDefinitions": [
            {"name": "Index", "type": "INT", "range": f"0-{len(job.tasks) - 1}"}]},
        "script": {"actions": {"onRun": {
            "command": "{{Param.Python}}",
            "args": ["-m", "openpipeline.farm.task", "{{Param.JobFile}}", "{{Task.Param.Index}}"],
            "timeout": timeout_seconds(_max_seconds(job)),
        }}},
    }]
    return template


def write_openjd(job: FarmJob, folder: Path, roots: Mapping[str, str], farm_os: str) -> list[Path]:
    """Write ``job.json`` and ``job.template.yaml`` into ``folder``; returns both paths."""
    farm_job = remapped(job, roots, farm_os)
    job_path = write_job_file(farm_job, folder)
    template = openjd_template(farm_job)
    path = folder / TEMPLATE_FILE
    write_bytes(path, yaml.safe_dump(template, sort_keys=False).encode("utf-8"))
    return [job_path, path]


# -- OpenCue ------------------------------------------------------------------------------
def _import_outline() -> Any:
    try:
        import outline
        import outline.backend.cue
        import outline.cuerun
        import outline.modules.shell
    except ImportError:
        raise BackendMissingError("The opencue back end needs pyoutline; install it with "
                                  "\"pip install 'openpipeline[farm]'\" (opencue-pyoutline).") from None
    return outline


def opencue_xml(job: FarmJob, job_file: str, farm_os: str, show: str = "openpipeline",
                shot: str = "farm", user: str | None = None) -> str:
    """The OpenCue job spec for ``job``: one layer, frames ``1-N``, frame ``F`` runs task ``F-1``."""
    outline = _import_outline()
    from openpipeline.core.identity import current_user

    user = user or current_user()
    ol = outline.Outline(job.name, shot=shot, show=show, user=user)
    if job.pythonpath:
        ol.set_env("PYTHONPATH", job.pythonpath, pre=True)
    # frames 1-N: the task runner takes frame F as task F-1 (--first 1)
    command = _join([job.python, "-m", "openpipeline.farm.task", job_file, "#IFRAME#", "--first", "1"],
                    farm_os)
    args: dict[str, Any] = {"command": command.replace("'#IFRAME#'", "#IFRAME#"),
                            "range": f"1-{len(job.tasks)}", "chunk": 1}
    memory = max((t.memory or 0) for t in job.tasks) or None
    args["memory"] = f"{memory_megabytes(memory)}m"
    args["timeout"] = max(1, timeout_seconds(_max_seconds(job)) // 60)  # OpenCue counts minutes
    ol.add_layer(outline.modules.shell.Shell(job.operation, **args))
    launcher = outline.cuerun.OutlineLauncher(ol, user=user)
    return str(outline.backend.cue.serialize_simple(launcher))


def write_opencue(job: FarmJob, folder: Path, roots: Mapping[str, str], farm_os: str) -> list[Path]:
    """Write ``job.json`` and ``job.outline.xml`` into ``folder``; returns both paths."""
    _import_outline()  # refused before anything is written
    farm_job = remapped(job, roots, farm_os)
    job_path = write_job_file(farm_job, folder)
    xml = opencue_xml(farm_job, _farm_path(folder, JOB_FILE, roots, farm_os), farm_os)
    path = folder / OUTLINE_FILE
    write_bytes(path, xml.encode("utf-8"))
    return [job_path, path]


# -- Deadline 10 ------------------------------------------------------------------------------
def _key_values(values: Mapping[str, object]) -> bytes:
    return "".join(f"{key}={value}\n" for key, value in values.items()).encode("utf-8")


def deadline_files(job: FarmJob, job_file: str, farm_os: str, folder_on_farm: str
                   ) -> tuple[dict[str, object], dict[str, object]]:
    """The CommandLine plug-in's job info and plugin info; frame ``F`` runs task ``F``."""
    outputs = sorted({str((PureWindowsPath if farm_os == "windows" else PurePosixPath)(t.output).parent)
                      if t.item is None else t.output for t in job.tasks})
    info: dict[str, object] = {
        "Plugin": "CommandLine", "Name": job.name, "BatchName": job.name,
        "Comment": f"OpenPipeline {job.operation}, {len(job.tasks)} task(s)",
        "Frames": f"0-{len(job.tasks) - 1}", "ChunkSize": 1,
        "TaskTimeoutMinutes": math.ceil(timeout_seconds(_max_seconds(job)) / 60), "OnTaskTimeout": "Error",
    }
    # Deadline 10 has no per-job memory request: the estimate travels as extra info for a
    # wrangler's Groups or Limits (and for event plug-ins)
    memory = max((t.memory or 0) for t in job.tasks) or None
    info["ExtraInfoKeyValue0"] = f"OpenPipelineMemoryMB={memory_megabytes(memory)}"
    for number, output in enumerate(outputs):
        info[f"OutputDirectory{number}"] = output
    if job.pythonpath:
        info["EnvironmentKeyValue0"] = f"PYTHONPATH={job.pythonpath}"
    plugin: dict[str, object] = {"Executable": job.python,
              "Arguments": _join(["-m", "openpipeline.farm.task", job_file], farm_os) + " <STARTFRAME>",
              "StartupDirectory": folder_on_farm, "Shell": "default", "ShellExecute": "False"}
    return info, plugin


def write_deadline(job: FarmJob, folder: Path, roots: Mapping[str, str], farm_os: str) -> list[Path]:
    """Write ``job.json``, ``job_info.job`` and ``plugin_info.job`` into ``folder``."""
    farm_job = remapped(job, roots, farm_os)
    job_path = write_job_file(farm_job, folder)
    info, plugin = deadline_files(farm_job, _farm_path(folder, JOB_FILE, roots, farm_os), farm_os,
                                  remap_path(os.path.abspath(folder), roots, farm_os))
    write_bytes(folder / DEADLINE_JOB_INFO, _key_values(info))
    write_bytes(folder / DEADLINE_PLUGIN_INFO, _key_values(plugin))
    return [job_path, folder / DEADLINE_JOB_INFO, folder / DEADLINE_PLUGIN_INFO]


WRITERS = {"openjd": write_openjd, "opencue": write_opencue, "deadline": write_deadline}
