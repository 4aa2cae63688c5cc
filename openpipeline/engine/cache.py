"""The result cache: a finished texture or scatter result, found again by what made it.

A result lies in ``<root>/<kind>/<key[:2]>/<key>/``: the job's files and ``meta.json``
(what the job reported, the file names, when it was made). The key is a sha256 of
everything that decides the result (see :mod:`openpipeline.engine.jobs`), so the same
inputs give the same folder on every machine, and a farm points every machine at one
shared folder (``$OPENPIPELINE_CACHE``).

How it stays safe without locks:

- **Publish by one rename.** A result is written into ``<root>/.staging/<key>-<pid>-<hex>``
  and published by one ``os.rename`` of that folder: a reader sees the whole result or
  none. Two writers of one key both build; the first rename wins, the second finds the
  folder there and discards its own copy.
- **Reads take no lock.** :meth:`ResultCache.get` checks ``meta.json`` and every file it
  names; anything missing or unreadable is a miss (and :meth:`ResultCache.prune`
  removes it). A hit touches ``<folder>/.used``, the least-recently-used clock.
- **Removal by one rename.** A folder leaves by a rename into ``<root>/.trash/`` before it
  is deleted, so a reader again sees all or nothing. Nothing is deleted through a
  symbolic link: a link in the cache is removed as a link, never followed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpipeline.atomic import fsync_path, write_bytes
from openpipeline.engine.errors import EngineInputError

__all__ = ["CACHE_ENV", "CACHE_SIZE_ENV", "CONFIG", "DEFAULT_MAX_BYTES", "Entry", "ResultCache", "cache_root",
           "canonical_key", "file_digest", "parse_size", "user_cache_dir"]

CACHE_ENV = "OPENPIPELINE_CACHE"
CACHE_SIZE_ENV = "OPENPIPELINE_CACHE_SIZE"
DEFAULT_MAX_BYTES = 20 * 1024**3
META = "meta.json"
USED = ".used"
STAGING = ".staging"
TRASH = ".trash"
CONFIG = "cache.json"  # the cache's own settings: {"max_bytes": N}, shared by everyone using it
# After a put, prune at most this often (seconds) per ResultCache unless the estimated total
# (the last scan's total plus what was put since) is over the cap: a put never rescans each time.
PRUNE_INTERVAL = 60.0
INPUTS = "inputs"  # input files saved for jobs (the scatter nodes' meshes): counted, pruned, cleared
# A staging folder this old belongs to a writer that died; prune removes it.
STALE_STAGING_SECONDS = 7 * 24 * 3600
_KEY = re.compile(r"[0-9a-f]{64}\Z")
_KIND = re.compile(r"[a-z][a-z0-9_]*\Z")
_TILE = re.compile(r"[0-9]{4}\Z")
SCATTER_POINTS = "points.npz"  # the one file a scatter entry must hold
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*\Z", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """A size in bytes from ``20G``, ``512M``, ``1.5T`` or a plain number of bytes.

    >>> parse_size("20G") == 20 * 1024**3, parse_size("512m"), parse_size("1000")
    (True, 536870912, 1000)
    """
    match = _SIZE.match(text)
    if match is None:
        raise EngineInputError(f"Cache size '{text}' is not a size; give bytes or a number with K, M, G or T "
                               f"(e.g. 20G).")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def user_cache_dir() -> Path:
    """The user's cache folder for OpenPipeline.

    Linux and others: ``$XDG_CACHE_HOME/openpipeline`` (default ``~/.cache/openpipeline``);
    macOS: ``~/Library/Caches/openpipeline``; Windows: ``%LOCALAPPDATA%/openpipeline/cache``.
    """
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "openpipeline"
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
        return base / "openpipeline" / "cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "openpipeline"


def cache_root(project_cache: Path | None = None) -> Path:
    """Where results are cached: ``$OPENPIPELINE_CACHE``, else ``project_cache``, else
    :func:`user_cache_dir`."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen)
    if project_cache is not None:
        return Path(project_cache)
    return user_cache_dir()


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """The sha256 hex of a file's bytes (an input of a job's key). Cost: reads the whole file.

    Raises:
        EngineInputError: the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    except OSError as exc:
        raise EngineInputError(f"Cannot read '{path}' ({exc.strerror}); check the path.") from exc
    return digest.hexdigest()


def canonical_key(parts: dict[str, Any]) -> str:
    """The sha256 hex of ``parts`` as canonical JSON (sorted keys, no spaces).

    >>> canonical_key({"b": 1, "a": [2]}) == canonical_key({"a": [2], "b": 1})
    True
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _check_address(kind: str, key: str) -> None:
    """Refuse a kind or key that could name a path outside the cache (a caller's bug)."""
    if not _KIND.match(kind) or not _KEY.match(key):
        raise ValueError(f"Cache address {kind!r}/{key!r} is not a kind name and a 64-hex sha256 key.")


