"""Safe file operations for shared storage (NFS, SMB, local disks).

Every file is written through :mod:`openpipeline.atomic` (a hidden temporary name in
its own folder, flushed and ``fsync``-ed, then renamed into place), so a crash
leaves the old file or the new one, never half of one. Exclusive creation (for
version claims and locks) uses ``O_CREAT | O_EXCL``, or a hard link of a complete
temporary file where the content must appear at once.

Fault injection: when the environment variable ``OPENPIPELINE_FAULT`` names a
checkpoint, the process kills itself with ``SIGKILL`` when it reaches it. The
crash tests use this to stop a save or a master at each step. ``<checkpoint>:<ERRNO>``
(``master.before-replace:ENOSPC``) raises that :class:`OSError` there instead, and
``<checkpoint>:raise`` a plain ``RuntimeError``: the fault-injection tests use these to
fail each step the way a full disk, a permission or another file system would.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from openpipeline.atomic import (
    fsync_path,
    is_temp_name,
    publish,
    temp_path_for,
    unlink_quietly,
    write_all,
    write_bytes,
)
from openpipeline.core.errors import MetadataError, StorageError

__all__ = ["atomic_copy", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "checkpoint",
           "confined", "copy_to_temp", "create_exclusive", "dump_json", "is_temp_name",
           "move_if_present", "pid_alive", "read_bytes", "read_json", "rename_noreplace",
           "storage_error", "temp_path_for", "unlink_quietly"]

FAULT_ENV = "OPENPIPELINE_FAULT"


def checkpoint(name: str) -> None:
    """Fail here if ``OPENPIPELINE_FAULT`` names this checkpoint.

    ``name`` alone: die at once (SIGKILL). ``name:ENOSPC`` (any errno name): raise that
    :class:`OSError`. ``name:raise``: raise a ``RuntimeError``. Cost: one environment lookup.
    """
    fault = os.environ.get(FAULT_ENV)
    if not fault:
        return
    point, _, how = fault.partition(":")
    if point != name:
        return
    if not how or how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "raise":
        raise RuntimeError(f"fault injected at {name}")
    code = getattr(errno, how, None)
    if not isinstance(code, int):
        raise RuntimeError(f"unknown fault {how!r} in {FAULT_ENV}")
    raise OSError(code, os.strerror(code), f"(fault injected at {name})")


def storage_error(exc: OSError, action: str) -> StorageError:
    """A one-sentence user error for a file-system failure while doing ``action``.

    >>> str(storage_error(OSError(28, "No space left on device", "/p/x.ma"), "save"))
    "Cannot save: No space left on device ('/p/x.ma'); free space or fix permissions, then try again."
    """
    where = f" ('{exc.filename}')" if exc.filename else ""
    reason = exc.strerror or type(exc).__name__
    return StorageError(f"Cannot {action}: {reason}{where}; free space or fix permissions, "
                        "then try again.")


def confined(root: Path, path: Path) -> Path:
    """``path`` checked to stay inside ``root`` once symbolic links are followed.

    The deepest part of ``path`` that exists is resolved (so folders a later step
    creates are checked through their existing parent); the last part itself is not
    followed, since renaming or replacing a link changes the link, not its target.

    Raises:
        StorageError: the path leads outside ``root`` (a link, ``..`` or an absolute part).

    Cost: one ``realpath`` (a ``stat`` per part).
    """
    real_root = os.path.realpath(root)
    parent = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    inside = os.path.join(parent, os.path.basename(path))
    if os.path.commonpath([real_root, inside]) != real_root or inside == real_root:
        raise StorageError(
            f"'{path}' leads outside the project folder '{root}' (through a link or '..'); "
            "remove the link or fix the path."
        )
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Cost: one file create, one fsync, one rename.
    """
    write_bytes(path, data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`atomic_write_bytes`)."""
    write_bytes(path, text.encode("utf-8"))


def dump_json(data: Any) -> bytes:
    """Serialise a record the way every metadata file is written."""
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def atomic_write_json(path: Path, data: Any) -> None:
    """Write a JSON record atomically."""
    write_bytes(path, dump_json(data))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON record; a damaged file raises :class:`MetadataError`.

    Cost: one open and two reads (no buffered file object: a history is many
    small files).
    """
    try:
        return json.loads(read_bytes(path).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MetadataError(f"Metadata file '{path}' is damaged ({exc}).") from exc


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The whole content of a file, read with plain system calls."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def create_exclusive(path: Path, data: bytes = b"") -> bool:
    """Create ``path`` holding ``data`` only if nothing is there yet.

    The content appears complete at once: it is written to a temporary file that
    is then hard-linked to ``path`` (``link`` fails if ``path`` exists). Where the
    file system has no hard links, ``O_EXCL`` creation is used instead.

    Returns:
        True if this call created the file, False if it already existed.
    """
    if not data:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return False
        os.close(fd)
        return True
    tmp = temp_path_for(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return False
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        return True
    finally:
        unlink_quietly(tmp)


def copy_to_temp(source: Path, destination: Path) -> Path:
    """Copy ``source`` to a hidden temporary name beside ``destination``, fsync-ed.

    Returns the temporary path; the caller renames it into place.
    Cost: one full copy of the file plus one fsync.
    """
    tmp = temp_path_for(destination)
    try:
        shutil.copyfile(source, tmp)  # sendfile/copy_file_range where the OS has them
        fsync_path(tmp)
    except BaseException:
        unlink_quietly(tmp)
        raise
    return tmp


def atomic_copy(source: Path, destination: Path) -> None:
    """Copy a file so that ``destination`` is never seen half-written."""
    with publish(destination) as tmp:
        shutil.copyfile(source, tmp)  # sendfile/copy_file_range where the OS has them


def move_if_present(source: Path, destination: Path) -> bool:
    """Rename ``source`` to ``destination``; idempotent for roll-forward.

    Returns True if something was moved, False if it had already moved. Refuses to
    overwrite an existing destination (nothing is ever replaced by a move, even by
    a file that appears at the same moment: see :func:`rename_noreplace`).
    """
    if not source.exists() and not source.is_symlink():
        if destination.exists():
            return False
        raise FileNotFoundError(errno.ENOENT, "Neither source nor destination exists", str(source))
    if destination.exists() or destination.is_symlink():
        raise FileExistsError(errno.EEXIST, "Refusing to overwrite", str(destination))
    destination.parent.mkdir(parents=True, exist_ok=True)
    rename_noreplace(source, destination)
    return True


_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def _renameat2(source: Path, destination: Path) -> bool:
    """``renameat2(RENAME_NOREPLACE)`` where Linux has it; False if unsupported here."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    function = getattr(libc, "renameat2", None)
    if function is None:
        return False
    result = function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(destination),
                      _RENAME_NOREPLACE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(destination))


def rename_noreplace(source: Path, destination: Path) -> None:
    """Rename ``source`` to ``destination``, failing if anything lies at ``destination``.

    Uses ``renameat2(RENAME_NOREPLACE)`` on Linux; elsewhere a file is hard-linked
    to its new name and then unlinked (``link`` never replaces), and a folder is
    renamed after a check.

    Raises:
        FileExistsError: something already lies at ``destination``.
    """
    if _renameat2(source, destination):
        return
    if os.name == "nt" or source.is_dir() or source.is_symlink():
        # Windows' rename never replaces; a folder or a link is checked, then renamed
        if os.name != "nt" and (destination.exists() or destination.is_symlink()):
            raise FileExistsError(errno.EEXIST, "Refusing to overwrite", str(destination))
        os.rename(source, destination)
        return
    try:
        os.link(source, destination)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        if destination.exists() or destination.is_symlink():
            raise FileExistsError(errno.EEXIST, "Refusing to overwrite", str(destination)) from None
        os.rename(source, destination)
        return
    os.unlink(source)


def pid_alive(pid: int) -> bool:
    """True if a process with this id runs on this machine."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _windows_pid_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return bool(code.value == 259)  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
