"""Publishing files whole or not at all: the one atomic-write helper of the package.

A file is written under a hidden temporary name in its own folder (same file
system, so the rename is atomic), flushed and ``fsync``-ed, then renamed over the
final name. A crash leaves the old file or the new one, never half of one, and a
failure removes the temporary file. The temporary name keeps the final suffix, so
writers that pick a format from the extension (OpenImageIO, USD) write the right
one: ``.albedo.tmp-<12 hex>.exr`` for ``albedo.exr``.

Used by the pipeline core (metadata, scene files) and by the engines (images,
point files, caches). Imports nothing of ours, so every layer may use it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

TEMP_MARK = ".tmp-"

__all__ = ["TEMP_MARK", "fsync_path", "is_temp_name", "publish", "publish_problem", "publish_together",
           "temp_path_for", "unlink_quietly", "write_all", "write_bytes"]


def temp_path_for(path: Path) -> Path:
    """A hidden temporary name in the same folder as ``path``, with its suffix.

    >>> name = temp_path_for(Path("/p/albedo.exr")).name
    >>> name.startswith(".albedo.tmp-") and name.endswith(".exr") and is_temp_name(name)
    True
    """
    return path.with_name(f".{path.stem}{TEMP_MARK}{uuid.uuid4().hex[:12]}{path.suffix}")


def is_temp_name(name: str) -> bool:
    """True for names made by :func:`temp_path_for` (left behind only by a crash)."""
    return name.startswith(".") and TEMP_MARK in name


def unlink_quietly(path: Path) -> None:
    """Remove a file that may already be gone."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to an open file descriptor, then fsync it."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def fsync_path(path: Path) -> None:
    """Flush a written file's data to stable storage.

    Cost: one open and one fsync (on network storage, a round trip to the server).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def publish(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; publish it on success.

    On leaving the block normally the temporary file is fsync-ed and renamed over
    ``path``; if the block raises (or the rename fails), the temporary file is
    removed and ``path`` is untouched.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "points.json"
        >>> with publish(target) as tmp:
        ...     _ = tmp.write_text("{}")
        >>> target.read_text(), [p.name for p in target.parent.iterdir()]
        ('{}', ['points.json'])
    """
    with publish_together([path]) as (tmp,):
        yield tmp


@contextmanager
def publish_together(paths: Sequence[str | Path]) -> Iterator[list[Path]]:
    """Yield a temporary path for each of ``paths``; publish them all at the end.

    On leaving the block normally every temporary file is fsync-ed first, then all
    are renamed into place (a UDIM set appears together); if the block raises, every
    temporary file is removed and no path is touched.
    """
    targets = [Path(path) for path in paths]
    temporaries = [temp_path_for(target) for target in targets]
    try:
        yield temporaries
        for tmp in temporaries:
            fsync_path(tmp)
        for tmp, target in zip(temporaries, targets, strict=True):
            os.replace(tmp, target)
    except BaseException:
        for tmp in temporaries:
            unlink_quietly(tmp)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    """Publish ``data`` as the whole content of ``path`` (see :func:`publish`).

    Cost: one file create, one fsync, one rename.
    """
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        unlink_quietly(tmp)
        raise


def publish_problem(path: str | Path) -> str | None:
    """Why ``path`` could not be published, in one sentence; None when it can.

    Checked before long work starts, so a job that cannot write its result fails at
    once instead of after hours: the folder must exist and be a folder, ``path`` must
    not be a folder, and a temporary file must be creatable (and is removed) beside it.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> publish_problem(folder / "out.png") is None
    True
    >>> publish_problem(folder)
    "Output '...' is a folder; give a file name."
    """
    path = Path(path)
    folder = path.absolute().parent
    if path.is_dir():
        return f"Output '{path}' is a folder; give a file name."
    if not folder.is_dir():
        return f"Output folder '{folder}' does not exist; create it first."
    probe = temp_path_for(path)
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        return f"Cannot write into '{folder}' ({exc.strerror}); choose a folder you can write to."
    os.close(fd)
    unlink_quietly(probe)
    return None
