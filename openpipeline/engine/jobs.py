"""Engine jobs as values: what to compute, its cache key, and running it through the cache.

A job (:class:`~openpipeline.engine.texture.job.TextureJob`,
:class:`~openpipeline.engine.scatter.job.ScatterJob`) names its inputs and parameters; its
key is a sha256 of the job's kind, the engine's ``RESULT_VERSION``, the parameters that
change the result (canonical JSON) and each input file's bytes. Device and threads are
not in the key: a result is the answer wherever it was computed. :func:`run_cached`
answers from the cache or runs the job into it; :func:`job_from_dict` rebuilds a job
sent to a worker process or a farm machine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from openpipeline.engine.cache import Entry, ResultCache, canonical_key, file_digest
from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.progress import ProgressCallback

__all__ = ["Job", "canonical_key", "deliver_cached", "file_digest", "job_from_dict", "result_of",
           "run_cached"]

T = TypeVar("T")
# A result pruned by another process between look-up and holding its files is looked up (or
# run) again, this many times in all before the error reaches the user.
DELIVERY_ATTEMPTS = 5


class Job(Protocol):
    """What the cache and the worker need of a job."""

    @property
    def kind(self) -> str:
        """``"texture"`` or ``"scatter"``."""

    def key(self) -> str:
        """The sha256 hex of everything that decides the result."""

    def run(self, folder: Path, progress: ProgressCallback | None) -> dict[str, Any]:
        """Write the result files into ``folder``; return the meta, with ``"files"``."""

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON-able data; ``job_from_dict(job.to_dict()) == job``."""


def job_from_dict(data: dict[str, Any]) -> Job:
    """The job that ``data`` (from ``job.to_dict()``) describes.

    Raises:
        EngineInputError: the kind is not known or the data does not describe a job.
    """
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "texture":
        from openpipeline.engine.texture.job import TextureJob

        return TextureJob.from_dict(data)
    if kind == "scatter":
        from openpipeline.engine.scatter.job import ScatterJob

        return ScatterJob.from_dict(data)
    raise EngineInputError(f"Job kind {kind!r} is not known; send a job made by TextureJob or ScatterJob.")


def run_cached(job: Job, cache: ResultCache | None,
               progress: ProgressCallback | None = None) -> tuple[Entry | None, bool]:
    """The job's result: ``(entry, reused)``.

    With a cache: a hit is returned at once (``reused`` True); otherwise the job runs into
    a staging folder that is published as the entry. With ``cache`` None (``--no-cache``)
    the job runs into a new temporary folder and the returned entry lies there: the
    caller delivers it and removes ``entry.folder`` (:func:`result_of` does both).
    """
    kind, key = job.kind, job.key()
    if cache is None:
        folder = Path(tempfile.mkdtemp(prefix=f"openpipeline-{kind}-"))
        try:
            meta = dict(job.run(folder, progress))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        meta.update(kind=kind, key=key)  # as the cache would give it back: through JSON
        return Entry(kind, key, folder, json.loads(json.dumps(meta, sort_keys=True, default=str)), 0), False
    found = cache.get(kind, key)
    if found is not None:
        return found, True
    made = {"entry": False}

    def build(folder: Path) -> dict[str, Any]:
        made["entry"] = True
        return job.run(folder, progress)

    entry = cache.put(kind, key, build)
    return entry, not made["entry"]


@contextmanager
def result_of(job: Job, cache: ResultCache | None,
              progress: ProgressCallback | None = None) -> Iterator[tuple[Entry, bool]]:
    """:func:`run_cached` for a block that delivers the entry; a temporary folder made
    without a cache is removed when the block ends."""
    entry, reused = run_cached(job, cache, progress)
    assert entry is not None
    try:
        yield entry, reused
    finally:
        if cache is None:
            shutil.rmtree(entry.folder, ignore_errors=True)


def _link_files(folder: Path, names: list[str], private: Path) -> None:
    """Hard-link (copy where links fail) ``folder``'s files ``names`` into ``private``.

    Raises:
        FileNotFoundError: a file is gone (the entry was pruned).
    """
    private.mkdir(parents=True)
    try:
        for name in names:
            try:
                os.link(folder / name, private / name, follow_symlinks=False)
            except FileNotFoundError:
                raise
            except OSError:  # no hard links here (some network shares): a copy
                shutil.copyfile(folder / name, private / name, follow_symlinks=False)
    except BaseException:
        shutil.rmtree(private, ignore_errors=True)
        raise


def _held(job: Job, key: str, cache: ResultCache, progress: ProgressCallback | None) -> tuple[Entry, bool]:
    """The job's result with its files held in a private folder that no prune touches:
    a hit is linked at once; a miss is linked from the staging folder while it is built.

    Raises:
        FileNotFoundError: another writer's result was pruned before it could be held.
    """
    private = cache.root / ".staging" / f"use-{key}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    found = cache.get(job.kind, key)
    if found is not None:
        try:
            _link_files(found.folder, found.meta["files"], private)
            return dataclasses.replace(found, folder=private), True
        except FileNotFoundError:
            pass  # pruned just now: compute it again
        except OSError:  # a read-only cache: nobody prunes it from here; read the entry itself
            return found, True

    def build(folder: Path) -> dict[str, Any]:
        meta = job.run(folder, progress)
        _link_files(folder, list(meta.get("files", [])), private)
        return meta

    entry = cache.put(job.kind, key, build)
    if private.is_dir():
        return dataclasses.replace(entry, folder=private), False
    _link_files(entry.folder, entry.meta["files"], private)  # another writer's, published first
    return dataclasses.replace(entry, folder=private), True


def deliver_cached(job: Job, cache: ResultCache | None, use: Callable[[Entry, bool], T],
                   progress: ProgressCallback | None = None) -> T:
    """``use(entry, reused)`` on the job's result (see :func:`result_of`).

    A shared cache has no locks: another process may prune the entry right after the
    look-up. So ``use`` reads the result's files held in a private folder (hard links,
    removed afterwards), linked at once on a hit and while building on a miss; a hit
    pruned before it is held is computed again.
    """
    if cache is None:
        with result_of(job, None, progress) as (entry, reused):
            return use(entry, reused)
    key = job.key()
    for attempt in range(1, DELIVERY_ATTEMPTS + 1):
        try:
            held, reused = _held(job, key, cache, progress)
        except FileNotFoundError:
            if attempt == DELIVERY_ATTEMPTS:
                raise
            continue
        try:
            return use(held, reused)
        finally:
            if held.folder.parent == cache.root / ".staging":  # never the entry itself
                shutil.rmtree(held.folder, ignore_errors=True)
    raise AssertionError("unreachable")
