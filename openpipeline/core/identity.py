"""Who and where: the author of events and the holder of locks."""

from __future__ import annotations

import datetime as _dt
import getpass
import os
import socket

USER_ENV = "OPENPIPELINE_USER"


def current_user() -> str:
    """The artist's name: ``OPENPIPELINE_USER`` if set, else the login name."""
    name = os.environ.get(USER_ENV, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def current_host() -> str:
    """This machine's host name."""
    return socket.gethostname() or "unknown"


def now_iso() -> str:
    """The current time in UTC, ISO 8601 with microseconds."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


def parse_iso(text: str) -> _dt.datetime:
    """Parse a time written by :func:`now_iso`."""
    return _dt.datetime.fromisoformat(text)


def short_time(stamp: object) -> str:
    """An ISO time stamp as people read it, ``YYYY-MM-DD HH:MM:SS`` (empty for None).

    >>> short_time("2026-11-28T17:41:00.123456+00:00")
    '2026-11-28 17:41:00'
    """
    if stamp is None:
        return ""
    return str(stamp)[:19].replace("T", " ")