def _folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder``, links not followed."""
    total = 0
    for base, dirs, files in os.walk(folder, followlinks=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            try:
                total += os.lstat(os.path.join(base, name)).st_size
            except OSError:
                pass
    return total


def _tiles_ok(meta: dict[str, Any]) -> bool:
    """A texture entry's ``tiles_of`` is absent, or one UDIM tile (4 digits) per file, or
    '' for every file of a plain result."""
    tiles = meta.get("tiles_of")
    if tiles is None:
        return True
    if not isinstance(tiles, list) or len(tiles) != len(meta["files"]):
        return False
    if not all(isinstance(tile, str) and (tile == "" or _TILE.match(tile)) for tile in tiles):
        return False
    return all(tiles) or not any(tiles)


def _kind_ok(kind: str, meta: dict[str, Any]) -> bool:
    """The entry holds the files its kind needs: a scatter its ``points.npz``, a texture at
    least one file (and well-formed UDIM tiles)."""
    files = meta["files"]
    if kind == "scatter":
        return SCATTER_POINTS in files
    if kind == "texture":
        return bool(files) and len(set(files)) == len(files) and _tiles_ok(meta)
    return True


def _plain_file(folder: Path, name: object) -> bool:
    """``name`` is a plain file name (no folder, no link) of a regular file in ``folder``."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        return False
    try:
        return stat.S_ISREG(os.lstat(folder / name).st_mode)
    except OSError:
        return False


def warnings_of(meta: dict[str, Any]) -> list[str]:
    """A run's warnings (a fit that did not converge, a noise level worth checking) from its
    meta or summary: the ``warnings`` sentences; nothing from a hand-edited meta whose
    ``warnings`` is not a list, and only its items that are strings."""
    found = meta.get("warnings")
    return [w for w in found if isinstance(w, str)] if isinstance(found, list) else []


@dataclass(frozen=True)
class Entry:
    """One published result.

    Attributes:
        kind: "texture" or "scatter".
        key: the job's 64-hex sha256 key.
        folder: ``<root>/<kind>/<key[:2]>/<key>``.
        meta: what the job's ``run`` returned, plus ``files``, ``created``, ``kind`` and ``key``.
        size: bytes of the folder.
    """

    kind: str
    key: str
    folder: Path
    meta: dict[str, Any]
    size: int

    def files(self) -> list[Path]:
        """The result's files, in the order the job named them."""
        return [self.folder / name for name in self.meta["files"]]

    @property
    def warnings(self) -> list[str]:
        """The run's warnings: :func:`warnings_of` its meta."""
        return warnings_of(self.meta)

    @property
    def last_used(self) -> float:
        """When the entry was last read or written (seconds since the epoch); 0 if it is gone."""
        for name in (USED, META):
            try:
                return os.lstat(self.folder / name).st_mtime
            except OSError:
                continue
        return 0.0


