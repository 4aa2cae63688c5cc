"""Handing a file or folder to the operating system (no DCC): ``open with OS``.

Used by the browser when it runs on its own (the no-DCC host): *open master* and
*open folder* show the file in whatever application the desktop associates with it.
"""

from __future__ import annotations

from pathlib import Path

from Qt import QtCore, QtGui

from openpipeline.core.errors import SourceFileError


def open_with_os(path: Path) -> None:
    """Ask the desktop to open ``path`` with its associated application.

    Raises:
        SourceFileError: the path does not exist, or the desktop refused it.
    """
    path = Path(path)
    if not path.exists():
        raise SourceFileError(f"'{path}' does not exist; refresh the browser and try again.")
    if not QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(path))):
        raise SourceFileError(
            f"The desktop has no application to open '{path.name}'; open it by hand from {path.parent}."
        )
