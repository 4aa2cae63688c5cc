"""Write-ahead journal that makes multi-step operations all-or-nothing.

An operation first prepares everything that takes time (copies to hidden
temporary files, fully written and fsync-ed), then writes a journal record
listing the remaining steps, then runs them, then removes the record. Each step
is idempotent, so if the process dies at any point after the journal is written,
any later process can run the steps again and finish the operation (roll
forward). If it dies before, nothing visible has changed (roll back is free).

Steps (paths relative to the project root, ``/``-separated), as written on disk:

* :class:`ReplaceStep` ``{"replace": [src, dst]}``: ``os.replace`` a prepared
  temporary file into place.
* :class:`MoveStep` ``{"move": [src, dst]}``: rename a file or folder, never overwriting.
* :class:`EventStep` ``{"event": [meta_dir, record]}``: write a history event (see
  :mod:`history`).
* :class:`WriteJsonStep` ``{"write_json": [path, data]}``: write a metadata record atomically.

A journal file is a :class:`JournalRecord`; :func:`parse_record` is the one place
where one is read back and checked. Journals live in the project's
``.openpipeline/journal`` folder, one file per operation in flight. A journal is
recovered when its process is gone (same host) or when it is older than
:data:`FOREIGN_STALE_SECONDS` (another host).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from openpipeline.core import fsutil, history
from openpipeline.core.errors import MetadataError
from openpipeline.core.events import (
    NUMBER,
    TEXT,
    EventData,
    HistoryEvent,
    Malformed,
    parse_event,
    require,
)
from openpipeline.core.identity import current_host

JOURNAL_FOLDER = "journal"
FOREIGN_STALE_SECONDS = 600.0


@dataclass(frozen=True)
class _PathPairStep:
    """A step from one project-relative path to another, written as ``{KEY: [source, target]}``."""

    KEY: ClassVar[str]
    source: str
    target: str

    def to_dict(self) -> dict[str, Any]:
        return {self.KEY: [self.source, self.target]}


@dataclass(frozen=True)
class ReplaceStep(_PathPairStep):
    """Rename a prepared temporary file over its final path (``os.replace``)."""

    KEY: ClassVar[str] = "replace"

    def apply(self, project_root: Path) -> None:
        """Run the step; running it again after it succeeded changes nothing."""
        src, dst = project_root / self.source, project_root / self.target
        try:
            os.replace(src, dst)
        except FileNotFoundError:
            if not dst.exists():
                raise


@dataclass(frozen=True)
class MoveStep(_PathPairStep):
    """Rename a file or folder, never overwriting what is at the target."""

    KEY: ClassVar[str] = "move"

    def apply(self, project_root: Path) -> None:
        """Run the step; running it again after it succeeded changes nothing."""
        fsutil.move_if_present(project_root / self.source, project_root / self.target)


@dataclass(frozen=True)
class EventStep:
    """Write a history event into an item's metadata folder ``meta_dir``."""

    KEY: ClassVar[str] = "event"
    meta_dir: str
    event: HistoryEvent[EventData]

    def apply(self, project_root: Path) -> None:
        """Run the step; the event file is named by the event, so it is written once."""
        history.write_event(project_root / self.meta_dir, self.event)

    def to_dict(self) -> dict[str, Any]:
        return {self.KEY: [self.meta_dir, self.event.to_dict()]}


@dataclass(frozen=True)
class WriteJsonStep:
    """Write a metadata record (any JSON value) atomically at ``path``."""

    KEY: ClassVar[str] = "write_json"
    path: str
    data: Any

    def apply(self, project_root: Path) -> None:
        """Run the step; writing the same record again changes nothing."""
        target = project_root / self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        fsutil.atomic_write_json(target, self.data)

    def to_dict(self) -> dict[str, Any]:
        return {self.KEY: [self.path, self.data]}


Step = ReplaceStep | MoveStep | EventStep | WriteJsonStep


