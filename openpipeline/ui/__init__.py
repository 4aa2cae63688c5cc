"""The Qt browser window (through Qt.py, so PySide2 and PySide6 both work).

Imports Qt only as ``from Qt import QtCore, QtGui, QtWidgets``; never Maya (the Maya
dock, :mod:`.maya_dock`, imports it inside its functions). :mod:`.snapshot` is plain
Python; the other modules need Qt. Importing this package needs no Qt.

One binding defect is handled here, before any Qt module is imported: shiboken6 6.12
(the ``abi3`` wheels of PySide6 6.12) gives back a reference to ``None`` it never took on
every Qt call that returns nothing (and, on some paths, to ``True``/``False``), which is
harmless where those are immortal (Python 3.12+) but on Python 3.10/3.11 kills the
process ("deallocating None") after a few thousand calls. :func:`guard_none_refcount`
makes them practically immortal there, as Python 3.12 does.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import sys

IMMORTAL_REFS = 1 << 40


def _shiboken6_version() -> tuple[int, ...] | None:
    try:
        text = importlib.metadata.version("shiboken6")
    except importlib.metadata.PackageNotFoundError:
        return None
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def guard_none_refcount() -> bool:
    """Keep ``None`` alive under shiboken6 >= 6.12 on CPython < 3.12; True if it acted.

    Cost: one package-metadata look-up at import.
    """
    if (sys.version_info >= (3, 12) or sys.implementation.name != "cpython"
            or hasattr(sys, "gettotalrefcount")):  # a debug build lays objects out otherwise
        return False
    version = _shiboken6_version()
    if version is None or version < (6, 12):
        return False
    for constant in _immortal_in_312():
        refcount = ctypes.c_ssize_t.from_address(id(constant))
        if refcount.value < IMMORTAL_REFS:
            refcount.value += IMMORTAL_REFS
    return True


def _immortal_in_312() -> list[object]:
    """The objects Python 3.12 makes immortal that shiboken6 6.12 may release."""
    return [None, True, False, Ellipsis, NotImplemented, (), "", b"", *range(-5, 257)]


guard_none_refcount()
