"""One node's engine job: answered from the cache, run in the background, or run at once in batch.

:class:`JobState` is the per-node state machine both DG nodes share. ``evaluate`` never
blocks in an interactive session: a cached result is answered at once; otherwise a
:class:`~openpipeline.engine.worker.BackgroundJob` is started (once per key) and the node
reports ``running`` until the worker's result lands, when ``on_change`` is called (from
the worker's reader thread: the Maya glue hands it to the main thread) so the node is
dirtied and evaluated again, and this time answers from the cache. In batch (``mayapy``,
render farm) the job runs synchronously inside ``evaluate``.

A new key (the inputs changed) cancels the job that was running for the old one;
:meth:`JobState.dispose` (node deleted) cancels it too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openpipeline.engine.cache import Entry, ResultCache
from openpipeline.engine.errors import EngineError
from openpipeline.engine.jobs import Job, run_cached

if TYPE_CHECKING:
    from openpipeline.engine.worker import BackgroundJob

STATUSES = ("idle", "cached", "running", "failed")  # the nodes' status enum, in this order for ever

PROGRESS_INTERVAL = 0.25  # seconds between two progress reports of a running job

JobStarter = Callable[[Job, Path, Callable[["BackgroundJob"], None]], "BackgroundJob"]


def start_background(job: Job, cache_root: Path, on_change: Callable[[BackgroundJob], None]) -> BackgroundJob:
    """Start ``job`` in a worker process publishing into the cache at ``cache_root``."""
    from openpipeline.engine.worker import BackgroundJob  # the worker's handle: only when a job starts

    handle = BackgroundJob(job, cache_root, on_change=on_change)
    handle.start()
    return handle


@dataclass(frozen=True)
class Answer:
    """What a node shows now.

    Attributes:
        status: one of :data:`STATUSES`.
        entry: the cached result for the current inputs (``cached`` only), else None.
        fraction: progress 0..1 (1 when cached).
        message: the worker's last progress message, the failure sentence, or the cached
            result's warnings (empty when it has none).
    """

    status: str
    entry: Entry | None = None
    fraction: float = 0.0
    message: str = ""

    @classmethod
    def failed(cls, message: str) -> Answer:
        return cls("failed", None, 0.0, message)


def _cached(entry: Entry) -> Answer:
    """The answer for a cached result: its message is the run's first warning
    (:attr:`.Entry.warnings`), with how many more there are, or empty. (The texture node
    shows it; the scatter node's runs have no warnings.)"""
    warnings = entry.warnings
    more = len(warnings) - 1
    message = warnings[0] if warnings else ""
    if more > 0:
        message += f" (and {more} more warning{'s' if more > 1 else ''})"
    return Answer("cached", entry, 1.0, message)


def problem(exc: BaseException) -> str:
    """One sentence for an error the engine raised while reading a node's inputs."""
    if isinstance(exc, OSError):
        name = f" '{exc.filename}'" if exc.filename else ""
        return f"Cannot read{name} ({exc.strerror or exc}); check the path and its permissions."
    return str(exc)


class JobState:
    """The job of one node: which key it is for, and the worker computing it.

    Args:
        on_change: called (from a worker's reader thread) when the running job reports
            progress, finishes or fails; the Maya glue dirties the node from it.
        start: starts a job in the background (tests may pass their own).
    """

    def __init__(self, on_change: Callable[[], None] | None = None,
                 start: JobStarter = start_background) -> None:
        self._on_change = on_change
        self._start = start
        self._lock = threading.Lock()
        self._key: str | None = None
        self._handle: BackgroundJob | None = None
        self._last_report = 0.0
        self._memo: tuple[Job, Hashable, str] | None = None

    @property
    def key(self) -> str | None:
        """The key of the job this node is showing or computing, if any."""
        return self._key

    @property
    def handle(self) -> BackgroundJob | None:
        """The background job of the current key (running, or finished and not yet seen)."""
        return self._handle

    def evaluate(self, job: Job | None, cache: ResultCache, batch: bool, stamp: Hashable = None) -> Answer:
        """Answer for ``job`` (None: no input, ``idle``).

        Args:
            stamp: what the job's input files look like (paths, sizes, modification times);
                while the job and its stamp are unchanged the key is not computed again.

        Cost: hashes the job's input files (its key) unless the stamp spares it; in batch,
        the whole job when not cached.
        """
        if job is None:
            self.reset()
            return Answer("idle")
        try:
            key = self._key_of(job, stamp)
        except (EngineError, OSError) as exc:
            self.reset()
            return Answer.failed(problem(exc))
        with self._lock:
            if key != self._key:
                self._cancel()
                self._key = key
        entry = cache.get(job.kind, key)
        if entry is not None:
            self._handle = None
            return _cached(entry)
        if batch:
            return self._run_now(job, cache)
        if self._handle is None:
            # on_change is tied to the key, not the handle: a quick worker may report before
            # start() returns the handle.
            self._handle = self._start(job, cache.root, lambda _handle: self._changed(key))
        return self._from_handle(self._handle)

    def _key_of(self, job: Job, stamp: Hashable) -> str:
        memo = self._memo
        if stamp is not None and memo is not None and memo[0] == job and memo[1] == stamp:
            return memo[2]
        key = job.key()
        self._memo = (job, stamp, key) if stamp is not None else None
        return key

    def reset(self) -> None:
        """Forget the current key, cancelling its job if it runs."""
        with self._lock:
            self._cancel()
            self._key = None

    def dispose(self) -> None:
        """The node is being deleted: cancel its job (``on_change`` is not called for it again).

        Not final: a deletion that is undone brings the node back, and its next
        evaluation starts the job again.
        """
        self.reset()

    @staticmethod
    def _run_now(job: Job, cache: ResultCache) -> Answer:
        try:
            entry, _reused = run_cached(job, cache)
        except (EngineError, OSError) as exc:
            return Answer.failed(problem(exc))
        if entry is None:
            return Answer.failed("The engine published no result; run the job again.")
        return _cached(entry)

    @staticmethod
    def _from_handle(handle: BackgroundJob) -> Answer:
        state = handle.state
        if state == "done" and handle.entry is not None:
            return _cached(handle.entry)
        if state in ("failed", "cancelled"):
            return Answer.failed(handle.message or f"The job was {state}; change an input to run it again.")
        return Answer("running", None, handle.fraction, handle.message)

    def _cancel(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None and handle.state == "running":
            handle.cancel()

    def _changed(self, key: str) -> None:
        handle = self._handle
        if key != self._key or self._on_change is None:
            return  # a job cancelled for newer inputs
        now = time.monotonic()
        finished = handle is None or handle.state != "running"
        if not finished and now - self._last_report < PROGRESS_INTERVAL:
            return  # progress lines come fast: dirty the node a few times a second at most
        self._last_report = now
        self._on_change()
