"""Write-ahead journal that makes multi-step operations all-or-nothing.

An operation first prepares everything that takes time (copies to hidden
temporary files, fully written and fsync-ed), then writes a journal record
listing the remaining steps, then runs them, then removes the record. Each step
is idempotent, so if the process dies at any point after the journal is written,
any later process can run the steps again and finish the operation (roll
forward). If it dies before, nothing visible has changed (roll back is free).

Steps (paths relative to the project root, ``/``-separated):

* ``{"replace": [src, dst]}``: ``os.replace`` a prepared temporary file into place.
* ``{"move": [src, dst]}``: rename a file or folder, never overwriting.
* ``{"event": [meta_dir, record]}``: write a history event (see :mod:`history`).
* ``{"write_json": [path, data]}``: write a metadata record atomically.

Journals live in the project's ``.openpipeline/journal`` folder, one file per
operation in flight. A journal is recovered when its process is gone (same host)
or when it is older than :data:`FOREIGN_STALE_SECONDS` (another host).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from openpipeline.core import fsutil, history
from openpipeline.core.identity import current_host

JOURNAL_FOLDER = "journal"
FOREIGN_STALE_SECONDS = 600.0

Step = dict[str, Any]


def journal_dir(project_meta: Path) -> Path:
    return project_meta / JOURNAL_FOLDER


def run(project_root: Path, project_meta: Path, op: str, steps: list[Step]) -> None:
    """Journal ``steps``, run them, and clear the journal.

    Fault-injection checkpoints: ``<op>.journaled`` and ``<op>.step<i>`` after
    each step.
    """
    folder = journal_dir(project_meta)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "op": op,
        "pid": os.getpid(),
        "host": current_host(),
        "time": time.time(),
        "steps": steps,
    }
    path = folder / f"{time.time_ns():020d}-{op}-{uuid.uuid4().hex[:12]}.json"
    fsutil.atomic_write_json(path, record)
    fsutil.checkpoint(f"{op}.journaled")
    for index, step in enumerate(steps):
        apply_step(project_root, step)
        fsutil.checkpoint(f"{op}.step{index}")
    fsutil.unlink_quietly(path)


def apply_step(project_root: Path, step: Step) -> None:
    """Run one step; running it again after it succeeded changes nothing."""
    if "replace" in step:
        src, dst = (project_root / p for p in step["replace"])
        try:
            os.replace(src, dst)
        except FileNotFoundError:
            if not dst.exists():
                raise
    elif "move" in step:
        src, dst = (project_root / p for p in step["move"])
        fsutil.move_if_present(src, dst)
    elif "event" in step:
        meta_dir, record = step["event"]
        history.write_event(project_root / meta_dir, record)
    elif "write_json" in step:
        rel, data = step["write_json"]
        target = project_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fsutil.atomic_write_json(target, data)
    else:
        raise ValueError(f"unknown journal step {step!r}")


def _is_stale(record: dict[str, Any]) -> bool:
    if record.get("host") == current_host():
        return not fsutil.pid_alive(int(record.get("pid", -1)))
    return time.time() - float(record.get("time", 0)) > FOREIGN_STALE_SECONDS


def pending(project_meta: Path) -> list[Path]:
    """Journal files present now. Cost: one directory listing."""
    try:
        return sorted(
            Path(entry.path)
            for entry in os.scandir(journal_dir(project_meta))
            if entry.name.endswith(".json") and not fsutil.is_temp_name(entry.name)
        )
    except FileNotFoundError:
        return []


def recover(project_root: Path, project_meta: Path, ops: tuple[str, ...] | None = None) -> list[str]:
    """Finish every journalled operation whose process died.

    Args:
        ops: only recover operations with these names (all when None).

    Returns:
        The names of the operations that were finished.
    """
    finished = []
    for path in pending(project_meta):
        try:
            record = fsutil.read_json(path)
        except FileNotFoundError:
            continue  # finished by its owner or another recoverer meanwhile
        if ops is not None and record.get("op") not in ops:
            continue
        if not _is_stale(record):
            continue
        for step in record["steps"]:
            apply_step(project_root, step)
        fsutil.unlink_quietly(path)
        finished.append(str(record["op"]))
    return finished