@dataclass(frozen=True)
class JournalRecord:
    """One operation in flight: its name, who runs it, since when, and its steps."""

    op: str
    pid: int
    host: str
    time: float
    steps: tuple[Step, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to the journal file."""
        return {"op": self.op, "pid": self.pid, "host": self.host, "time": self.time,
                "steps": [step.to_dict() for step in self.steps]}

    def is_stale(self) -> bool:
        """True if its process is gone (same host) or it is old (another host)."""
        if self.host == current_host():
            return not fsutil.pid_alive(self.pid)
        return time.time() - self.time > FOREIGN_STALE_SECONDS


def _pair(raw: Mapping[str, Any], key: str) -> tuple[Any, Any]:
    value = raw[key]
    if not isinstance(value, list) or len(value) != 2:
        raise Malformed(f"step '{key}' must hold two values, not {value!r}")
    return value[0], value[1]


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise Malformed(f"{what} must be a path, not {value!r}")
    return value


def _parse_step(raw: object, source: str | Path) -> Step:
    """One step from its JSON; the first known key names its kind."""
    if not isinstance(raw, dict):
        raise Malformed(f"a step must be a mapping, not {raw!r}")
    if "replace" in raw or "move" in raw:
        kind = ReplaceStep if "replace" in raw else MoveStep
        src, dst = _pair(raw, kind.KEY)
        return kind(_text(src, f"the {kind.KEY} source"), _text(dst, f"the {kind.KEY} target"))
    if "event" in raw:
        meta_dir, event = _pair(raw, "event")
        return EventStep(_text(meta_dir, "the event folder"), parse_event(event, source))
    if "write_json" in raw:
        path, data = _pair(raw, "write_json")
        return WriteJsonStep(_text(path, "the write_json path"), data)
    raise Malformed(f"unknown journal step {raw!r}")


def parse_record(raw: object, source: str | Path) -> JournalRecord:
    """Check a journal file's parsed JSON and make the typed record.

    Raises:
        MetadataError: a field or step is missing or of the wrong type, naming ``source``.
    """
    try:
        if not isinstance(raw, dict):
            raise Malformed(f"a journal record must be a mapping, not {raw!r}")
        require(raw, {"op": TEXT, "pid": NUMBER, "host": TEXT, "time": (float, int),
                      "steps": (list,)})
        steps = tuple(_parse_step(step, source) for step in raw["steps"])
    except Malformed as exc:
        raise MetadataError(f"Metadata file '{source}' is damaged ({exc}).") from None
    return JournalRecord(raw["op"], raw["pid"], raw["host"], raw["time"], steps)


def journal_dir(project_meta: Path) -> Path:
    return project_meta / JOURNAL_FOLDER


def run(project_root: Path, project_meta: Path, op: str, steps: list[Step]) -> None:
    """Journal ``steps``, run them, and clear the journal.

    Fault-injection checkpoints: ``<op>.journaled`` and ``<op>.step<i>`` after
    each step.
    """
    folder = journal_dir(project_meta)
    folder.mkdir(parents=True, exist_ok=True)
    record = JournalRecord(op, os.getpid(), current_host(), time.time(), tuple(steps))
    path = folder / f"{time.time_ns():020d}-{op}-{uuid.uuid4().hex[:12]}.json"
    fsutil.atomic_write_json(path, record.to_dict())
    fsutil.checkpoint(f"{op}.journaled")
    for index, step in enumerate(record.steps):
        step.apply(project_root)
        fsutil.checkpoint(f"{op}.step{index}")
    fsutil.unlink_quietly(path)


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

    Raises:
        MetadataError: a journal file is damaged (it is named).
    """
    finished = []
    for path in pending(project_meta):
        try:
            raw = fsutil.read_json(path)
        except FileNotFoundError:
            continue  # finished by its owner or another recoverer meanwhile
        record = parse_record(raw, path)
        if ops is not None and record.op not in ops:
            continue
        if not record.is_stale():
            continue
        for step in record.steps:
            step.apply(project_root)
        fsutil.unlink_quietly(path)
        finished.append(record.op)
    return finished
