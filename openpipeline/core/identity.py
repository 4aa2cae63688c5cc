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