def read_entry(kind: str, key: str, folder: Path) -> Entry | None:
    """The entry in ``folder``, or None when it is missing or damaged (a link, no or bad
    ``meta.json``, a named file missing or not a regular file, a file its kind needs not
    named, a ``.used`` that is a link).

    Cost: one small JSON read and a stat per file.
    """
    if folder.is_symlink() or not _plain_file(folder, META) or (folder / USED).is_symlink():
        return None
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("kind") != kind or meta.get("key") != key:
        return None
    files = meta.get("files")
    if not isinstance(files, list) or not all(_plain_file(folder, name) for name in files):
        return None
    return Entry(kind, key, folder, meta, _folder_bytes(folder)) if _kind_ok(kind, meta) else None


class ResultCache:
    """Results by kind and key under one root folder (see the module's notes on safety).

    Example:
        >>> import tempfile
        >>> cache = ResultCache(Path(tempfile.mkdtemp()))
        >>> def build(folder):
        ...     _ = (folder / "a.txt").write_text("hi")
        ...     return {"files": ["a.txt"]}
        >>> entry = cache.put("texture", "ab" * 32, build)
        >>> cache.get("texture", "ab" * 32).files()[0].read_text()
        'hi'
    """

    def __init__(self, root: Path, max_bytes: int | None = None) -> None:
        self.root = Path(root)
        self._max_bytes = max_bytes
        size = os.environ.get(CACHE_SIZE_ENV)
        # a bad $OPENPIPELINE_CACHE_SIZE is refused here, whatever the cache's own cap
        self._env_bytes = parse_size(size) if size and max_bytes is None else DEFAULT_MAX_BYTES
        self._estimate: int | None = None  # total bytes after the last prune, plus puts since
        self._pruned_at = 0.0

    @property
    def max_bytes(self) -> int:
        """The size cap: the one given, else the cache's own (``cache.json``, set by
        ``openpipeline cache limit``), else ``$OPENPIPELINE_CACHE_SIZE``, else 20 GiB."""
        if self._max_bytes is not None:
            return self._max_bytes
        stored = self.stored_limit()
        return self._env_bytes if stored is None else stored

    def stored_limit(self) -> int | None:
        """The cap stored in the cache itself (``<root>/cache.json``), or None when none (or unreadable)."""
        try:
            data = json.loads((self.root / CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        value = data.get("max_bytes") if isinstance(data, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    def set_limit(self, max_bytes: int | None) -> None:
        """Store the cache-wide cap in ``<root>/cache.json`` (atomically); None removes it."""
        self.root.mkdir(parents=True, exist_ok=True)
        if max_bytes is None:
            (self.root / CONFIG).unlink(missing_ok=True)
            return
        write_bytes(self.root / CONFIG, json.dumps({"max_bytes": int(max_bytes)}).encode())

    def folder(self, kind: str, key: str) -> Path:
        """Where the entry of ``kind``/``key`` lies (or would lie)."""
        _check_address(kind, key)
        return self.root / kind / key[:2] / key

    # -- reading --------------------------------------------------------------
    def get(self, kind: str, key: str) -> Entry | None:
        """The entry, or None when absent or damaged; a hit is marked used (LRU).

        Lock-free: an entry is published and removed by renames, so this sees it whole
        or not at all. Cost: a JSON read, a stat per file, one small file write.
        """
        entry = read_entry(kind, key, self.folder(kind, key))
        if entry is not None:
            self._touch(entry.folder)
        return entry

    @staticmethod
    def _touch(folder: Path) -> None:
        """Mark ``folder`` used now; quietly nothing if it was just removed or is read-only.

        Never follows a link (O_NOFOLLOW where the system has it, a link skipped) and never
        truncates: a ``.used`` planted as a link cannot empty or touch a file elsewhere.
        """
        path = folder / USED
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            if path.is_symlink():
                return
            fd = os.open(path, flags, 0o666)
            try:
                if os.utime in os.supports_fd:
                    os.utime(fd)
                else:  # Windows: no utime on a descriptor (and no links a user can plant)
                    os.utime(path)
            finally:
                os.close(fd)
        except OSError:
            pass

    def _scan(self) -> list[tuple[str, str, Path, Entry | None]]:
        """Every entry folder under the root (kind, key, folder, entry or None if damaged).
        Links are listed (to be removed as links), never entered."""
        found = []
        for kind_dir in _subfolders(self.root.resolve()):  # the root may be a link; nothing below it
            if not _KIND.match(kind_dir.name):
                continue
            for shard in _subfolders(kind_dir):
                for child in _children(shard):
                    if _KEY.match(child.name):
                        folder = self.root / kind_dir.name / shard.name / child.name  # as folder() names it
                        found.append((kind_dir.name, child.name, folder,
                                      read_entry(kind_dir.name, child.name, folder)))
        return found

    def entries(self) -> list[Entry]:
        """Every valid entry, least recently used first. Cost: a scan of the root."""
        valid = [entry for _, _, _, entry in self._scan() if entry is not None]
        return sorted(valid, key=lambda entry: entry.last_used)

    def inputs(self) -> list[tuple[Path, int, float]]:
        """The input files saved under ``<root>/inputs/`` (path, bytes, last used), least
        recently used first; links are listed with their own size, never followed."""
        found = []
        for path in _children(self.root.resolve() / INPUTS):
            try:
                info = os.lstat(path)
            except OSError:
                continue
            found.append((self.root / INPUTS / path.name, info.st_size, info.st_mtime))
        return sorted(found, key=lambda item: item[2])

    def total_bytes(self) -> int:
        """Bytes of every valid entry and every saved input file."""
        return sum(entry.size for entry in self.entries()) + sum(size for _, size, _ in self.inputs())

    # -- writing --------------------------------------------------------------
    def put(self, kind: str, key: str, build: Callable[[Path], dict[str, Any]]) -> Entry:
        """Build a result into a staging folder and publish it by one rename.

        ``build(folder)`` writes the result files into ``folder`` and returns the meta
        dict with ``"files"``: the names it wrote. If another writer published the key
        first, ours is discarded and theirs returned; a failing build leaves nothing.
        Prunes to the size cap afterwards (never the entry just returned).

        Raises:
            whatever ``build`` raises (the staging folder is removed first).
        """
        target = self.folder(kind, key)
        existing = self.get(kind, key)
        if existing is not None:
            return existing
        staging = self.root / STAGING / f"{key}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        staging.mkdir(parents=True)
        try:
            meta = self._build(kind, key, staging, build)
            entry = self._publish(kind, key, staging, target, meta)
        except BaseException:
            self._remove(staging)
            raise
        self._prune_after_put(entry)
        return entry

    def _prune_after_put(self, entry: Entry) -> None:
        """Prune when this cache has not yet, when the last prune is over a minute old, or when
        the estimated total is over the cap; otherwise only add the entry to the estimate."""
        due = time.monotonic() - self._pruned_at > PRUNE_INTERVAL
        if self._estimate is None or due or self._estimate + entry.size > self.max_bytes:
            self.prune(keep=entry.folder)
        else:
            self._estimate += entry.size

    @staticmethod
    def _build(kind: str, key: str, staging: Path, build: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
        """Run ``build`` and write ``meta.json`` beside its files, everything flushed."""
        meta = dict(build(staging))
        files = meta.get("files")
        if not isinstance(files, list) or not all(_plain_file(staging, name) for name in files):
            raise ValueError(f"A {kind} job must return 'files': the names of the files it wrote "
                             f"into its folder, not {files!r}.")
        for name in files:
            fsync_path(staging / name)
        meta.update(kind=kind, key=key,
                    created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        text = json.dumps(meta, indent=1, sort_keys=True, default=str)
        write_bytes(staging / META, text.encode())
        return dict(json.loads(text))  # as a reader will see it

    def _publish(self, kind: str, key: str, staging: Path, target: Path, meta: dict[str, Any]) -> Entry:
        """Rename ``staging`` to ``target``; if another writer got there first, theirs wins
        (a damaged folder in the way is moved out and the rename tried once more)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(2):
            try:
                os.rename(staging, target)
            except OSError:
                theirs = read_entry(kind, key, target)
                if theirs is not None:
                    self._remove(staging)
                    return theirs
                if not os.path.lexists(target):
                    raise
                self._remove(target)
                continue
            return Entry(kind, key, target, meta, _folder_bytes(target))
        raise OSError(f"Cannot publish the {kind} result {key[:12]}: another writer keeps its folder busy.")

    # -- removing -------------------------------------------------------------
    def _remove(self, path: Path) -> bool:
        """Move ``path`` (a folder or a link) into the trash by one rename, then delete it
        there without following links. False when it was already gone."""
        trash = self.root / TRASH
        trash.mkdir(parents=True, exist_ok=True)
        moved = trash / f"{path.name}-{uuid.uuid4().hex[:12]}"
        try:
            os.rename(path, moved)
        except OSError:  # gone already, or (Windows) held open by a reader: the next prune retries
            return False
        _delete(moved)
        return True

    def prune(self, max_bytes: int | None = None, keep: Path | None = None) -> list[Entry]:
        """Remove damaged entries, then least recently used entries and saved input files
        until the total fits ``max_bytes`` (default: this cache's cap); returns the valid
        entries removed.

        ``keep`` is never removed (the entry a writer just published). Also empties the
        trash and removes staging folders older than a week (their writers died).
        Cost: a scan of the root.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        candidates: list[tuple[float, int, Path, Entry | None]] = [
            (used, size, path, None) for path, size, used in self.inputs()]
        for _, _, folder, entry in self._scan():
            if entry is None:
                self._remove(folder)
            else:
                candidates.append((entry.last_used, entry.size, entry.folder, entry))
        candidates.sort(key=lambda item: item[0])
        total = sum(size for _, size, _, _ in candidates)
        removed = []
        for _, size, path, entry in candidates:
            if total <= limit:
                break
            if path != keep and self._remove(path):
                total -= size
                if entry is not None:
                    removed.append(entry)
        self._sweep()
        self._estimate, self._pruned_at = total, time.monotonic()
        return removed

    def clear(self) -> int:
        """Remove every entry (damaged ones too) and every saved input file; returns how many
        entries were removed."""
        count = sum(1 for _, _, folder, _ in self._scan() if self._remove(folder))
        for path, _, _ in self.inputs():
            self._remove(path)
        self._sweep()
        return count

    def remove_staging(self, key: str, pid: int) -> None:
        """Remove what a killed writer (process ``pid``) left staging for ``key``."""
        _check_address("texture", key)
        for folder in _children(self.root / STAGING):
            if folder.name.startswith(f"{key}-{pid}-"):
                self._remove(folder)

    def _sweep(self) -> None:
        """Empty the trash (left by a process killed while deleting) and old staging folders."""
        for leftover in _children(self.root / TRASH):
            _delete(leftover)
        now = time.time()
        for folder in _children(self.root / STAGING):
            try:
                stale = now - folder.lstat().st_mtime > STALE_STAGING_SECONDS
            except OSError:
                continue
            if stale:
                self._remove(folder)


def _children(folder: Path) -> list[Path]:
    """The entries of ``folder`` (none if it is missing or a link)."""
    if folder.is_symlink():
        return []
    try:
        with os.scandir(folder) as found:
            return [Path(item.path) for item in found]
    except OSError:
        return []


def _subfolders(folder: Path) -> list[Path]:
    """The real (not linked) sub-folders of ``folder``."""
    return [path for path in _children(folder) if path.is_dir() and not path.is_symlink()]


def _delete(path: Path) -> None:
    """Delete a file, link or folder tree; links are removed, never followed."""
    try:
        if path.is_symlink() or not path.is_dir():
            os.unlink(path)
        else:
            shutil.rmtree(path, ignore_errors=True)
    except FileNotFoundError:
        pass
