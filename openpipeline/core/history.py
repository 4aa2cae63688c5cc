"""Per-item event history: one small JSON file per event.

Concurrent writers never touch the same file, so no writer can corrupt another's
record, and each record appears whole (written to a temporary name, then
linked into place). File names start with the time in nanoseconds, so a sorted
listing is the history in order.

Events: ``created``, ``workshop``, ``master``, ``archive``, ``retrieve``,
``delete``, ``restore``, ``rename``, ``describe``, ``preview``, ``lock``,
``unlock``, ``steal``.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from openpipeline.core import fsutil
from openpipeline.core.identity import current_host, current_user, now_iso

HISTORY_FOLDER = "history"
SCHEMA = 1

EVENTS = (
    "created",
    "workshop",
    "master",
    "archive",
    "retrieve",
    "delete",
    "restore",
    "rename",
    "describe",
    "preview",
    "lock",
    "unlock",
    "steal",
)


def new_event(
    event: str,
    item: str,
    *,
    author: str | None = None,
    version: int | None = None,
    comment: str = "",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Make an event record (not yet written).

    The record carries its own file name under ``"file"`` so that a journal can
    write it again after a crash without making a duplicate.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    event_id = uuid.uuid4().hex
    return {
        "schema": SCHEMA,
        "id": event_id,
        "event": event,
        "item": item,
        "time": now_iso(),
        "author": author or current_user(),
        "host": current_host(),
        "pid": os.getpid(),
        "version": version,
        "comment": comment,
        "data": data or {},
        "file": f"{time.time_ns():020d}-{event}-{event_id[:12]}.json",
    }


def write_event(meta_dir: Path, record: dict[str, Any]) -> Path:
    """Write an event record into ``meta_dir/history``; idempotent by file name.

    Cost: one small file write with fsync.
    """
    folder = meta_dir / HISTORY_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / str(record["file"])
    fsutil.create_exclusive(path, fsutil.dump_json(record))
    return path


def read_events(meta_dir: Path) -> list[dict[str, Any]]:
    """All events of an item, oldest first.

    Cost: one directory listing plus one small read per event.
    """
    folder = meta_dir / HISTORY_FOLDER
    try:
        names = sorted(
            entry.name
            for entry in os.scandir(folder)
            if entry.name.endswith(".json") and not fsutil.is_temp_name(entry.name)
        )
    except FileNotFoundError:
        return []
    events = []
    for name in names:
        record = fsutil.read_json(folder / name)
        if isinstance(record, dict):
            events.append(record)
    return events
