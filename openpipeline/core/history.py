"""Per-item event history: one small JSON file per event.

Concurrent writers never touch the same file, so no writer can corrupt another's
record, and each record appears whole (written to a temporary name, then
linked into place). Each event carries a sequence number (``seq``), claimed
exclusively when it is written, like a version number (an empty file in the
item's ``.op/claims/event`` folder), so the history is in the order the events
were written whatever the clocks of the hosts that wrote them say. Events
written before sequences existed have none; they come first, in the order of
their file names (which start with the time in nanoseconds). A damaged event
file is skipped with a warning that names it. What a record holds is in
:mod:`openpipeline.core.events`.

Events: ``created``, ``workshop``, ``master``, ``archive``, ``retrieve``,
``delete``, ``restore``, ``rename``, ``describe``, ``preview``, ``lock``,
``unlock``, ``steal``.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import replace
from pathlib import Path

from openpipeline.core import fsutil
from openpipeline.core.claims import claim_number
from openpipeline.core.errors import MetadataError, warn_once
from openpipeline.core.events import (
    EVENTS,
    SCHEMA,
    EventData,
    HistoryEvent,
    PayloadT,
    parse_event,
)
from openpipeline.core.identity import current_host, current_user, now_iso
from openpipeline.core.layout import CLAIMS_FOLDER

HISTORY_FOLDER = "history"
SEQUENCE_CLAIMS = os.path.join(CLAIMS_FOLDER, "event")  # beside the workshop and version claims


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

    A record without a sequence number gets the item's next one, claimed by
    exclusive creation (and given back if the event cannot be written); a record
    whose file is already there (a journal writing it again after a crash) is left
    as it is.

    Cost: one directory listing of the claims, one empty file, one small file
    write with fsync.
    """
    folder = meta_dir / HISTORY_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / record.file
    if path.exists():
        return path
    claimed = None
    if record.seq is None:
        claimed = claim_number(meta_dir / SEQUENCE_CLAIMS)
        record = replace(record, seq=claimed)
    written = False
    try:
        written = fsutil.create_exclusive(path, fsutil.dump_json(record.to_dict()))
    finally:
        if claimed is not None and not written:  # not ours on disk: give the number back
            fsutil.unlink_quietly(meta_dir / SEQUENCE_CLAIMS / str(claimed))
    return path


def remove_event(meta_dir: Path, file: str) -> None:
    """Take back an event this process wrote (a rolled-back operation), with its sequence claim."""
    path = meta_dir / HISTORY_FOLDER / file
    try:
        seq = fsutil.read_json(path).get("seq")
    except (OSError, MetadataError, AttributeError):
        seq = None
    fsutil.unlink_quietly(path)
    if isinstance(seq, int) and not isinstance(seq, bool):
        fsutil.unlink_quietly(meta_dir / SEQUENCE_CLAIMS / str(seq))


def _order(named: tuple[str, HistoryEvent[EventData]]) -> tuple[int, int, str]:
    """Events without a sequence first, by file name (time); then by sequence."""
    name, event = named
    return (0, 0, name) if event.seq is None else (1, event.seq, name)


def _read_one(path: str) -> HistoryEvent[EventData] | None:
    """One event file, or None (with a warning naming it) if it is damaged."""
    try:
        raw = fsutil.read_json(path)
        if not isinstance(raw, dict):
            raise MetadataError(f"Metadata file '{path}' is damaged (it holds no JSON object).")
        return parse_event(raw, path)
    except MetadataError as exc:
        warn_once(path, f"{exc} The event was skipped; repair or move the file.")
    except FileNotFoundError:
        pass  # moved away (renamed, deleted) since the listing
    except OSError as exc:
        warn_once(path, f"History file '{path}' cannot be read ({exc.strerror}); it was skipped.")
    return None


def read_events(meta_dir: Path) -> list[HistoryEvent[EventData]]:
    """All events of an item, oldest first (by sequence; see the module's notes).

    A damaged file (not JSON, not an object, a field missing or of the wrong
    type) is skipped with one warning that names it; reading never fails on one.

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
    named = [(name, event) for name in names
             if (event := _read_one(os.path.join(folder, name))) is not None]
    return [event for _, event in sorted(named, key=_order)]
