"""The Qt browser window (through Qt.py, so PySide2 and PySide6 both work).

Imports Qt only as ``from Qt import QtCore, QtGui, QtWidgets``; never Maya (the Maya
dock, :mod:`.maya_dock`, imports it inside its functions). :mod:`.snapshot` is plain
Python; the other modules need Qt. Importing this package needs no Qt.

PySide6 is pinned to 6.11.3 (``pyproject.toml``): shiboken6 6.12's ``abi3`` wheels give
back a reference to ``None`` they never took on every Qt call that returns nothing, which
kills a Python 3.10/3.11 process ("deallocating None") after a few thousand calls.
"""
