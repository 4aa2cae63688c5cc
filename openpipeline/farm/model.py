"""A farm job: an operation over many inputs, one task per texture, UDIM set or mesh.

A :class:`FarmTask` is an engine job (its ``to_dict()``: the parameters and inputs),
the cache key of its result, where the result goes, and its estimated time and
memory. A :class:`FarmJob` is the tasks of one operation with the settings every
farm machine needs (the shared result cache, the Python to run). The job is written
once as ``job.json``; every back end runs its tasks with
``python -m openpipeline.farm.task job.json INDEX`` (see :mod:`.task`), and a task
whose key is already in the cache is skipped: its result is only delivered.

Example:
    >>> task = FarmTask("wood.png", {"kind": "texture"}, "ab" * 32, "/out/wood.png")
    >>> job = FarmJob("op-denoise", "texture-denoise", (task,))
    >>> parse_job(job.to_dict()) == job
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from openpipeline.core.errors import UserError

FORMAT_VERSION = 1
TEXTURE_OPERATIONS = {"texture-denoise": "denoise", "texture-inpaint": "inpaint",
                      "texture-upscale": "upscale"}
OPERATIONS = (*TEXTURE_OPERATIONS, "scatter", "master")
JOB_FILE = "job.json"


class FarmJobError(UserError):
    """A job file that cannot be read, or a job that cannot be built from the given inputs."""


@dataclass(frozen=True)
class FarmTask:
    """One unit of farm work.

    Attributes:
        name: what logs and summaries call it (the input's file name).
        job: the engine job's ``to_dict()``; for ``master``: ``{"kind": "master", "item", "project"}``.
        key: the cache key of its result (None for ``master``, which has no cached result).
        output: the result's path (``<UDIM>`` for sets); for an item, the folder its
            new workshop goes in.
        item: the pipeline item the result goes back to as a new workshop, or None.
        project: the item's project root.
        seconds: the estimated run time (None: no estimate).
        memory: the estimated peak memory in bytes (None: no estimate).
    """

    name: str
    job: dict[str, Any]
    key: str | None
    output: str
    item: str | None = None
    project: str | None = None
    seconds: float | None = None
    memory: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "job": self.job, "key": self.key, "output": self.output,
                "item": self.item, "project": self.project, "seconds": self.seconds,
                "memory": self.memory}


@dataclass(frozen=True)
class FarmJob:
    """The tasks of one operation and what every machine running them needs.

    Attributes:
        cache: the result cache every machine shares (None: ``$OPENPIPELINE_CACHE`` on
            the machine, else its user cache).
        python: the interpreter farm tasks run (``python``, or ``mayapy`` for ``master``).
        pythonpath: a folder put first on ``PYTHONPATH`` so tasks import this
            OpenPipeline (None: the farm machine's installation).
    """

    name: str
    operation: str
    tasks: tuple[FarmTask, ...]
    cache: str | None = None
    python: str = "python"
    pythonpath: str | None = None
    created: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, "name": self.name, "operation": self.operation,
                "cache": self.cache, "python": self.python, "pythonpath": self.pythonpath,
                "created": self.created, "settings": self.settings,
                "tasks": [task.to_dict() for task in self.tasks]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def with_tasks(self, tasks: list[FarmTask]) -> FarmJob:
        return replace(self, tasks=tuple(tasks))


_TASK_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,), "job": (dict,), "key": (str, type(None)), "output": (str,),
    "item": (str, type(None)), "project": (str, type(None)), "seconds": (float, int, type(None)),
    "memory": (int, type(None)),
}
_JOB_FIELDS: dict[str, tuple[type, ...]] = {
    "format": (int,), "name": (str,), "operation": (str,), "cache": (str, type(None)),
    "python": (str,), "pythonpath": (str, type(None)), "created": (str,), "settings": (dict,),
    "tasks": (list,),
}


def _check(raw: object, fields: dict[str, tuple[type, ...]], what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise FarmJobError(f"The {what} is not a JSON object; write the job again with "
                           "'openpipeline farm submit'.")
    for key, kinds in fields.items():
        if key not in raw or type(raw[key]) not in kinds:
            raise FarmJobError(f"The {what} lacks a valid '{key}'; write the job again with "
                               "'openpipeline farm submit'.")
    return raw


def parse_job(raw: object) -> FarmJob:
    """The job in ``raw`` (parsed ``job.json``), checked field by field.

    Raises:
        FarmJobError: a field is missing or of the wrong type, or the format is newer.
    """
    data = _check(raw, _JOB_FIELDS, "farm job file")
    if data["format"] != FORMAT_VERSION:
        raise FarmJobError(f"The farm job file has format {data['format']}; this OpenPipeline reads "
                           f"format {FORMAT_VERSION}.")
    if data["operation"] not in OPERATIONS:
        raise FarmJobError(f"The farm job's operation '{data['operation']}' is not known; use "
                           f"{', '.join(OPERATIONS)}.")
    tasks = []
    for raw_task in data["tasks"]:
        t = _check(raw_task, _TASK_FIELDS, "farm job's task")
        seconds = None if t["seconds"] is None else float(t["seconds"])
        tasks.append(FarmTask(t["name"], t["job"], t["key"], t["output"], t["item"], t["project"],
                              seconds, t["memory"]))
    return FarmJob(data["name"], data["operation"], tuple(tasks), data["cache"], data["python"],
                   data["pythonpath"], data["created"], data["settings"])


def read_job(path: str) -> FarmJob:
    """Read and check a ``job.json``.

    Raises:
        FarmJobError: the file is missing, unreadable, not JSON or not a job.
    """
    try:
        with open(path, encoding="utf-8") as stream:
            raw = json.load(stream)
    except FileNotFoundError:
        raise FarmJobError(f"Farm job file '{path}' does not exist; check the path.") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FarmJobError(f"Farm job file '{path}' cannot be read ({exc}); write it again.") from None
    return parse_job(raw)
