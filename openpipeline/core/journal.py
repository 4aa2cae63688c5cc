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
where one is read back and checked: every path must be relative, ``/``-separated and
free of ``..``, a ``replace`` must start from a temporary name and an ``event`` must
go into an item's ``.op`` folder. Running a step checks again, after following
symbolic links, that every path stays inside the project folder.

When a step fails in the process that runs the operation, the steps already done
are undone in reverse order (a replaced file comes back from a hard link taken
just before), the record is removed and a :class:`StorageError` says what failed;
the project is as it was. A record that cannot be parsed, leads outside the
project, or whose steps cannot be finished on recovery is moved to
``journal/set-aside/`` with a note of why, so that every other command keeps
working; a person judges it (nothing in it has been lost: its files lie where
its steps left them). Journals live in the project's
``.openpipeline/journal`` folder, one file per operation in flight. A journal is
recovered when its process is gone (same host) or when it is older than
:data:`FOREIGN_STALE_SECONDS` (another host).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar

from openpipeline.atomic import TEMP_MARK
from openpipeline.core import fsutil, history
from openpipeline.core.errors import MetadataError, StorageError
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
from openpipeline.core.layout import META_FOLDER
from openpipeline.core.locks import Mutex

JOURNAL_FOLDER = "journal"
SET_ASIDE_FOLDER = "set-aside"
FOREIGN_STALE_SECONDS = 600.0

log = logging.getLogger(__name__)


class NotUndoneError(StorageError):
    """A step failed and undoing the steps before it failed too; the record is set aside."""


def _inside(project_root: Path, relative: str) -> Path:
    """The absolute path of a stored relative path, checked to stay in the project."""
    try:
        _relative(relative, "a journal path")
    except Malformed as exc:
        raise StorageError(f"Cannot use {exc}; it must lie inside the project.") from None
    return fsutil.confined(project_root, project_root.joinpath(*relative.split("/")))


def _backup_of(target: Path, tag: str) -> Path:
    """The hard link that keeps a replaced file until its operation is over."""
    return target.with_name(f".{target.stem}{TEMP_MARK}{tag}{target.suffix}")


@dataclass(frozen=True)
class _PathPairStep:
    """A step from one project-relative path to another, written as ``{KEY: [source, target]}``."""

    KEY: ClassVar[str]
    source: str
    target: str

    def to_dict(self) -> dict[str, Any]:
        return {self.KEY: [self.source, self.target]}

    def paths(self, project_root: Path) -> tuple[Path, Path]:
        """Source and target, each checked to stay inside the project."""
        return _inside(project_root, self.source), _inside(project_root, self.target)

    def check(self, project_root: Path) -> None:
        """Refuse before the operation starts: a path leading out, a target in the way."""
        _src, dst = self.paths(project_root)
        if dst.is_dir() and not dst.is_symlink():
            raise StorageError(f"Cannot write '{self.target}': a folder lies there; move it away "
                               "and try again.")


@dataclass(frozen=True)
class ReplaceStep(_PathPairStep):
    """Rename a prepared temporary file over its final path (``os.replace``)."""

    KEY: ClassVar[str] = "replace"

    def apply(self, project_root: Path, tag: str = "") -> None:
        """Run the step; running it again after it succeeded changes nothing.

        With ``tag``, the file about to be replaced is first kept under a hidden
        backup name (a hard link, or a copy where there are none) so that
        :meth:`undo` can put it back; :meth:`finish` removes the backup.
        """
        src, dst = self.paths(project_root)
        backup = _backup_of(dst, tag)
        if tag and src.exists() and dst.is_file() and not backup.exists():
            try:
                os.link(dst, backup)
            except OSError:
                fsutil.atomic_copy(dst, backup)
        try:
            os.replace(src, dst)
        except FileNotFoundError:
            if not dst.exists():
                raise

    def undo(self, project_root: Path, tag: str) -> None:
        """Put the prepared file back at its temporary name, and the replaced file back."""
        src, dst = self.paths(project_root)
        backup = _backup_of(dst, tag)
        if not src.exists() and dst.exists():
            os.rename(dst, src)
        if backup.exists():
            os.rename(backup, dst)

    def finish(self, project_root: Path, tag: str) -> None:
        """Remove the backup once the operation is over."""
        fsutil.unlink_quietly(_backup_of(self.paths(project_root)[1], tag))


@dataclass(frozen=True)
class MoveStep(_PathPairStep):
    """Rename a file or folder, never overwriting what is at the target."""

    KEY: ClassVar[str] = "move"

    def apply(self, project_root: Path, tag: str = "") -> None:
        """Run the step; running it again after it succeeded changes nothing."""
        src, dst = self.paths(project_root)
        fsutil.move_if_present(src, dst)

    def check(self, project_root: Path) -> None:
        """Refuse before the operation starts when something already lies at the target."""
        _src, dst = self.paths(project_root)
        if dst.exists() or dst.is_symlink():
            raise StorageError(f"Cannot move '{self.source}' to '{self.target}': something "
                               "already lies there; move it away and try again.")

    def undo(self, project_root: Path, tag: str) -> None:
        """Move back what the step moved (nothing if it never ran)."""
        src, dst = self.paths(project_root)
        if not src.exists() and (dst.exists() or dst.is_symlink()):
            fsutil.move_if_present(dst, src)

    def finish(self, project_root: Path, tag: str) -> None:
        """Nothing to clean up."""


