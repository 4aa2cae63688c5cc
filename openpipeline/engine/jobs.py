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

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from openpipeline.engine.cache import Entry, ResultCache, canonical_key, file_digest
from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.progress import ProgressCallback

__all__ = ["Job", "canonical_key", "file_digest", "job_from_dict", "result_of", "run_cached"]


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
