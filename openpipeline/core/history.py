"""Per-item event history: one small JSON file per event.

Concurrent writers never touch the same file, so no writer can corrupt another's
record, and each record appears whole (written to a temporary name, then
linked into place). File names start with the time in nanoseconds, so a sorted
listing is the history in order. What a record holds is in
:mod:`openpipeline.core.events`.

Events: ``created``, ``workshop``, ``master``, ``archive``, ``retrieve``,
``delete``, ``restore``, ``rename``, ``describe``, ``preview``, ``lock``,
``unlock``, ``steal``.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from openpipeline.core import fsutil
from openpipeline.core.events import (
    EVENTS,
    SCHEMA,
    EventData,
    HistoryEvent,
    PayloadT,
    parse_event,
)
from openpipeline.core.identity import current_host, current_user, now_iso

HISTORY_FOLDER = "history"


def new_event(
    item: str,
    data: PayloadT,
    *,
    author: str | None = None,
    version: int | None = None,
    comment: str = "",
) -> HistoryEvent[PayloadT]:
    """Make an event record (not yet written); its kind is the payload's.

    The record carries its own file name (``file``) so that a journal can write
    it again after a crash without making a duplicate.
    """
    kind = data.KIND
    if kind not in EVENTS:
        raise ValueError(f"unknown event {kind!r}")
    event_id = uuid.uuid4().hex
    return HistoryEvent(
        schema=SCHEMA,
        id=event_id,
        event=kind,
        item=item,
        time=now_iso(),
        author=author or current_user(),
        host=current_host(),
        pid=os.getpid(),
        version=version,
        comment=comment,
        data=data,
        file=f"{time.time_ns():020d}-{kind}-{event_id[:12]}.json",
    )


def write_event(meta_dir: Path, record: HistoryEvent[EventData]) -> Path:
    """Write an event record into ``meta_dir/history``; idempotent by file name.

    Cost: one small file write with fsync.
    """
    folder = meta_dir / HISTORY_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / record.file
    fsutil.create_exclusive(path, fsutil.dump_json(record.to_dict()))
    return path


def read_events(meta_dir: Path) -> list[HistoryEvent[EventData]]:
    """All events of an item, oldest first.

    A file that holds JSON but not an object is skipped, as it always was.

    Raises:
        MetadataError: an event file is damaged (it is named).

    Cost: one directory listing plus one small read per event.
    """
    folder = os.path.join(meta_dir, HISTORY_FOLDER)  # plain strings: the loop reads many files
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
        path = os.path.join(folder, name)
        raw = fsutil.read_json(path)
        if isinstance(raw, dict):
            events.append(parse_event(raw, path))
    return events