@dataclass(frozen=True)
class EventStep:
    """Write a history event into an item's metadata folder ``meta_dir``."""

    KEY: ClassVar[str] = "event"
    meta_dir: str
    event: HistoryEvent[EventData]

    def folder(self, project_root: Path) -> Path:
        return _inside(project_root, self.meta_dir)

    def check(self, project_root: Path) -> None:
        """Refuse before the operation starts when the folder leads outside the project."""
        self.folder(project_root)

    def apply(self, project_root: Path, tag: str = "") -> None:
        """Run the step; the event file is named by the event, so it is written once."""
        history.write_event(self.folder(project_root), self.event)

    def undo(self, project_root: Path, tag: str) -> None:
        """Remove the event file this step wrote, and give its sequence number back."""
        history.remove_event(self.folder(project_root), self.event.file)

    def finish(self, project_root: Path, tag: str) -> None:
        """Nothing to clean up."""

    def to_dict(self) -> dict[str, Any]:
        return {self.KEY: [self.meta_dir, self.event.to_dict()]}


@dataclass(frozen=True)
class WriteJsonStep:
    """Write a metadata record (any JSON value) atomically at ``path``."""

    KEY: ClassVar[str] = "write_json"
    path: str
    data: Any

    def check(self, project_root: Path) -> None:
        """Refuse before the operation starts when the path leads outside the project."""
        _inside(project_root, self.path)

    def apply(self, project_root: Path, tag: str = "") -> None:
        """Run the step; writing the same record again changes nothing."""
        target = _inside(project_root, self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fsutil.atomic_write_json(target, self.data)

    def undo(self, project_root: Path, tag: str) -> None:
        """A rewritten record cannot be taken back."""
        raise StorageError(f"Cannot undo the write of '{self.path}'.")

    def finish(self, project_root: Path, tag: str) -> None:
        """Nothing to clean up."""

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


def _relative(value: object, what: str) -> str:
    """A stored path: relative, ``/``-separated, no ``..``, no drive, no empty part."""
    if not isinstance(value, str) or not value:
        raise Malformed(f"{what} must be a path, not {value!r}")
    parts = value.split("/")
    if (PurePosixPath(value).is_absolute() or PureWindowsPath(value).drive or "\\" in value
            or "\x00" in value or any(part in ("", ".", "..") for part in parts)):
        raise Malformed(f"{what} '{value}' is not a plain path inside the project")
    return value


def _parse_step(raw: object, source: str | Path) -> Step:
    """One step from its JSON: exactly one known key names its kind."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise Malformed(f"a step must be a mapping with one key, not {raw!r}")
    if "replace" in raw or "move" in raw:
        kind = ReplaceStep if "replace" in raw else MoveStep
        src, dst = _pair(raw, kind.KEY)
        src = _relative(src, f"the {kind.KEY} source")
        if kind is ReplaceStep and not fsutil.is_temp_name(src.rsplit("/", 1)[-1]):
            raise Malformed(f"the replace source '{src}' is not a temporary file")
        return kind(src, _relative(dst, f"the {kind.KEY} target"))
    if "event" in raw:
        meta_dir, event = _pair(raw, "event")
        meta_dir = _relative(meta_dir, "the event folder")
        if meta_dir.rsplit("/", 1)[-1] != META_FOLDER:
            raise Malformed(f"the event folder '{meta_dir}' is not an item's {META_FOLDER} folder")
        return EventStep(meta_dir, parse_event(event, source))
    if "write_json" in raw:
        path, data = _pair(raw, "write_json")
        return WriteJsonStep(_relative(path, "the write_json path"), data)
    raise Malformed(f"unknown journal step {raw!r}")


def parse_record(raw: object, source: str | Path) -> JournalRecord:
    """Check a journal file's parsed JSON and make the typed record.

    Every path must be a plain relative path (no ``..``, nothing absolute); where
    it leads once links are followed is checked when a step runs.

    Raises:
        MetadataError: a field or step is missing, of the wrong type, or a path is not
            a plain path inside the project, naming ``source``.
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


def _tag(path: Path) -> str:
    """The id in a journal file's name (``<time>-<op>-<id>.json``)."""
    return path.stem.rsplit("-", 1)[-1]


def run(project_root: Path, project_meta: Path, op: str, steps: list[Step]) -> None:
    """Journal ``steps``, run them, and clear the journal.

    Every step is checked first (paths inside the project, no target in the way);
    a step that fails undoes the ones before it, so the project is as it was.

    Fault-injection checkpoints: ``<op>.journaled``; before each step
    ``<op>.before-<kind>`` and ``<op>.before-step<i>``; after each ``<op>.step<i>``.

    Raises:
        StorageError: a check refused the operation, or a step failed (and was undone).
    """
    for step in steps:
        step.check(project_root)
    folder = journal_dir(project_meta)
    record = JournalRecord(op, os.getpid(), current_host(), time.time(), tuple(steps))
    tag = uuid.uuid4().hex[:12]
    path = folder / f"{time.time_ns():020d}-{op}-{tag}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fsutil.atomic_write_json(path, record.to_dict())
    except OSError as exc:
        raise fsutil.storage_error(exc, f"start the {op}") from exc
    try:
        fsutil.checkpoint(f"{op}.journaled")
        for index, step in enumerate(record.steps):
            fsutil.checkpoint(f"{op}.before-{step.KEY}")
            fsutil.checkpoint(f"{op}.before-step{index}")
            step.apply(project_root, tag)
            fsutil.checkpoint(f"{op}.step{index}")
    except BaseException as exc:
        _roll_back(project_root, path, record, tag, exc)
        if isinstance(exc, OSError):
            raise fsutil.storage_error(exc, f"finish the {op} (nothing was changed)") from exc
        raise
    with _uninterrupted():  # every step is in place: clean up before an interrupt lands
        for step in record.steps:
            step.finish(project_root, tag)
        fsutil.unlink_quietly(path)


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the block; they are delivered when it ends.

    Two holds, because a process-directed signal goes to any thread that does not block it
    (Maya, torch and numba run many): the main thread's mask holds one aimed at it, and a
    holding Python-level handler (Python handlers always run in the main thread) holds one
    another thread took. Only in the main thread (the only one that may set handlers); elsewhere
    the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM)
    pending: list[int] = []

    def hold(signum: int, frame: object) -> None:
        pending.append(signum)

    # a handler set outside Python (None) cannot be put back: that signal keeps the mask alone
    previous = {number: handler for number in held if (handler := signal.getsignal(number)) is not None}
    for number in previous:
        signal.signal(number, hold)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, held) if hasattr(signal, "pthread_sigmask") else None
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for signum in dict.fromkeys(pending):  # delivered now, to the handler the process had
            signal.raise_signal(signum)


