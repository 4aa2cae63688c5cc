"""Locks: artists' check-outs and short internal mutexes.

A lock is a small JSON file created exclusively (its content appears whole), with
the holder's user, host, pid, the time it was taken and a heartbeat.

* A **check-out** (:class:`CheckOut`) belongs to a user, not to a process: it
  outlives the command that took it and goes stale when its heartbeat is older
  than the project's ``lock_ttl_seconds``. It is advisory: saving a workshop on an
  item checked out by somebody else is refused unless the caller overrides it.
  Stealing moves the old lock file aside (only one stealer can win that rename)
  and records who took it from whom.
* A **mutex** (:class:`Mutex`) guards one short exclusive step (mastering an item,
  rewriting the registry). It is stale when its process is gone (same host) or
  older than a few minutes (another host).
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpipeline.core import fsutil
from openpipeline.core.errors import BusyError, LockHeldError, MetadataError, UserError, warn_once
from openpipeline.core.identity import current_host, current_user, now_iso, short_time


@dataclass(frozen=True)
class LockInfo:
    """What a lock file says about its holder.

    ``damaged`` says why the file could not be read as a lock (empty for a good
    one); a damaged lock has no known holder and always counts as stale.
    """

    user: str
    host: str
    pid: int
    acquired: str
    heartbeat: float
    reason: str = ""
    damaged: str = ""

    @classmethod
    def from_record(cls, record: Any) -> LockInfo:
        """The lock a record describes; missing fields get defaults (older files).

        Raises:
            MetadataError: the record is not a mapping.
            ValueError: the pid is not a whole number or the heartbeat not a finite number.
        """
        if not isinstance(record, dict):
            raise MetadataError(f"Lock record is not a mapping: {record!r}.")
        heartbeat = record.get("heartbeat", 0.0)
        if type(heartbeat) not in (int, float) or not math.isfinite(heartbeat):
            raise ValueError(f"the heartbeat must be a finite number, not {heartbeat!r}")
        pid = record.get("pid", -1)
        if type(pid) is not int:
            raise ValueError(f"the pid must be a whole number, not {pid!r}")
        return cls(
            user=str(record.get("user", "unknown")),
            host=str(record.get("host", "unknown")),
            pid=pid,
            acquired=str(record.get("acquired", "")),
            heartbeat=float(heartbeat),
            reason=str(record.get("reason", "")),
            damaged=str(record.get("damaged", "")),
        )

    @classmethod
    def unreadable(cls, why: str) -> LockInfo:
        """The stand-in for a lock file that cannot be read: no holder, stale."""
        return cls(user="unknown", host="unknown", pid=-1, acquired="", heartbeat=0.0,
                   damaged=why)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "user": self.user,
            "host": self.host,
            "pid": self.pid,
            "acquired": self.acquired,
            "heartbeat": self.heartbeat,
            "reason": self.reason,
        }
        if self.damaged:
            record["damaged"] = self.damaged
        return record

    def age(self) -> float:
        return time.time() - self.heartbeat

    def describe(self) -> str:
        if self.damaged:
            return f"a damaged lock file ({self.damaged})"
        return f"{self.user} on {self.host} since {short_time(self.acquired)}"


def _read(path: Path, named: Path | None = None) -> LockInfo | None:
    """The lock at ``path`` (None if there is none); a damaged file reads as a stale lock.

    ``named`` is the lock file to name in the warning when ``path`` is where it
    was just moved aside.
    """
    try:
        return LockInfo.from_record(fsutil.read_json(path))
    except FileNotFoundError:
        return None
    except (MetadataError, ValueError, TypeError) as exc:
        shown = named or path
        why = str(exc.__cause__ or exc).rstrip(".")  # the JSON error, not read_json's wrapper
        warn_once(str(shown), f"Lock file '{shown}' is damaged ({why}); it counts as stale, so "
                  "'openpipeline lock steal' or a new check-out replaces it.")
        return LockInfo.unreadable(why)


def _take_aside(path: Path, aside: Path, is_stale: Callable[[LockInfo], bool]) -> LockInfo | None:
    """Move a stale lock file out of the way; put it back if it turned out live.

    Two processes may both see the same stale lock; the first renames it away
    and creates its own. The second's rename then grabs the *new* lock, which it
    notices (not stale) and links back into place.
    """
    aside.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.rename(aside)
    except FileNotFoundError:
        return None
    info = _read(aside, named=path)
    if info is not None and not is_stale(info):
        try:
            os.link(aside, path)
        except OSError:
            pass
        fsutil.unlink_quietly(aside)
        return None
    return info


def _new_info(user: str | None, reason: str = "") -> LockInfo:
    return LockInfo(
        user=user or current_user(),
        host=current_host(),
        pid=os.getpid(),
        acquired=now_iso(),
        heartbeat=time.time(),
        reason=reason,
    )


class CheckOut:
    """An advisory, per-item check-out stored at ``path``."""

    def __init__(self, path: Path, ttl_seconds: float) -> None:
        self.path = path
        self.ttl_seconds = ttl_seconds

    def status(self) -> LockInfo | None:
        """The current holder, or None. A stale lock is still reported."""
        return _read(self.path)

    def is_stale(self, info: LockInfo) -> bool:
        """True if the heartbeat is older than the TTL, or the lock file is damaged."""
        return bool(info.damaged) or info.age() > self.ttl_seconds

    def holder_other_than(self, user: str) -> LockInfo | None:
        """The live holder if it is somebody other than ``user``."""
        info = self.status()
        if info is None or info.user == user or self.is_stale(info):
            return None
        return info

    def acquire(self, user: str | None = None, reason: str = "") -> tuple[LockInfo, LockInfo | None]:
        """Take the check-out, or refresh it if ``user`` already holds it.

        A stale lock of somebody else is taken over.

        Returns:
            The new lock, and the stale lock that was taken over (or None).

        Raises:
            LockHeldError: somebody else holds a live lock.
        """
        user = user or current_user()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            info = _new_info(user, reason)
            if fsutil.create_exclusive(self.path, fsutil.dump_json(info.to_record())):
                return info, None
            held = self.status()
            if held is None:
                continue
            if held.user == user and not held.damaged:
                refreshed = LockInfo(**{**held.to_record(), "heartbeat": time.time(),
                                        "host": info.host, "pid": info.pid})
                fsutil.atomic_write_json(self.path, refreshed.to_record())
                return refreshed, None
            if self.is_stale(held):
                taken = _take_aside(self.path, self._aside_path(), self.is_stale)
                if taken is not None and fsutil.create_exclusive(
                    self.path, fsutil.dump_json(info.to_record())
                ):
                    return info, taken
                continue
            raise LockHeldError(
                f"Item is checked out by {held.describe()}; ask them to release it, or steal it "
                "with 'openpipeline lock steal'."
            )
        raise BusyError("Could not take the lock after 20 tries; try again.")

    def refresh(self, user: str | None = None) -> LockInfo:
        """Renew the heartbeat of ``user``'s own check-out; never takes a lock.

        Unlike :meth:`acquire`, a lock that was released or stolen meanwhile is
        not taken again: a keep-alive timer must not win back what somebody took.

        Raises:
            UserError: nobody holds the check-out any more.
            LockHeldError: somebody else holds it (it was stolen).

        Cost: one small read and one atomic write.
        """
        user = user or current_user()
        held = self.status()
        if held is None:
            raise UserError("Item is no longer checked out; check it out again to keep it.")
        if held.user != user or held.damaged:
            raise LockHeldError(
                f"Item is now checked out by {held.describe()}, not by {user}; "
                "ask them for it or steal it with 'openpipeline lock steal'."
            )
        refreshed = LockInfo(**{**held.to_record(), "heartbeat": time.time()})
        fsutil.atomic_write_json(self.path, refreshed.to_record())
        return refreshed

    def release(self, user: str | None = None) -> LockInfo:
        """Give the check-out back.

        Raises:
            UserError: nobody holds it, or somebody else does.
        """
        user = user or current_user()
        held = self.status()
        if held is None:
            raise UserError("Item is not checked out; there is nothing to release.")
        if held.user != user:
            raise LockHeldError(
                f"Item is checked out by {held.describe()}, not by {user}; "
                "use 'openpipeline lock steal' to take it."
            )
        taken = self._move_aside()
        if taken is None:
            raise BusyError("The lock changed while releasing it; check 'lock status' and retry.")
        return held

    def steal(self, user: str | None = None, reason: str = "") -> tuple[LockInfo, LockInfo | None]:
        """Take the check-out from whoever holds it.

        Returns:
            The new lock and the one that was taken (None if it was free).
        """
        user = user or current_user()
        taken = self._move_aside()
        info = _new_info(user, reason)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not fsutil.create_exclusive(self.path, fsutil.dump_json(info.to_record())):
            holder = self.status()
            raise BusyError(
                f"Somebody took the lock at the same moment ({holder.describe() if holder else '?'}); "
                "check 'lock status' and retry."
            )
        return info, taken

    def _aside_path(self) -> Path:
        return self.path.parent / "released" / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"

    def _move_aside(self) -> LockInfo | None:
        """Atomically move the lock file into ``released/``; None if it was gone."""
        aside = self._aside_path()
        aside.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.path.rename(aside)
        except FileNotFoundError:
            return None
        return _read(aside, named=self.path)


class Mutex:
    """A short exclusive section guarded by a lock file."""

    FOREIGN_STALE_SECONDS = 600.0

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what

    def _stale(self, info: LockInfo) -> bool:
        if info.host == current_host():
            return not fsutil.pid_alive(info.pid)
        return info.age() > self.FOREIGN_STALE_SECONDS

    @contextmanager
    def held(self, wait_seconds: float = 10.0) -> Iterator[None]:
        """Hold the mutex for the ``with`` block, waiting a little if it is busy."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait_seconds
        delay = 0.005
        while True:
            info = _new_info(None)
            if fsutil.create_exclusive(self.path, fsutil.dump_json(info.to_record())):
                break
            held = _read(self.path)
            if held is not None and self._stale(held):
                stale = self.path.with_name(f".{self.path.name}.stale-{uuid.uuid4().hex[:8]}")
                if _take_aside(self.path, stale, self._stale) is not None:
                    fsutil.unlink_quietly(stale)
                continue
            if time.monotonic() > deadline:
                who = held.describe() if held else "another process"
                raise BusyError(f"{self.what} is in progress by {who}; try again in a moment.")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        try:
            yield
        finally:
            fsutil.unlink_quietly(self.path)