def _roll_back(project_root: Path, path: Path, record: JournalRecord, tag: str,
               cause: BaseException) -> None:
    """Undo every step of a failed operation, newest first, and remove its record.

    Raises:
        StorageError: a step could not be undone; the record is set aside.
    """
    try:
        for step in reversed(record.steps):
            step.undo(project_root, tag)
    except (OSError, StorageError) as exc:
        kept = set_aside(path, f"step failed ({cause}) and undoing it failed too ({exc})")
        raise NotUndoneError(
            f"The {record.op} failed ({cause}) and could not be undone ({exc}); its record is "
            f"kept at '{kept}' for a person to finish by hand."
        ) from exc
    fsutil.unlink_quietly(path)


def set_aside(path: Path, reason: str) -> Path:
    """Move a journal record into ``set-aside/`` with a note of why; other commands go on.

    Returns:
        Where the record lies now.
    """
    folder = path.parent / SET_ASIDE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / path.name
    try:
        os.rename(path, kept)
    except FileNotFoundError:
        return kept  # finished or set aside by another process meanwhile
    fsutil.atomic_write_text(kept.with_suffix(".txt"), reason + "\n")
    log.warning("openpipeline: warning: the interrupted operation in '%s' was set aside (%s); "
                "see '%s' and finish it by hand.", path.name, reason, kept)
    return kept


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

    A record that is damaged, leads outside the project, or whose steps fail is set
    aside (see :func:`set_aside`) instead of blocking every later command.

    Args:
        ops: only recover operations with these names (all when None).

    Returns:
        The names of the operations that were finished.
    """
    finished = []
    for path in pending(project_meta):
        try:
            record = parse_record(fsutil.read_json(path), path)
        except FileNotFoundError:
            continue  # finished by its owner or another recoverer meanwhile
        except MetadataError as exc:
            set_aside(path, str(exc))
            continue
        if (ops is not None and record.op not in ops) or not record.is_stale():
            continue
        if _roll_forward(project_root, path, record):
            finished.append(record.op)
    return finished


def _roll_forward(project_root: Path, path: Path, record: JournalRecord) -> bool:
    """Run a dead operation's steps again; set the record aside if one fails.

    One process at a time rolls a record forward (a mutex beside it), so a step that
    another recoverer finished meanwhile is not taken for a failure.
    """
    with Mutex(path.with_suffix(".recovering"), f"Recovering '{path.name}'").held(30.0):
        if not path.exists():
            return False  # finished by another recoverer meanwhile
        return _apply_all(project_root, path, record)


def _apply_all(project_root: Path, path: Path, record: JournalRecord) -> bool:
    tag = _tag(path)
    try:
        for step in record.steps:
            step.apply(project_root, tag)
        for step in record.steps:
            step.finish(project_root, tag)
    except (OSError, StorageError) as exc:
        set_aside(path, f"finishing the {record.op} failed: {exc}")
        return False
    fsutil.unlink_quietly(path)
    return True
